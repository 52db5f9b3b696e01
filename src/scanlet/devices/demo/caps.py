"""What the demo device is and offers: its Device entry and its Capabilities.

One device, ``demo:scanner`` ("Scanlet Demo Scanner"), with a flatbed, a feeder and a duplex
feeder, each as wide as Letter and as long as A4 (so A4, Letter and the smaller sizes fit),
colour and grey at 8 bits, grey at 16 bits, black and white, usual resolutions up to 600 dpi,
brightness and contrast, and the demo options of options.py.
"""

from __future__ import annotations

from scanlet.devices.demo.options import raw_options
from scanlet.devices.paper import sizes_that_fit
from scanlet.models import Capabilities, ColorMode, Device, NumericRange, Source, SourceCaps

DRIVER_NAME = "demo"
DEVICE_ID = "demo:scanner"
BED_MM = (215.9, 297.0)
RESOLUTIONS = [75, 100, 150, 200, 300, 400, 600]
COLOR_MODES = {ColorMode.COLOR: [8], ColorMode.GRAY: [8, 16], ColorMode.BW: [1]}
#: Normalized source -> the name the demo device gives it (as a SANE backend would).
SOURCES = {Source.FLATBED: "Flatbed", Source.FEEDER: "ADF Front", Source.DUPLEX: "ADF Duplex"}

DEVICE = Device(id=DEVICE_ID, driver=DRIVER_NAME, name="scanner", vendor="Scanlet",
                model="Demo Scanner", type="flatbed scanner with duplex document feeder",
                label="Scanlet Demo Scanner")


def capabilities() -> Capabilities:
    """The demo device's capabilities (a fresh object: callers may keep or change it)."""
    tone = NumericRange(min=-100, max=100, step=1)
    sources = [
        SourceCaps(source=source, native_name=native,
                   color_modes={m: list(d) for m, d in COLOR_MODES.items()},
                   resolutions=list(RESOLUTIONS), max_width_mm=BED_MM[0],
                   max_height_mm=BED_MM[1], paper_sizes=sizes_that_fit(*BED_MM),
                   brightness=tone, contrast=tone)
        for source, native in SOURCES.items()
    ]
    return Capabilities(device_id=DEVICE_ID, sources=sources, raw_options=raw_options())
