"""A reference scan job's ``settings``, ``caps`` and ``config`` as a Scanlet JobRequest.

Applied in the reference's order: ``settings`` (Scanlet's own blob from
``scanner/settings``), then ``caps``, then ``config``; a later one wins. ``config`` is
checked strictly (a value Scanlet cannot honour is 400, code -2113). A capability Scanlet
does not support, or a value it cannot set, is skipped when its ``exception`` (or the
overall one) is ``ignore`` (the default) and 400 when it is ``fail``. The result is then
checked against the device by the same validation as ``/v1`` jobs.

Choices where SANE differs from TWAIN (docs/compat.md):

* ``IfFeederEnabled`` picks the feeder, ``IfDuplexEnabled`` the duplex source; a device
  without that source scans from what it has (the flatbed, or the simplex feeder).
* ``XferCount`` -1 (the default) scans until the feeder is empty, or one page on a flatbed.
* ``PageSize`` 0 (TWSS_NONE) scans the whole area; no size at all means A4 where it fits.
* Without ``Resolution`` Scanlet scans at 200 dpi (the value of the reference's examples),
  or the nearest the device offers.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from scanlet.compat import twain
from scanlet.errors import InvalidSetting
from scanlet.models import Area, Capabilities, ColorMode, JobRequest, Source, SourceCaps

DEFAULT_RESOLUTION = 200
SETTINGS_VERSION = 1
MAX_SETTINGS_CHARS = 4096


@dataclass
class Wanted:
    """What a client asked for, in TWAIN's terms, before the device is looked at."""

    feeder: bool | None = None
    duplex: bool | None = None
    mode: ColorMode | None = None
    bit_depth: int | None = None
    resolution: int | None = None
    pages: int | None = None  # -1: all
    paper_size: str | None = None  # "": the whole area (TWSS_NONE)
    brightness: float | None = None  # TWAIN levels, -1000..1000
    contrast: float | None = None
    skipped: list[int] = field(default_factory=list)  # capabilities ignored


def _bad(name: str, message: str) -> InvalidSetting:
    return InvalidSetting(f"{name}: {message}", field=name)


def _int(value: Any) -> int | None:
    """An integer from a JSON number (``2`` or ``2.0``); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _flag(value: Any) -> bool | None:
    """A TWAIN boolean: true/false, or 0/1."""
    if isinstance(value, bool):
        return value
    if _int(value) in (0, 1):
        return bool(value)
    return None


def _set(wanted: Wanted, cap: int, value: Any) -> str | None:
    """Apply one capability; an error message when the value cannot be honoured."""
    if cap == twain.ICAP_PIXELTYPE:
        number = _int(value)
        if number not in twain.PIXEL_TYPES:
            return "pixel type must be 0 (BW), 1 (GRAY) or 2 (RGB)"
        wanted.mode = twain.PIXEL_TYPES[number]
    elif cap in (twain.ICAP_XRESOLUTION, twain.ICAP_YRESOLUTION):
        dpi = _number(value)
        if dpi is None or dpi < 1:
            return "resolution must be a positive number"
        wanted.resolution = round(dpi)
    elif cap in (twain.CAP_FEEDERENABLED, twain.CAP_DUPLEXENABLED):
        flag = _flag(value)
        if flag is None:
            return "must be true or false"
        if cap == twain.CAP_FEEDERENABLED:
            wanted.feeder = flag
        else:
            wanted.duplex = flag
    elif cap == twain.CAP_XFERCOUNT:
        count = _int(value)
        if count is None or count == 0 or count < -1:
            return "transfer count must be -1 (all) or a positive number"
        wanted.pages = count
    elif cap == twain.ICAP_BITDEPTH:
        depth = _int(value)
        if depth is None or depth < 1:
            return "bit depth must be a positive integer"
        wanted.bit_depth = depth
    elif cap == twain.ICAP_SUPPORTEDSIZES:
        code = _int(value)
        if code != twain.TWSS_NONE and code not in twain.PAPER_SIZES:
            return f"paper size must be one of {[0, *twain.PAPER_SIZES]}"
        wanted.paper_size = "" if code == twain.TWSS_NONE else twain.PAPER_SIZES[code]
    elif cap in (twain.ICAP_BRIGHTNESS, twain.ICAP_CONTRAST):
        level = _number(value)
        if level is None or abs(level) > twain.TWAIN_LEVEL_RANGE:
            return "must be a number from -1000 to 1000"
        if cap == twain.ICAP_BRIGHTNESS:
            wanted.brightness = level
        else:
            wanted.contrast = level
    else:
        return "Scanlet does not support this capability"
    return None


def _policy(value: Any, where: str) -> str:
    if value is None:
        return "ignore"
    if value not in ("ignore", "fail"):
        raise _bad(where, "exception must be 'ignore' or 'fail'")
    return str(value)


def apply_caps(wanted: Wanted, caps: Any, device: Capabilities) -> None:
    """Apply a ``caps`` object: ``{exception, capabilities: [{capability, curValue}]}``."""
    if caps is None:
        return
    if not isinstance(caps, dict):
        raise _bad("caps", "must be an object {exception, capabilities}")
    overall = _policy(caps.get("exception"), "caps.exception")
    entries = caps.get("capabilities", [])
    if not isinstance(entries, list) or len(entries) > 256:
        raise _bad("caps.capabilities", "must be a list of {capability, curValue}")
    for number, entry in enumerate(entries):
        where = f"caps.capabilities[{number}]"
        if not isinstance(entry, dict) or _int(entry.get("capability")) is None:
            raise _bad(where, "must be an object {capability, curValue}")
        cap = int(entry["capability"])
        policy = _policy(entry.get("exception"), f"{where}.exception") \
            if "exception" in entry else overall
        problem = _set(wanted, cap, entry.get("curValue"))
        if problem is None and cap in (twain.ICAP_BRIGHTNESS, twain.ICAP_CONTRAST):
            attr = "brightness" if cap == twain.ICAP_BRIGHTNESS else "contrast"
            if all(getattr(s, attr) is None for s in device.sources):
                setattr(wanted, attr, None)
                problem = f"the device has no {attr} setting"
        if problem is not None:
            if policy == "fail":
                raise _bad(where, f"capability {cap} "
                           f"({twain.CAP_NAMES.get(cap, 'unknown')}): {problem}")
            wanted.skipped.append(cap)


def apply_config(wanted: Wanted, config: Any) -> None:
    """Apply a DeviceConfiguration (``config``); every value Scanlet reads is checked."""
    if config is None:
        return
    if not isinstance(config, dict):
        raise _bad("config", "must be a DeviceConfiguration object")
    if "PixelType" in config:
        number = _int(config["PixelType"])
        if number not in twain.PIXEL_TYPES:
            raise _bad("config.PixelType", "Scanlet scans 0 (BW), 1 (GRAY) or 2 (RGB)")
        wanted.mode = twain.PIXEL_TYPES[number]
    if "Resolution" in config:
        dpi = _number(config["Resolution"])
        if dpi is None or dpi < 1:
            raise _bad("config.Resolution", "must be a positive number of dpi")
        wanted.resolution = round(dpi)
    for name in ("IfFeederEnabled", "IfDuplexEnabled"):
        if name in config:
            flag = _flag(config[name])
            if flag is None:
                raise _bad(f"config.{name}", "must be true or false")
            setattr(wanted, "feeder" if name == "IfFeederEnabled" else "duplex", flag)
    if "XferCount" in config:
        count = _int(config["XferCount"])
        if count is None or count == 0 or count < -1:
            raise _bad("config.XferCount", "must be -1 (all pages) or a positive number")
        wanted.pages = count
    if "PageSize" in config:
        code = _int(config["PageSize"])
        if code != twain.TWSS_NONE and code not in twain.PAPER_SIZES:
            raise _bad("config.PageSize", f"Scanlet knows {[0, *twain.PAPER_SIZES]}")
        wanted.paper_size = "" if code == twain.TWSS_NONE else twain.PAPER_SIZES[code]


def apply_settings(wanted: Wanted, blob: Any) -> None:
    """Apply a settings blob from ``scanner/settings`` (Scanlet's own, base64 JSON)."""
    if blob is None or blob == "":
        return
    if not isinstance(blob, str) or len(blob) > MAX_SETTINGS_CHARS:
        raise _bad("settings", "must be the settings string from scanner/settings")
    try:
        data = json.loads(base64.b64decode(blob, validate=True))
    except (binascii.Error, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("scanlet") != SETTINGS_VERSION:
        raise _bad("settings", "is not a settings string of this service (TWAIN driver "
                   "settings cannot be used with SANE devices)")
    try:
        source = Source(data.get("source", "flatbed"))
        wanted.feeder = source in (Source.FEEDER, Source.DUPLEX)
        wanted.duplex = source == Source.DUPLEX
        wanted.mode = ColorMode(data["mode"]) if data.get("mode") else None
    except ValueError:
        raise _bad("settings", "names an unknown source or mode") from None
    for name in ("bit_depth", "resolution", "pages"):
        value = data.get(name)
        number = _int(value)
        if value is not None and (number is None or number == 0 or number < -1):
            raise _bad("settings", f"{name} is not a valid number")
        setattr(wanted, name, number)
    size = data.get("paper_size")
    if size is not None and not isinstance(size, str):
        raise _bad("settings", "paper_size is not a name")
    wanted.paper_size = size


def settings_blob(request: JobRequest) -> str:
    """A pending job's settings as the opaque string ``scanner/settings`` returns."""
    limit = request.page_limit()
    data = {"scanlet": SETTINGS_VERSION, "source": str(request.source),
            "mode": str(request.mode), "bit_depth": request.bit_depth,
            "resolution": request.resolution, "pages": -1 if limit is None else limit,
            "paper_size": "" if request.area is not None else request.paper_size}
    return base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def _source(wanted: Wanted, caps: Capabilities) -> SourceCaps:
    by_source = {s.source: s for s in caps.sources}
    if not by_source:
        raise InvalidSetting(f"{caps.device_id} offers no paper source", field="device")
    order = [Source.FLATBED, Source.FEEDER, Source.DUPLEX]
    if wanted.duplex:
        order = [Source.DUPLEX, Source.FEEDER, Source.FLATBED]
    elif wanted.feeder:
        order = [Source.FEEDER, Source.DUPLEX, Source.FLATBED]
    return next((by_source[s] for s in order if s in by_source), caps.sources[0])


def _resolution(wanted: Wanted, source: SourceCaps) -> int:
    if wanted.resolution is not None:
        return wanted.resolution
    offered = twain.resolutions(source)
    if not offered:
        return DEFAULT_RESOLUTION
    return min(offered, key=lambda r: (abs(r - DEFAULT_RESOLUTION), r))


def resolve(wanted: Wanted, caps: Capabilities) -> JobRequest:
    """The JobRequest for ``wanted`` on the device ``caps`` describes (not yet validated
    against it: the caller runs the device validation)."""
    source = _source(wanted, caps)
    mode = wanted.mode
    if mode is None:
        mode = next((m for m in (ColorMode.COLOR, ColorMode.GRAY, ColorMode.BW)
                     if m in source.color_modes), ColorMode.COLOR)
    pages: int | str | None = wanted.pages
    if pages == -1:
        pages = None if source.source == Source.FLATBED else "all"
    values: dict[str, Any] = {
        "device": caps.device_id, "source": source.source, "mode": mode,
        "bit_depth": wanted.bit_depth, "resolution": _resolution(wanted, source),
        "pages": pages,
    }
    if wanted.paper_size == "":
        values["area"] = Area(width=source.max_width_mm, height=source.max_height_mm)
    elif wanted.paper_size is not None:
        values["paper_size"] = wanted.paper_size
    for attr in ("brightness", "contrast"):
        level, span = getattr(wanted, attr), getattr(source, attr)
        if level is not None and span is not None:
            values[attr] = twain.to_device_level(level, span.min, span.max)
    try:
        return JobRequest.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidSetting(f"{where}: {first.get('msg', 'invalid')}", field=where) from None
