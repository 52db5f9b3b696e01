"""Kodak patch codes: find them on a page, and draw them for printing separator sheets.

A patch code is four parallel black bars, two wide (0.20 in) and two narrow (0.08 in), with
three narrow spaces (0.08 in) between them: 0.80 in across, bars at least 0.75-2 in long
(Kodak A-61599 "Patch Code Information"). The six orders of wide (W) and narrow (N) bars, from
the edge that enters the scanner first, are the six patches:

    Patch 1 WWNN   Patch 2 WNNW   Patch 3 WNWN   Patch 4 NWWN   Patch 6 NNWW   Patch T NWNW

Patch 2 and Patch T usually separate documents; Patch T ("transfer") is the common one.

Reading order matters: Patch 3 read backwards is Patch T, Patch 1 backwards is Patch 6. Like a
Kodak scanner we read from the leading edge: bars parallel to the top edge (the usual case)
are read top to bottom; bars parallel to the side edges ("end-fed" patches, the sheet fed
sideways) are read right to left, as Kodak prints them. A sheet fed upside down turns Patch 3
into Patch T; nobody can tell those apart from the pixels alone.

Detection (:func:`find_patches`) works on a grey copy reduced to about 75 dpi: Otsu threshold,
connected components, a rotated rectangle for each long solid component, then groups of four
parallel, aligned bars of equal length whose widths and gaps fit the 2.5 : 1 geometry above
with a clear quiet zone on both sides (so the bars of an ITF or Code 128 barcode never count).
When the page's dpi is known the sizes must also be near the printed ones. An A4 page at
300 dpi takes about 10 ms (benchmarks/bench_barcodes.py prints it).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, ConfigDict, Field

from scanlet.barcodes.read import Box, gray_image
from scanlet.errors import InvalidSetting

logger = logging.getLogger(__name__)


class PatchKind(StrEnum):
    """The six Kodak patch codes."""

    PATCH_1 = "1"
    PATCH_2 = "2"
    PATCH_3 = "3"
    PATCH_4 = "4"
    PATCH_6 = "6"
    PATCH_T = "T"


#: Wide/narrow bars of each patch, from the leading edge.
PATTERNS: dict[PatchKind, str] = {
    PatchKind.PATCH_1: "WWNN",
    PatchKind.PATCH_2: "WNNW",
    PatchKind.PATCH_3: "WNWN",
    PatchKind.PATCH_4: "NWWN",
    PatchKind.PATCH_6: "NNWW",
    PatchKind.PATCH_T: "NWNW",
}
_BY_PATTERN = {pattern: kind for kind, pattern in PATTERNS.items()}

NARROW_IN = 0.08
WIDE_IN = 0.20
SPACE_IN = 0.08
_UNITS = 10.0  # 2 wide (2.5 units each) + 2 narrow + 3 spaces, in narrow units

_WORK_DPI = 75.0
_MIN_LENGTH_IN = 0.5  # Kodak asks for 0.75 in at least; allow a reduced print
_UNIT_RANGE_IN = (0.05, 0.12)  # narrow unit accepted, nominal 0.08
_NARROW = (0.55, 1.6)  # bar width in units
_WIDE = (1.9, 3.4)
_GAP = (0.5, 1.7)
_QUIET_UNITS = 2.0  # clear space needed beyond the first and last bar
_PARALLEL = math.cos(math.radians(4))
_REDUCIBLE = frozenset({"L", "LA", "RGB", "RGBA", "CMYK", "YCbCr", "I", "F"})
_FILL = 0.8


class PatchCode(BaseModel):
    """A patch code found on a page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: PatchKind
    box: Box = Field(description="Bounding box of the four bars in page pixels")
    orientation: int = Field(
        description="0: bars parallel to the top edge, read top to bottom; "
        "90: bars parallel to the side edges, read right to left")


def parse_kind(value: str | PatchKind) -> PatchKind:
    """``"T"``, ``"t"``, ``"patch T"``, ``"2"`` ... as a :class:`PatchKind`."""
    text = str(value).strip().upper().removeprefix("PATCH").strip(" _-")
    try:
        return PatchKind(text)
    except ValueError:
        raise InvalidSetting(f"Unknown patch code {value!r}", field="patches",
                             allowed=[k.value for k in PatchKind]) from None


# --- drawing ----------------------------------------------------------------------------------


def _bars(kind: PatchKind, dpi: float) -> list[tuple[int, int]]:
    """(start, end) pixel offsets of the four bars across the patch."""
    bars = []
    offset = 0.0
    for symbol in PATTERNS[kind]:
        width = WIDE_IN if symbol == "W" else NARROW_IN
        bars.append((round(offset * dpi), round((offset + width) * dpi)))
        offset += width + SPACE_IN
    return bars


def draw_patch(kind: str | PatchKind, dpi: int = 300, *, length: float = 3.0,
               quiet: float = 0.25) -> Image.Image:
    """One patch code as a grey image: bars ``length`` inches long, parallel to the top edge
    (the top is the leading edge), ``quiet`` inches of white all round."""
    kind = parse_kind(kind)
    if dpi < 50 or length <= 0 or quiet < 0:
        raise InvalidSetting("A patch needs dpi >= 50 and a positive length", field="dpi")
    margin = round(quiet * dpi)
    across = round((2 * WIDE_IN + 2 * NARROW_IN + 3 * SPACE_IN) * dpi)
    image = Image.new("L", (round(length * dpi) + 2 * margin, across + 2 * margin), 255)
    draw = ImageDraw.Draw(image)
    for start, end in _bars(kind, dpi):
        draw.rectangle((margin, margin + start, image.width - margin - 1, margin + end - 1),
                       fill=0)
    return image


def patch_sheet(kind: str | PatchKind, dpi: int = 300, *,
                paper_mm: tuple[float, float] = (210.0, 297.0),
                label: bool = True) -> Image.Image:
    """A printable separator sheet: the patch across the page, 0.5 in below the top edge, bars
    spanning the width (so any of a scanner's patch sensors sees them), and a label."""
    kind = parse_kind(kind)
    width, height = (round(mm / 25.4 * dpi) for mm in paper_mm)
    page = Image.new("L", (width, height), 255)
    symbol = draw_patch(kind, dpi, length=paper_mm[0] / 25.4 - 1.0, quiet=0)
    page.paste(symbol, ((width - symbol.width) // 2, round(0.5 * dpi)))
    if label:
        font = ImageFont.load_default(size=max(12, dpi // 4))
        ImageDraw.Draw(page).text((width // 2, round(2.0 * dpi)), f"PATCH {kind.value}",
                                  fill=0, font=font, anchor="mt")
    return page


# --- finding ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bar:
    """A long solid dark component, as a rotated rectangle (work pixels)."""

    cx: float
    cy: float
    ux: float  # unit vector along the bar
    uy: float
    length: float
    width: float
    box: tuple[int, int, int, int]  # x, y, w, h

    @property
    def horizontal(self) -> bool:
        return abs(self.ux) >= abs(self.uy)


def _page_dpi(image: Image.Image, dpi: float | None) -> float | None:
    if dpi:
        return float(dpi)
    info = image.info.get("dpi")
    if isinstance(info, tuple) and info and info[0]:
        return float(info[0])
    return None


def _bar_candidates(mask: np.ndarray, min_length: float, min_width: float) -> list[_Bar]:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return []
    w = stats[1:, cv2.CC_STAT_WIDTH]
    h = stats[1:, cv2.CC_STAT_HEIGHT]
    area = stats[1:, cv2.CC_STAT_AREA]
    long_side = np.maximum(w, h)
    keep = np.flatnonzero((long_side >= min_length)
                          & (area >= min_length * min_width)
                          & (np.hypot(w, h) >= 3 * area / np.maximum(long_side, 1)))
    bars = []
    for index in keep:
        label = int(index) + 1
        x, y, bw, bh, pixels = (int(v) for v in stats[label][:5])
        points = cv2.findNonZero((labels[y:y + bh, x:x + bw] == label).view(np.uint8))
        rect = cv2.minAreaRect(points)
        (cx, cy), (rw, rh), _ = rect
        corners = cv2.boxPoints(rect)
        edge_a = corners[1] - corners[0]
        edge_b = corners[2] - corners[1]
        along = edge_a if np.hypot(*edge_a) >= np.hypot(*edge_b) else edge_b
        length, width = max(rw, rh) + 1, min(rw, rh) + 1
        if width < min_width or length < min_length or length < 3 * width:
            continue
        if pixels < _FILL * length * width:
            continue
        norm = float(np.hypot(*along))
        ux, uy = float(along[0]) / norm, float(along[1]) / norm
        if ux < 0 or (ux == 0 and uy < 0):
            ux, uy = -ux, -uy
        bars.append(_Bar(cx + x, cy + y, ux, uy, length, width, (x, y, bw, bh)))
    return bars


def _neighbours(first: _Bar, bars: list[_Bar]) -> list[tuple[float, _Bar]]:
    """Bars parallel to ``first``, as long and beside it, with their offset across it in the
    reading direction (down for horizontal bars, leftwards for vertical ones)."""
    nx, ny = -first.uy, first.ux
    if (first.horizontal and ny < 0) or (not first.horizontal and nx > 0):
        nx, ny = -nx, -ny
    found = []
    for bar in bars:
        if abs(bar.ux * first.ux + bar.uy * first.uy) < _PARALLEL:
            continue
        if not 0.8 <= bar.length / first.length <= 1.25:
            continue
        dx, dy = bar.cx - first.cx, bar.cy - first.cy
        if abs(dx * first.ux + dy * first.uy) > 0.15 * first.length:
            continue
        found.append((dx * nx + dy * ny, bar))
    found.sort(key=lambda item: item[0])
    return found


def _match(first: _Bar, bars: list[_Bar],
           unit_px: tuple[float, float]) -> tuple[PatchKind, list[_Bar]] | None:
    """The patch whose first bar is ``first`` and its four bars, or None."""
    row = _neighbours(first, bars)
    start = next(i for i, (_, bar) in enumerate(row) if bar is first)
    window = row[start:start + 4]
    if len(window) < 4:
        return None
    leads = [offset - bar.width / 2 for offset, bar in window]
    trails = [offset + bar.width / 2 for offset, bar in window]
    unit = (trails[3] - leads[0]) / _UNITS
    if not unit_px[0] <= unit <= unit_px[1]:
        return None
    pattern = ""
    for _, bar in window:
        size = bar.width / unit
        if _NARROW[0] <= size <= _NARROW[1]:
            pattern += "N"
        elif _WIDE[0] <= size <= _WIDE[1]:
            pattern += "W"
        else:
            return None
    kind = _BY_PATTERN.get(pattern)
    if kind is None:
        return None
    if any(not _GAP[0] <= (leads[i + 1] - trails[i]) / unit <= _GAP[1] for i in range(3)):
        return None
    before = row[start - 1] if start else None
    after = row[start + 4] if start + 4 < len(row) else None
    if before and leads[0] - (before[0] + before[1].width / 2) < _QUIET_UNITS * unit:
        return None
    if after and (after[0] - after[1].width / 2) - trails[3] < _QUIET_UNITS * unit:
        return None
    return kind, [bar for _, bar in window]


def find_patches(image: Image.Image, *, dpi: float | None = None) -> list[PatchCode]:
    """Every patch code on ``image``, in reading order of their first bars.

    ``dpi`` defaults to the image's own (``image.info["dpi"]``); without one, sizes are only
    checked against each other and the page is assumed to be about 8.5 in wide.
    """
    width, height = image.size
    page_dpi = _page_dpi(image, dpi)
    # Reduce by a whole factor to about 75 dpi before anything else: Pillow's box reduction
    # is cheaper than a full-size grey copy, and small bars are all we need to see.
    scale = max(1, round((page_dpi or width / 8.5) / _WORK_DPI))
    scale = min(scale, width, height)
    if scale > 1:
        source = image if image.mode in _REDUCIBLE else gray_image(image)
        small = source.reduce(scale)
    else:
        small = image
    gray = np.asarray(gray_image(small))
    threshold, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    threshold = min(max(threshold, 70.0), 170.0)
    _, mask = cv2.threshold(gray, threshold, 255, cv2.THRESH_BINARY_INV)
    if page_dpi:
        work_dpi = page_dpi / scale
        unit_px = (_UNIT_RANGE_IN[0] * work_dpi, _UNIT_RANGE_IN[1] * work_dpi)
        min_length = _MIN_LENGTH_IN * work_dpi
    else:
        unit_px = (2.0, max(width, height) / scale / 30)
        min_length = 20.0
    bars = _bar_candidates(mask, min_length, max(1.5, unit_px[0] * _NARROW[0]))
    found: list[PatchCode] = []
    used: set[int] = set()
    for bar in bars:
        if id(bar) in used:
            continue
        match = _match(bar, [b for b in bars if id(b) not in used], unit_px)
        if match is None:
            continue
        kind, group = match
        used.update(id(b) for b in group)
        left = min(b.box[0] for b in group)
        top = min(b.box[1] for b in group)
        right = max(b.box[0] + b.box[2] for b in group)
        bottom = max(b.box[1] + b.box[3] for b in group)
        found.append(PatchCode(
            kind=kind,
            box=Box(left=round(left * scale), top=round(top * scale),
                    width=round((right - left) * scale), height=round((bottom - top) * scale)),
            orientation=0 if bar.horizontal else 90,
        ))
    found.sort(key=lambda p: (p.box.top, p.box.left))
    logger.debug("found %d patch code(s) among %d bar(s)", len(found), len(bars))
    return found
