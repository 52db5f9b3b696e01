"""Blank-page detection: a content score per page that ignores scanner noise, dust, punch
holes, edge shadows and show-through, and a tunable decision on top of it.

The **score** is the share of the page, in percent, covered by content:

1. The page is read as 8-bit grey and reduced to :data:`WORK_DPI` (area averaging, which also
   halves sensor noise at 300 dpi). A margin of :data:`MARGIN` of each side is left out: the
   page edge, its shadow and the scanner's border live there. Content is what differs from
   the paper: on dark paper (median grey below :data:`DARK_PAPER`) the page is read inverted,
   so light marks on it count and a page of one even colour, black included, is blank (as
   in the reference product's standard-deviation test).
2. *Thin content* (text, lines, handwriting): the paper is estimated by a grey-level closing
   with a disk :data:`CLOSING_MM` across, which erases every dark feature narrower than that and
   follows slow changes (a shadow band, uneven lighting, grey recycled paper). Pixels more
   than :data:`INK_CONTRAST` levels darker than that estimate are ink. Show-through from the
   back of the sheet is fainter than that; punch holes and shadows are wider than the disk,
   so the closing keeps them in the "paper" and they do not count.
3. Ink closer than :data:`GROUP_MM` is grouped (letters into words, a hole's broken rim into
   one ring) and the groups are filtered: those that fit in :data:`SPECK_MM`
   (dust, toner, noise) are dropped, and so are punch holes: rings 4-10 mm across, their ink
   on a circle all round, centred within :data:`HOLE_EDGE_MM` of an edge (the rim a hole
   leaves on a white backing; on a dark backing the hole is a disk, which the closing keeps
   as "paper").
4. *Solid content* (a photo, a filled logo, wider than the closing disk) is what the closing
   cannot see: pixels that many levels darker than the page's median paper tone, counted only
   inside the page's inner part (:data:`SOLID_INSET` of each side), away from holes and shadows.

The **decision** compares the score with a threshold set by ``sensitivity`` (0-100, default
:data:`DEFAULT_SENSITIVITY`): threshold = ``0.03 % x 10 ** ((sensitivity - 50) / 25)``, so 50
means "blank below 0.03 % content", 75 -> 0.3 %, 100 -> 3 %, 25 -> 0.003 %. Higher sensitivity
calls more pages blank. For scale, at 300 dpi a page with a few lines of 9-12 pt text scores
0.24 % and up, one short line about 0.05-0.08 %, a page number alone about 0.02 %, and blank
sheets with noise, dust, hairs, punch holes, edge shadows and show-through 0.005 % or less
(tests/imaging/test_blank.py); the default sits near the geometric middle of those and errs
towards keeping pages.

Everything is deterministic (no sampling, no randomness).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from scanlet.codecs.decode import ImageFormat, open_image, pixels_held
from scanlet.codecs.dpi import check_page_dpi
from scanlet.errors import InvalidSetting
from scanlet.imaging.ops import gray_array, shrink

logger = logging.getLogger(__name__)

#: Resolution the analysis runs at (pages scanned finer are averaged down to it).
WORK_DPI = 150.0
#: Fraction of width/height left out on every side.
MARGIN = 0.03
#: Median grey level under which the paper is dark and the page is judged inverted.
DARK_PAPER = 96
#: Diameter of the closing disk that separates thin content from paper, in mm.
CLOSING_MM = 3.0
#: Grey levels below the local paper that make a pixel ink.
INK_CONTRAST = 48
#: Ink closer than this (mm) counts as one component (a hole's broken rim, a word).
GROUP_MM = 1.0
#: Components whose bounding box fits in this square (mm) are specks.
SPECK_MM = 1.0
#: Punch holes: diameter range (mm) and how far from an edge their centre may be (mm).
HOLE_MM = (4.0, 10.0)
HOLE_EDGE_MM = 25.0
#: Solid content is counted inside this inset (fraction of width/height from each side).
SOLID_INSET = 0.15
#: Grey levels below the page's paper tone that make a pixel solid content.
SOLID_CONTRAST = 64
DEFAULT_SENSITIVITY = 50.0
#: Score (percent) under which a page is blank at the default sensitivity.
BASE_THRESHOLD = 0.03


@dataclass(frozen=True)
class BlankScore:
    """Content found on a page; ``score`` (percent of the analysed area) is what
    :func:`is_blank` compares. ``ink``/``solid`` are its two parts; the counts say what was
    discarded as noise."""

    score: float
    ink: float
    solid: float
    components: int
    specks: int
    holes: int


@dataclass(frozen=True)
class BlankResult:
    """A page's score and the decision at a sensitivity."""

    blank: bool
    score: float
    threshold: float
    sensitivity: float
    detail: BlankScore


def threshold_for(sensitivity: float) -> float:
    """The score (percent) under which a page is blank at ``sensitivity`` (0-100)."""
    if not 0 <= sensitivity <= 100:
        raise InvalidSetting("sensitivity must be 0-100", field="sensitivity", allowed="0-100")
    return BASE_THRESHOLD * 10 ** ((sensitivity - 50.0) / 25.0)


def _mm(dpi: float, mm: float) -> float:
    return mm * dpi / 25.4


def _prepare(image: Image.Image, dpi: float) -> tuple[npt.NDArray[np.uint8], float]:
    """Grey page at no more than WORK_DPI, and the dpi it ended up at."""
    gray = gray_array(image)
    if dpi > WORK_DPI:
        gray, dpi = shrink(gray, WORK_DPI / dpi), WORK_DPI
    h, w = gray.shape
    my, mx = round(h * MARGIN), round(w * MARGIN)
    if _median(gray[my:h - my, mx:w - mx]) < DARK_PAPER:
        gray = np.asarray(255 - gray, dtype=np.uint8)  # light marks on dark paper
    return gray, dpi


def _paper(gray: npt.NDArray[np.uint8], dpi: float) -> npt.NDArray[np.uint8]:
    """The paper under the page: a grey-level closing with a CLOSING_MM disk (dark features
    narrower than that vanish, wider ones and slow shading stay).

    The closing runs at half the resolution and is scaled back up (linear): a disk-shaped
    kernel has no fast separable form, and the paper varies slowly, so this costs a sixth and
    changes no decision (the edges of large dark blobs come out as a thin rim of ink, which
    the hole filter or the solid-content count deal with anyway).
    """
    h, w = gray.shape
    small = shrink(gray, 0.5)
    side = max(3, round(_mm(dpi / 2, CLOSING_MM)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REPLICATE)
    return np.asarray(cv2.resize(closed, (w, h), interpolation=cv2.INTER_LINEAR),
                      dtype=np.uint8)


def _median(gray: npt.NDArray[np.uint8]) -> int:
    """Median grey level from the histogram (several times faster than sorting)."""
    counts = np.bincount(gray.ravel(), minlength=256)
    return int(np.searchsorted(np.cumsum(counts), (gray.size + 1) // 2))


def _hole_like(stats: npt.NDArray[np.int32], shape: tuple[int, int],
               dpi: float) -> npt.NDArray[np.bool_]:
    """Components shaped and placed like punch holes (in full-page coordinates)."""
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    low, high = _mm(dpi, HOLE_MM[0]), _mm(dpi, HOLE_MM[1])
    sized = (w >= low) & (w <= high) & (h >= low) & (h <= high)
    roundish = (w <= 1.4 * h) & (h <= 1.4 * w)
    cx, cy = x + w / 2.0, y + h / 2.0
    page_h, page_w = shape
    reach = _mm(dpi, HOLE_EDGE_MM)
    near_edge = (cx < reach) | (cy < reach) | (page_w - cx < reach) | (page_h - cy < reach)
    result: npt.NDArray[np.bool_] = sized & roundish & near_edge
    return result


def _ring_shaped(candidates: npt.NDArray[np.bool_], stats: npt.NDArray[np.int32],
                 labels: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_]:
    """Keep the candidates whose ink lies on a circle around all sides (a hole's rim), not a
    short word that happens to have a hole's size and place."""
    result = candidates.copy()
    for label in np.flatnonzero(candidates):
        x, y, w, h = (int(v) for v in stats[label, :4])
        ys, xs = np.nonzero(labels[y:y + h, x:x + w] == label)
        if len(xs) == 0:
            result[label] = False
            continue
        dx, dy = xs - (w - 1) / 2.0, ys - (h - 1) / 2.0
        radius = (w + h) / 4.0
        dist = np.hypot(dx, dy)
        on_circle = np.mean(np.abs(dist - radius) < 0.3 * radius)
        sectors = np.unique((np.arctan2(dy, dx) / (2 * np.pi) * 12).astype(int) % 12)
        result[label] = bool(on_circle >= 0.8 and len(sectors) >= 8)
    return result


def blank_score(image: Image.Image, dpi: float = 300.0) -> BlankScore:
    """Measure the content of a page scanned at ``dpi`` (see the module docstring)."""
    check_page_dpi(dpi)
    gray, work_dpi = _prepare(image, dpi)
    h, w = gray.shape
    my, mx = round(h * MARGIN), round(w * MARGIN)
    if h - 2 * my < 8 or w - 2 * mx < 8:
        raise InvalidSetting("the page is too small to judge", field="image")

    paper = _paper(gray, work_dpi)
    ink = (paper.astype(np.int16) - gray.astype(np.int16)) > INK_CONTRAST
    ink[:my, :] = False
    ink[h - my:, :] = False
    ink[:, :mx] = False
    ink[:, w - mx:] = False

    # Group ink that lies within GROUP_MM of each other (a hole's broken rim, the dots of a
    # speck cluster), then judge each group by the box of its ink.
    reach = max(1, round(_mm(work_dpi, GROUP_MM) / 2))
    grouped = cv2.dilate(ink.astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
    count, found, boxes, _ = cv2.connectedComponentsWithStats(grouped, connectivity=8)
    labels = np.asarray(found, dtype=np.int32)
    stats = np.asarray(boxes, dtype=np.int32)
    stats[:, cv2.CC_STAT_LEFT] += reach
    stats[:, cv2.CC_STAT_TOP] += reach
    stats[:, cv2.CC_STAT_WIDTH] -= 2 * reach
    stats[:, cv2.CC_STAT_HEIGHT] -= 2 * reach
    labels[~ink] = 0
    area = np.bincount(labels.ravel(), minlength=count)
    speck = max(1.0, _mm(work_dpi, SPECK_MM))
    specks = (stats[:, cv2.CC_STAT_WIDTH] <= speck) & (stats[:, cv2.CC_STAT_HEIGHT] <= speck)
    holes = _hole_like(stats, (h, w), work_dpi) & ~specks
    holes = _ring_shaped(holes, stats, labels)
    keep = ~(specks | holes)
    keep[0] = False
    analysed = float((h - 2 * my) * (w - 2 * mx))
    ink_pixels = float(area[keep].sum())

    sy, sx = round(h * SOLID_INSET), round(w * SOLID_INSET)
    inner = gray[sy:h - sy, sx:w - sx]
    paper_tone = _median(gray[my:h - my, mx:w - mx])
    solid_mask = (paper_tone - inner.astype(np.int16)) > SOLID_CONTRAST
    # Pixels of any ink component are either counted above or noise: not solid content.
    solid_pixels = float(np.count_nonzero(solid_mask & (labels[sy:h - sy, sx:w - sx] == 0)))

    ink_pct = 100.0 * ink_pixels / analysed
    solid_pct = 100.0 * solid_pixels / analysed
    return BlankScore(
        score=round(ink_pct + solid_pct, 5),
        ink=round(ink_pct, 5),
        solid=round(solid_pct, 5),
        components=int(keep.sum()),
        specks=int(specks[1:].sum()),
        holes=int(holes[1:].sum()),
    )


def is_blank(image: Image.Image, dpi: float = 300.0, *,
             sensitivity: float = DEFAULT_SENSITIVITY) -> BlankResult:
    """Whether the page is blank at ``sensitivity`` (0-100; higher calls more pages blank)."""
    threshold = threshold_for(sensitivity)
    detail = blank_score(image, dpi)
    return BlankResult(blank=detail.score < threshold, score=detail.score,
                       threshold=round(threshold, 6), sensitivity=sensitivity, detail=detail)


def check_page(data: bytes, fmt: ImageFormat, dpi: float, *,
               sensitivity: float = DEFAULT_SENSITIVITY) -> BlankResult:
    """:func:`is_blank` for encoded page bytes (what the API and CLI hold).

    JPEG pages are decoded at a reduced scale (libjpeg's DCT scaling, ``draft``) close to the
    analysis resolution, which is several times faster than a full decode and loses nothing
    the analysis would keep.
    """
    image = open_image(data, fmt)
    with image:
        effective = dpi
        if fmt == "jpeg" and dpi > WORK_DPI:
            factor = 2 ** int(math.log2(dpi / WORK_DPI))
            if factor > 1:
                full_width = image.width
                # At least 1 px a side: a page narrower or lower than ``factor`` (a 1x4000
                # strip) would ask Pillow for a 0 px side, which it divides by.
                image.draft("L", (max(1, image.width // factor),
                                  max(1, image.height // factor)))
                effective = dpi * image.width / full_width
        with pixels_held(image):
            try:
                image.load()
                return is_blank(image, effective, sensitivity=sensitivity)
            finally:
                image.close()  # its pixels freed while the budget is still held
