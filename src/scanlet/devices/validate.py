"""Check scan settings against a device's capabilities before any scan starts.

A pure function: no device, no I/O. The manager calls it with cached capabilities so a bad
request fails fast with a precise :class:`~scanlet.errors.InvalidSetting` (``detail.field``
names the setting, ``detail.allowed`` says what would have been accepted) instead of a vague
driver error halfway through a feeder batch.
"""

from __future__ import annotations

from typing import Any

from scanlet.devices.paper import PAPER_SIZES, canonical_name, fits, paper_size
from scanlet.errors import InvalidSetting, UnsupportedSource
from scanlet.models import (
    Capabilities,
    Compression,
    NumericRange,
    RawOption,
    ScanSettings,
    SourceCaps,
)

#: Raw option types that carry a value a request may set.
_VALUE_TYPES = ("bool", "int", "fixed", "string")


def option_key(name: str) -> str:
    """Canonical spelling of a driver option name: SANE's dashes (``br_x`` -> ``br-x``)."""
    return name.strip().replace("_", "-")


def validate_settings(settings: ScanSettings, caps: Capabilities) -> SourceCaps:
    """Return the capabilities of the source ``settings`` asks for, or raise.

    Raises :class:`UnsupportedSource` (field ``source``) or :class:`InvalidSetting` with field
    ``mode``, ``bit_depth``, ``resolution``, ``area``, ``paper_size``, ``brightness``,
    ``contrast``, ``pages``, ``compression`` or ``raw_options``.
    """
    source = _source(settings, caps)
    _mode_and_depth(settings, source)
    _resolution(settings.resolution, source)
    _geometry(settings, source)
    _ranged("brightness", settings.brightness, source.brightness)
    _ranged("contrast", settings.contrast, source.contrast)
    if isinstance(settings.pages, int) and settings.pages < 1:
        raise InvalidSetting("pages must be at least 1, or 'all'", field="pages",
                             allowed={"min": 1})
    _raw_options(settings.raw_options, caps.raw_options)
    return source


def _source(settings: ScanSettings, caps: Capabilities) -> SourceCaps:
    for source in caps.sources:
        if source.source == settings.source:
            return source
    allowed = [s.source.value for s in caps.sources]
    raise UnsupportedSource(
        f"{caps.device_id} has no {settings.source.value} source; it has {', '.join(allowed)}",
        field="source", allowed=allowed,
    )


def _mode_and_depth(settings: ScanSettings, source: SourceCaps) -> None:
    depths = source.color_modes.get(settings.mode)
    if depths is None:
        allowed_modes = [m.value for m in source.color_modes]
        raise InvalidSetting(
            f"the {source.source.value} source cannot scan in {settings.mode.value}; "
            f"choose one of {', '.join(allowed_modes)}",
            field="mode", allowed=allowed_modes,
        )
    depth = settings.effective_bit_depth()
    if depth not in depths:
        raise InvalidSetting(
            f"{settings.mode.value} scans support bit depths {depths}, not {depth}",
            field="bit_depth", allowed=depths,
        )
    if depth > 8 and settings.compression == Compression.JPEG:
        raise InvalidSetting(
            f"JPEG holds 8 bits per sample; a {depth}-bit scan needs compression "
            "'lossless' or 'auto'",
            field="compression", allowed=[Compression.AUTO.value, Compression.LOSSLESS.value],
        )


def _resolution(resolution: int, source: SourceCaps) -> None:
    if resolution in source.resolutions:
        return
    rng = source.resolution_range
    if rng is not None and rng.min <= resolution <= rng.max:
        step = max(rng.step, 1)
        if (resolution - rng.min) % step == 0:
            return
    if not source.resolutions and rng is None:
        return  # the driver does not say; let it decide
    allowed: list[int] | dict[str, int]
    if source.resolutions:
        allowed = source.resolutions
    else:
        assert rng is not None
        allowed = {"min": rng.min, "max": rng.max, "step": rng.step}
    raise InvalidSetting(
        f"{resolution} dpi is not available on the {source.source.value} source",
        field="resolution", allowed=allowed,
    )


def _geometry(settings: ScanSettings, source: SourceCaps) -> None:
    limits = {"max_width_mm": source.max_width_mm, "max_height_mm": source.max_height_mm}
    fixed = source.max_width_mm <= 0 or source.max_height_mm <= 0
    if settings.area is not None:
        area = settings.area
        if fixed:
            raise InvalidSetting("this source scans a fixed area; remove 'area'",
                                 field="area", allowed=None)
        if not fits(area.left + area.width, area.top + area.height,
                    source.max_width_mm, source.max_height_mm):
            raise InvalidSetting(
                f"the area reaches {area.left + area.width:g} x {area.top + area.height:g} mm "
                f"but the {source.source.value} source scans at most "
                f"{source.max_width_mm:g} x {source.max_height_mm:g} mm",
                field="area", allowed=limits,
            )
        return
    if settings.paper_size is None:
        return
    size = paper_size(settings.paper_size)
    if size is None:
        raise InvalidSetting(f"unknown paper size {settings.paper_size!r}",
                             field="paper_size", allowed=list(PAPER_SIZES))
    if fixed or not fits(size[0], size[1], source.max_width_mm, source.max_height_mm):
        name = canonical_name(settings.paper_size)
        raise InvalidSetting(
            f"{name} ({size[0]:g} x {size[1]:g} mm) does not fit the "
            f"{source.source.value} source"
            + ("" if fixed else f" ({source.max_width_mm:g} x {source.max_height_mm:g} mm)"),
            field="paper_size", allowed=source.paper_sizes,
        )


def _ranged(field: str, value: float | None, limits: NumericRange | None) -> None:
    if value is None:
        return
    if limits is None:
        raise InvalidSetting(f"this source has no {field} control", field=field, allowed=None)
    if not limits.min <= value <= limits.max:
        raise InvalidSetting(
            f"{field} {value:g} is outside {limits.min:g}..{limits.max:g}",
            field=field, allowed={"min": limits.min, "max": limits.max},
        )


def _raw_options(requested: dict[str, Any], options: list[RawOption]) -> None:
    by_key = {option_key(o.name): o for o in options if o.name}
    settable = sorted(k for k, o in by_key.items() if o.settable and o.type in _VALUE_TYPES)
    for name in requested:
        option = by_key.get(option_key(name))
        if option is None:
            raise InvalidSetting(f"the device has no option {name!r}",
                                 field="raw_options", allowed=settable)
        if not option.settable or option.type not in _VALUE_TYPES:
            raise InvalidSetting(f"option {name!r} cannot be set by software",
                                 field="raw_options", allowed=settable)

