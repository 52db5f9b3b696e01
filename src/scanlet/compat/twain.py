"""TWAIN numbers the reference's clients use, and the capabilities Scanlet maps onto SANE.

The numbers are the TWAIN specification's (capability ids, pixel types, paper sizes,
container and value types), which the reference's ``caps``, ``config`` and
``scanner/capabilities`` use. Only what maps onto Scanlet's normalized settings is
supported; see docs/compat.md.
"""

from __future__ import annotations

from typing import Any

from scanlet.models import ColorMode, JobRequest, Source, SourceCaps

CAP_XFERCOUNT = 0x0001
ICAP_PIXELTYPE = 0x0101
CAP_FEEDERENABLED = 0x1002
CAP_DUPLEX = 0x1012
CAP_DUPLEXENABLED = 0x1013
ICAP_BRIGHTNESS = 0x1101
ICAP_CONTRAST = 0x1103
ICAP_XRESOLUTION = 0x1118
ICAP_YRESOLUTION = 0x1119
ICAP_SUPPORTEDSIZES = 0x1122
ICAP_BITDEPTH = 0x112B

CAP_NAMES: dict[int, str] = {
    CAP_XFERCOUNT: "CAP_XFERCOUNT", ICAP_PIXELTYPE: "ICAP_PIXELTYPE",
    CAP_FEEDERENABLED: "CAP_FEEDERENABLED", CAP_DUPLEX: "CAP_DUPLEX",
    CAP_DUPLEXENABLED: "CAP_DUPLEXENABLED", ICAP_BRIGHTNESS: "ICAP_BRIGHTNESS",
    ICAP_CONTRAST: "ICAP_CONTRAST", ICAP_XRESOLUTION: "ICAP_XRESOLUTION",
    ICAP_YRESOLUTION: "ICAP_YRESOLUTION", ICAP_SUPPORTEDSIZES: "ICAP_SUPPORTEDSIZES",
    ICAP_BITDEPTH: "ICAP_BITDEPTH",
}

#: TWPT_BW, TWPT_GRAY, TWPT_RGB: the pixel types Scanlet scans.
PIXEL_TYPES: dict[int, ColorMode] = {0: ColorMode.BW, 1: ColorMode.GRAY, 2: ColorMode.COLOR}
PIXEL_TYPE_OF: dict[ColorMode, int] = {mode: value for value, mode in PIXEL_TYPES.items()}
PIXEL_LABELS = {0: "TWPT_BW", 1: "TWPT_GRAY", 2: "TWPT_RGB"}

#: TWSS_* paper sizes that have a Scanlet name (0 = TWSS_NONE: the whole scan area).
PAPER_SIZES: dict[int, str] = {1: "A4", 3: "Letter", 4: "Legal", 5: "A5", 6: "B4",
                               9: "Tabloid", 10: "Executive", 11: "A3", 13: "A6"}
PAPER_CODE_OF: dict[str, int] = {name: code for code, name in PAPER_SIZES.items()}
TWSS_NONE = 0

#: TWAIN brightness and contrast run from -1000 to 1000; devices have their own range.
TWAIN_LEVEL_RANGE = 1000.0

TWON_ENUMERATION = (4, "TWON_ENUMERATION")
TWON_ONEVALUE = (5, "TWON_ONEVALUE")
TWON_RANGE = (6, "TWON_RANGE")
TWTY_INT16 = (1, "TWTY_INT16")
TWTY_UINT16 = (4, "TWTY_UINT16")
TWTY_BOOL = (6, "TWTY_BOOL")
TWTY_FIX32 = (7, "TWTY_FIX32")

GET_SET = ["get", "set", "reset", "getdefault", "getcurrent"]
GET_ONLY = ["get", "getdefault", "getcurrent"]

#: Resolutions offered for devices that only give a range.
COMMON_RESOLUTIONS = (75, 100, 150, 200, 240, 300, 400, 600, 1200)


def _vl(pair: tuple[int, str]) -> dict[str, Any]:
    return {"value": pair[0], "label": pair[1]}


def _detail(cap: int, con: tuple[int, str], kind: tuple[int, str], current: Any,
            values: list[Any], labels: dict[Any, str] | None = None,
            query: list[str] | None = None) -> dict[str, Any]:
    """One CapabilityDetails object (the reference's interface)."""
    names = labels or {}

    def item(value: Any) -> dict[str, Any]:
        return {"value": value, "label": names.get(value, str(value).lower()
                                                 if isinstance(value, bool) else str(value))}

    index = values.index(current) if current in values else 0
    return {"capability": {"value": cap, "label": CAP_NAMES[cap]}, "conType": _vl(con),
            "curIndex": index, "curValue": item(current), "defIndex": index,
            "query": list(query or GET_SET), "valueType": _vl(kind),
            "values": [item(v) for v in values]}


def resolutions(source: SourceCaps) -> list[int]:
    """The resolutions a source offers (common ones within a range)."""
    if source.resolutions:
        return sorted(source.resolutions)
    span = source.resolution_range
    if span is None:
        return []
    return [r for r in COMMON_RESOLUTIONS if span.min <= r <= span.max
            and (span.step <= 1 or (r - span.min) % span.step == 0)]


def to_device_level(value: float, low: float, high: float) -> float:
    """A TWAIN brightness or contrast (-1000..1000) in a device's own range."""
    return low + (value + TWAIN_LEVEL_RANGE) / (2 * TWAIN_LEVEL_RANGE) * (high - low)


def to_twain_level(value: float, low: float, high: float) -> float:
    if high <= low:
        return 0.0
    return round((value - low) / (high - low) * 2 * TWAIN_LEVEL_RANGE - TWAIN_LEVEL_RANGE, 3)


def capability_details(request: JobRequest, sources: list[SourceCaps],
                       wanted: set[int] | None = None) -> list[dict[str, Any]]:
    """The CapabilityDetails of a pending job: its current settings and what the device
    offers, for the capabilities Scanlet supports (only ``wanted`` ones when given)."""
    by_source = {s.source: s for s in sources}
    source = by_source.get(request.source) or sources[0]
    mode = request.mode
    details: list[dict[str, Any]] = []

    def add(cap: int, make: Any) -> None:
        if wanted is None or cap in wanted:
            details.append(make())

    pixel_types = sorted(PIXEL_TYPE_OF[m] for m in source.color_modes)
    add(ICAP_PIXELTYPE, lambda: _detail(ICAP_PIXELTYPE, TWON_ENUMERATION, TWTY_UINT16,
                                        PIXEL_TYPE_OF[mode], pixel_types, PIXEL_LABELS))
    depths = sorted(source.color_modes.get(mode, []))
    add(ICAP_BITDEPTH, lambda: _detail(ICAP_BITDEPTH, TWON_ENUMERATION, TWTY_UINT16,
                                       request.effective_bit_depth(), depths))
    dpis = resolutions(source)
    for cap in (ICAP_XRESOLUTION, ICAP_YRESOLUTION):
        add(cap, lambda cap=cap: _detail(cap, TWON_ENUMERATION, TWTY_FIX32,
                                         request.resolution, dpis))
    has_feeder = bool({Source.FEEDER, Source.DUPLEX} & set(by_source))
    feeding = request.source in (Source.FEEDER, Source.DUPLEX)
    add(CAP_FEEDERENABLED, lambda: _detail(CAP_FEEDERENABLED, TWON_ONEVALUE, TWTY_BOOL,
                                           feeding, [False, True] if has_feeder else [False]))
    has_duplex = Source.DUPLEX in by_source
    add(CAP_DUPLEX, lambda: _detail(CAP_DUPLEX, TWON_ONEVALUE, TWTY_UINT16,
                                    1 if has_duplex else 0, [1 if has_duplex else 0],
                                    {0: "TWDX_NONE", 1: "TWDX_1PASSDUPLEX"}, GET_ONLY))
    add(CAP_DUPLEXENABLED, lambda: _detail(
        CAP_DUPLEXENABLED, TWON_ONEVALUE, TWTY_BOOL, request.source == Source.DUPLEX,
        [False, True] if has_duplex else [False]))
    limit = request.page_limit()
    add(CAP_XFERCOUNT, lambda: _detail(CAP_XFERCOUNT, TWON_ONEVALUE, TWTY_INT16,
                                       -1 if limit is None else limit,
                                       [-1 if limit is None else limit]))
    sizes = [TWSS_NONE] + [PAPER_CODE_OF[n] for n in source.paper_sizes if n in PAPER_CODE_OF]
    current_size = PAPER_CODE_OF.get(request.paper_size or "", TWSS_NONE)
    add(ICAP_SUPPORTEDSIZES, lambda: _detail(
        ICAP_SUPPORTEDSIZES, TWON_ENUMERATION, TWTY_UINT16, current_size, sizes,
        {TWSS_NONE: "TWSS_NONE", **{c: n for c, n in PAPER_SIZES.items()}}))
    for cap, span, value in ((ICAP_BRIGHTNESS, source.brightness, request.brightness),
                             (ICAP_CONTRAST, source.contrast, request.contrast)):
        if span is None:
            continue
        middle = (span.min + span.max) / 2
        level = to_twain_level(value if value is not None else middle, span.min, span.max)
        add(cap, lambda cap=cap, level=level: _detail(
            cap, TWON_RANGE, TWTY_FIX32, level, [-TWAIN_LEVEL_RANGE, TWAIN_LEVEL_RANGE]))
    return details
