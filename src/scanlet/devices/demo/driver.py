"""The demo scanner driver: pure Python, no hardware (registry name ``demo``).

It implements :class:`~scanlet.devices.driver.Driver` like a real device: settings are checked
against its capabilities before anything moves (InvalidSetting), the flatbed delivers its one
sheet (as often as the page limit asks, like a flatbed scanned again), the feeder delivers the
stack until it runs empty, the duplex feeder each sheet's front then back. Each page is
rendered for the requested window, resolution and mode (render.py), then read into a raw
frame in bands, reporting progress and checking for a cancel between bands. Faults are
provoked through ``raw_options`` (options.py). It keeps no native state, so it can run in the
service process (``isolated=False`` in the registry).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from scanlet.devices.demo.caps import BED_MM, DEVICE, DEVICE_ID, DRIVER_NAME, capabilities
from scanlet.devices.demo.options import DemoOptions, parse_options
from scanlet.devices.demo.render import FrameWriter, Window, layout_of, render_side
from scanlet.devices.demo.sheets import SHEET_MM, Side
from scanlet.devices.demo.stack import SHEETS
from scanlet.devices.driver import PageSink, ProgressSink
from scanlet.devices.encode import RawPage
from scanlet.devices.paper import paper_size
from scanlet.devices.validate import validate_settings
from scanlet.errors import (
    CoverOpen,
    DeviceNotFound,
    DoubleFeed,
    DriverError,
    FeederEmpty,
    PaperJam,
    ScanCancelled,
)
from scanlet.models import Capabilities, Device, ScanSettings, Source

log = logging.getLogger(__name__)

#: Bands a page is read in: progress reports and cancel checks per page.
BANDS = 16
#: Longest single wait while a page "takes time" (page_delay_ms), so a cancel is seen soon.
_WAIT_SLICE = 0.05


class DemoDriver:
    """The demo device's driver; see the module docstring."""

    name = DRIVER_NAME

    def __init__(self, **_options: object) -> None:
        self._stop = threading.Event()
        self._closed = False

    def list_devices(self) -> list[Device]:
        self._check_open()
        return [DEVICE.model_copy()]

    def capabilities(self, device_id: str) -> Capabilities:
        self._check_open()
        if device_id != DEVICE_ID:
            raise DeviceNotFound(f"no demo device {device_id!r}", device=device_id)
        return capabilities()

    def scan(self, settings: ScanSettings, pages: PageSink, cancelled: threading.Event,
             progress: ProgressSink | None = None) -> int:
        self._check_open()
        self._stop.clear()
        validate_settings(settings, self.capabilities(settings.device))
        options = parse_options(settings.raw_options, settings.source)
        window = scan_window(settings)
        layout, _ = layout_of(settings.mode, settings.effective_bit_depth())
        if options.fault == "feeder-empty":
            raise FeederEmpty("the demo feeder is empty (fault 'feeder-empty')",
                              device=settings.device)
        handed = 0
        for index, side in enumerate(_sides(settings, options)):
            pages.wait_for_room()
            self._check_cancel(settings, pages, cancelled)
            number = index + 1
            if options.fault == "cover-open" and number == options.fault_page:
                raise CoverOpen(f"the demo scanner's cover is open (fault 'cover-open' at page "
                                f"{number})", device=settings.device, page=number)
            if options.fault == "double-feed" and number == options.fault_page:
                raise DoubleFeed(f"the demo feeder took two sheets at page {number} (fault "
                                 "'double-feed')", device=settings.device, page=number)
            image = render_side(side, window, settings.resolution, settings.mode,
                                brightness=settings.brightness, contrast=settings.contrast)
            try:
                writer = FrameWriter(image, layout)
                self._read(writer, index, settings, options, pages, cancelled, progress)
            finally:
                image.close()
            pages.frame(RawPage(data=writer.data, layout=layout, width=image.width,
                                height=image.height, stride=writer.stride, mode=settings.mode,
                                bit_depth=settings.effective_bit_depth(),
                                dpi=float(settings.resolution), source=settings.source))
            handed += 1
        log.debug("demo scan of %s: %d pages", settings.source.value, handed)
        return handed

    def cancel(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._closed = True
        self._stop.set()

    # -- internals ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise DriverError("the demo driver is closed", driver=DRIVER_NAME)

    def _check_cancel(self, settings: ScanSettings, pages: PageSink,
                      cancelled: threading.Event) -> None:
        if cancelled.is_set() or self._stop.is_set():
            raise ScanCancelled(device=settings.device, pages=pages.emitted)

    def _read(self, writer: FrameWriter, index: int, settings: ScanSettings,
              options: DemoOptions, pages: PageSink, cancelled: threading.Event,
              progress: ProgressSink | None) -> None:
        """Read the rendered page into its frame band by band, like a device transfer."""
        height = writer.image.height
        band = max(1, -(-height // BANDS))
        jam = options.fault == "jam" and index + 1 == options.fault_page
        delay = options.page_delay_ms / 1000 / BANDS
        while writer.lines < height:
            self._check_cancel(settings, pages, cancelled)
            if jam and writer.lines >= height // 2:
                raise PaperJam(f"paper jam in the demo feeder at page {index + 1} (fault "
                               "'jam')", device=settings.device, page=index + 1)
            lines = writer.write(band)
            if delay:
                self._wait(delay, cancelled)
            if progress is not None:
                try:
                    progress(index, lines, height)
                except Exception:  # a liveness signal: its failure must not fail the scan
                    log.exception("progress callback failed")

    def _wait(self, seconds: float, cancelled: threading.Event) -> None:
        """Sleep ``seconds``, waking early for a cancel."""
        left = seconds
        while left > 0 and not (cancelled.is_set() or self._stop.is_set()):
            step = min(left, _WAIT_SLICE)
            self._stop.wait(step)
            left -= step


def scan_window(settings: ScanSettings) -> Window:
    """The part of the bed a scan reads: the area asked for, else the paper size, else A4
    (the sheets' size), clamped to the bed."""
    if settings.area is not None:
        a = settings.area
        left, top, width, height = a.left, a.top, a.width, a.height
    else:
        size = paper_size(settings.paper_size) if settings.paper_size else None
        width, height = size if size is not None else SHEET_MM
        left = top = 0.0
    left, top = min(left, BED_MM[0] - 1), min(top, BED_MM[1] - 1)
    return Window(left, top, min(width, BED_MM[0] - left), min(height, BED_MM[1] - top))


def _sides(settings: ScanSettings, options: DemoOptions) -> Iterator[Side]:
    """The sides the scan delivers, in order, up to the page limit."""
    limit = settings.page_limit()
    sheets = [SHEETS[name] for name in options.stack]
    if settings.source == Source.FLATBED:
        count = limit or 1  # a flatbed never runs out: "all" is the one sheet on it
        for _ in range(count):
            yield sheets[0].front
        return
    delivered = 0
    for sheet in sheets:
        sides = (sheet.front, sheet.back) if settings.source == Source.DUPLEX else (sheet.front,)
        for side in sides:
            if limit is not None and delivered >= limit:
                return
            yield side
            delivered += 1
