"""Normalize what a SANE backend offers into Scanlet's per-source capabilities.

SANE backends name things freely: "Flatbed", "ADF Front", "Automatic Document Feeder",
"ADF Duplex"; "Color", "24bit Color[Fast]", "Gray", "Lineart", "Binary". This module holds the
naming rules (pure functions, unit-tested on names) and reads a device source by source,
because feeders often allow other resolutions, areas and modes than the flatbed. The same
rules choose the native values when a scan is set up (:func:`choose_source`,
:func:`choose_mode`), so what capabilities promise is what scans use.
"""

from __future__ import annotations

import logging
import math

from scanlet.devices.paper import sizes_that_fit
from scanlet.devices.sane_handle import SaneHandle
from scanlet.models import (
    Capabilities,
    ColorMode,
    NumericRange,
    ResolutionRange,
    Source,
    SourceCaps,
)

log = logging.getLogger(__name__)

#: Depths Scanlet can store per mode: colour pages are 8-bit RGB (Pillow has no 16-bit RGB),
#: grey pages 8 or 16 bits, black and white 1 bit.
_STORABLE_DEPTHS = {ColorMode.COLOR: (8,), ColorMode.GRAY: (8, 16), ColorMode.BW: (1,)}
_MM_PER_INCH = 25.4


def source_kind(native: str) -> Source | None:
    """The normalized source a SANE source name stands for, or None (film, back side...)."""
    name = native.strip().lower()
    if "duplex" in name:
        return Source.DUPLEX
    if any(word in name for word in ("transparen", "negative", "slide", "film", "tma")):
        return None
    if "back" in name:
        return None  # "ADF Back": rear side only; not a normal feeder scan
    if "flatbed" in name or name in ("normal", "platen", "document table", "glass"):
        return Source.FLATBED
    if "adf" in name or "feeder" in name or "automatic document" in name:
        return Source.FEEDER
    return None


def mode_kind(native: str) -> tuple[ColorMode, int] | None:
    """The normalized colour mode of a SANE mode name and its rank (lower is preferred)."""
    name = native.strip().lower()
    if "halftone" in name or "dither" in name:
        return ColorMode.BW, 2
    if any(word in name for word in ("lineart", "line art", "binary", "black & white",
                                     "black and white", "monochrome")) or name in ("bw", "b/w"):
        return ColorMode.BW, 0
    if "gray" in name or "grey" in name:
        return ColorMode.GRAY, 0
    if "color" in name or "colour" in name or name == "rgb":
        return ColorMode.COLOR, 0
    return None


def source_values(handle: SaneHandle) -> dict[Source, str]:
    """Native source names per normalized source, first match in backend order."""
    option = handle.option("source")
    choices = option.choices() if option is not None and option.active else None
    found: dict[Source, str] = {}
    for value in choices or []:
        kind = source_kind(str(value))
        if kind is not None and kind not in found:
            found[kind] = str(value)
    return found


def mode_values(handle: SaneHandle) -> dict[ColorMode, str]:
    """The preferred native mode name per normalized colour mode."""
    option = handle.option("mode")
    choices = option.choices() if option is not None and option.active else None
    best: dict[ColorMode, tuple[int, str]] = {}
    for value in choices or []:
        kind = mode_kind(str(value))
        if kind is not None and (kind[0] not in best or kind[1] < best[kind[0]][0]):
            best[kind[0]] = (kind[1], str(value))
    return {mode: native for mode, (_, native) in best.items()}


def choose_source(handle: SaneHandle, source: Source) -> str | None:
    """Native source value for ``source``; None when the device has no source option.

    Raises KeyError when the device has a source option but nothing matching ``source``.
    """
    if not handle.has_active("source"):
        if source != Source.FLATBED:
            raise KeyError(source)
        return None
    values = source_values(handle)
    if not values and source == Source.FLATBED:
        return None  # unrecognized names only: keep the device's default as "flatbed"
    return values[source]


def choose_mode(handle: SaneHandle, mode: ColorMode, depth: int) -> tuple[str | None, int | None]:
    """``(native mode, depth to set)`` for a normalized mode; None means leave it alone.

    Black and white falls back to grey at depth 1 on devices without a lineart mode (the SANE
    ``test`` backend). Without a mode option the device's output is converted in software.
    """
    natives = mode_values(handle)
    if not natives:
        return None, None
    if mode == ColorMode.BW and ColorMode.BW not in natives:
        return natives[ColorMode.GRAY], 1
    native = natives[mode]
    if mode == ColorMode.BW:
        return native, None
    return native, depth


def _depths(handle: SaneHandle) -> list[int] | None:
    """Bit depths the depth option offers right now, or None without an active one."""
    option = handle.option("depth")
    if option is None or not option.active:
        return None
    choices = option.choices()
    if choices is not None:
        return sorted({int(v) for v in choices})
    rng = option.range()
    if rng is not None:
        return [d for d in (1, 8, 16) if rng[0] <= d <= rng[1]]
    value = handle.get("depth")
    return [int(value)] if value is not None else None


def color_modes(handle: SaneHandle) -> dict[ColorMode, list[int]]:
    """Colour modes with their storable bit depths, probing each native mode in turn."""
    natives = mode_values(handle)
    if not natives:
        # No mode option (e.g. pnm): the device delivers what it has; convert in software.
        return {ColorMode.COLOR: [8], ColorMode.GRAY: [8], ColorMode.BW: [1]}
    modes: dict[ColorMode, list[int]] = {}
    grey_has_1bit = False
    for mode, native in natives.items():
        handle.set("mode", native)
        offered = _depths(handle)
        if mode == ColorMode.BW:
            modes[mode] = [1]
            continue
        if offered is None:
            modes[mode] = [8]
            continue
        if mode == ColorMode.GRAY and 1 in offered:
            grey_has_1bit = True
        storable = [d for d in offered if d in _STORABLE_DEPTHS[mode]]
        modes[mode] = storable or [8]
    if ColorMode.BW not in modes and grey_has_1bit:
        modes[ColorMode.BW] = [1]
    order = (ColorMode.COLOR, ColorMode.GRAY, ColorMode.BW)
    return {mode: modes[mode] for mode in order if mode in modes}


def _resolution_option(handle: SaneHandle) -> str | None:
    for name in ("resolution", "x-resolution"):
        if handle.has_active(name):
            return name
    return None


def resolutions(handle: SaneHandle) -> tuple[list[int], ResolutionRange | None]:
    """Discrete resolutions, or a range, of the current source."""
    name = _resolution_option(handle)
    option = handle.option(name) if name else None
    if option is None:
        return [], None
    choices = option.choices()
    if choices is not None:
        return sorted({round(float(v)) for v in choices if float(v) > 0}), None
    rng = option.range()
    if rng is not None:
        step = max(1, round(rng[2]))
        return [], ResolutionRange(min=max(1, math.ceil(rng[0])), max=math.floor(rng[1]),
                                   step=step)
    return [], None


def _mm(handle: SaneHandle, name: str, value: float) -> float:
    option = handle.option(name)
    if option is not None and option.unit == "pixel":
        dpi = handle.get(_resolution_option(handle) or "resolution") or 0
        return value / float(dpi) * _MM_PER_INCH if dpi else 0.0
    return value


def area_limits(handle: SaneHandle) -> tuple[float, float]:
    """Largest scannable width and height in mm; (0, 0) when the area cannot be chosen."""
    limits = []
    for tl, br in (("tl-x", "br-x"), ("tl-y", "br-y")):
        br_opt, tl_opt = handle.option(br), handle.option(tl)
        br_range = br_opt.range() if br_opt is not None and br_opt.active else None
        if br_range is None:
            return 0.0, 0.0
        tl_range = tl_opt.range() if tl_opt is not None and tl_opt.active else None
        origin = tl_range[0] if tl_range is not None else br_range[0]
        limits.append(_mm(handle, br, br_range[1]) - _mm(handle, tl, origin))
    return round(limits[0], 2), round(limits[1], 2)


def numeric_range(handle: SaneHandle, name: str) -> NumericRange | None:
    """Range of a brightness/contrast style option, if it has one and is active."""
    option = handle.option(name)
    if option is None or not option.active or not option.settable:
        return None
    rng = option.range()
    if rng is None:
        return None
    return NumericRange(min=rng[0], max=rng[1], step=rng[2])


def source_caps(handle: SaneHandle, source: Source, native: str) -> SourceCaps:
    """Capabilities of the source currently selected on ``handle``."""
    modes = color_modes(handle)
    listed, rng = resolutions(handle)
    width, height = area_limits(handle)
    return SourceCaps(
        source=source, native_name=native, color_modes=modes, resolutions=listed,
        resolution_range=rng, max_width_mm=width, max_height_mm=height,
        paper_sizes=sizes_that_fit(width, height) if width > 0 and height > 0 else [],
        brightness=numeric_range(handle, "brightness"),
        contrast=numeric_range(handle, "contrast"),
    )


def build_capabilities(handle: SaneHandle, device_id: str) -> Capabilities:
    """Read every recognized source of a freshly opened device (changes its options)."""
    raw = handle.raw_options()  # the device's defaults, before we switch anything
    sources: list[SourceCaps] = []
    for kind, native in source_values(handle).items():
        handle.set("source", native)
        sources.append(source_caps(handle, kind, native))
    if not sources:
        current = handle.get("source")
        sources.append(source_caps(handle, Source.FLATBED, str(current or "Flatbed")))
    log.debug("capabilities of %s: %s", device_id, [s.source.value for s in sources])
    return Capabilities(device_id=device_id, sources=sources, raw_options=raw)
