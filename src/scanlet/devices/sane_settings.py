"""Apply Scanlet scan settings to an open SANE device, in the order SANE needs.

Order matters: the source first (it can reload every other option), then mode and depth,
resolution, the scan area (top-left reset before bottom-right so the backend never sees an
inverted rectangle), brightness/contrast, and finally the caller's raw options by name, so
experts can override anything above.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from scanlet.devices.paper import paper_size
from scanlet.devices.sane_caps import choose_mode, choose_source
from scanlet.devices.sane_handle import SaneHandle
from scanlet.errors import InvalidSetting, UnsupportedSource
from scanlet.models import ColorMode, ScanSettings, Source

log = logging.getLogger(__name__)

_MM_PER_INCH = 25.4


@dataclass(frozen=True)
class AppliedSettings:
    """What the device was set to, as far as the pages are concerned."""

    source: Source
    mode: ColorMode
    bit_depth: int
    dpi: float


def apply_settings(handle: SaneHandle, settings: ScanSettings) -> AppliedSettings:
    """Set ``handle`` up for ``settings``; raise InvalidSetting/UnsupportedSource if it can't."""
    _source(handle, settings.source)
    depth = settings.effective_bit_depth()
    native_mode, native_depth = choose_mode(handle, settings.mode, depth)
    if native_mode is not None:
        handle.set("mode", native_mode)
    if native_depth is not None and handle.has_active("depth"):
        handle.set("depth", native_depth)
    dpi = _resolution(handle, settings.resolution)
    _area(handle, settings, dpi)
    for name in ("brightness", "contrast"):
        value = getattr(settings, name)
        if value is not None:
            if not handle.has_active(name):
                raise InvalidSetting(f"this device has no {name} control", field=name)
            option = handle.option(name)
            handle.set(name, round(value) if option and option.type == "int" else value)
    for name, value in settings.raw_options.items():
        handle.set(name, value)
    if settings.raw_options:
        dpi = _read_dpi(handle, dpi)
    return AppliedSettings(source=settings.source, mode=settings.mode, bit_depth=depth, dpi=dpi)


def _source(handle: SaneHandle, source: Source) -> None:
    try:
        native = choose_source(handle, source)
    except KeyError:
        option = handle.option("source")
        allowed = [str(v) for v in (option.choices() or [])] if option else []
        raise UnsupportedSource(f"{handle.native_name} has no {source.value} source",
                                field="source", allowed=allowed) from None
    if native is not None:
        handle.set("source", native)


def _resolution(handle: SaneHandle, resolution: int) -> float:
    names = [n for n in ("resolution", "x-resolution", "y-resolution") if handle.has_active(n)]
    if not names:
        return float(resolution)
    for name in names:
        if name == "resolution" or "resolution" not in names:
            handle.set(name, resolution)
    return _read_dpi(handle, float(resolution))


def _read_dpi(handle: SaneHandle, fallback: float) -> float:
    """The resolution the backend actually uses (it may round what it was given)."""
    for name in ("resolution", "x-resolution"):
        value = handle.get(name)
        if value is not None and float(value) > 0:
            return float(value)
    return fallback


def _area(handle: SaneHandle, settings: ScanSettings, dpi: float) -> None:
    ranges: dict[str, tuple[float, float, float]] = {}
    for name in ("tl-x", "tl-y", "br-x", "br-y"):
        option = handle.option(name)
        rng = option.range() if option is not None and option.active else None
        if rng is not None:
            ranges[name] = rng
    if len(ranges) < 4:
        if settings.area is not None or settings.paper_size is not None:
            field = "area" if settings.area is not None else "paper_size"
            raise InvalidSetting("this source scans a fixed area", field=field)
        return
    if settings.area is not None:
        a = settings.area
        box = (a.left, a.top, a.left + a.width, a.top + a.height)
    elif settings.paper_size is not None:
        size = paper_size(settings.paper_size)
        if size is None:
            raise InvalidSetting(f"unknown paper size {settings.paper_size!r}",
                                 field="paper_size")
        box = (0.0, 0.0, size[0], size[1])
    else:  # the whole bed, not whatever small default the backend starts with
        box = (-math.inf, -math.inf, math.inf, math.inf)

    def value(name: str, mm: float) -> float:
        option = handle.option(name)
        native = mm / _MM_PER_INCH * dpi if option is not None and option.unit == "pixel" \
            else mm
        low, high, _ = ranges[name]
        clamped = min(max(native, low), high)
        return float(round(clamped)) if option is not None and option.type == "int" else clamped

    left, top, right, bottom = box
    handle.set("tl-x", value("tl-x", 0.0))
    handle.set("tl-y", value("tl-y", 0.0))
    handle.set("br-x", value("br-x", right))
    handle.set("br-y", value("br-y", bottom))
    handle.set("tl-x", value("tl-x", left))
    handle.set("tl-y", value("tl-y", top))
