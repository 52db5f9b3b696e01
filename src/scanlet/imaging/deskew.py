"""Skew detection and correction for scanned text pages (projection profiles).

**Sign convention**: the detected ``angle`` is how far the page content is rotated
*counter-clockwise* (positive) or clockwise (negative), the same sense as
``PIL.Image.rotate``; correcting it means rotating by ``-angle``. A page produced by
``upright.rotate(3.2)`` is reported as +3.2.

Method: on a copy reduced by a whole factor to at least 1600 pixels on its long side (a text
line stays several pixels high while the work drops 4x on A4 at 300 dpi), ink is what is
darker than both Otsu's threshold and the paper's median minus :data:`INK_CONTRAST` (on a
page without text Otsu alone would split the paper's noise). The border (:data:`MARGIN`: page
edges, shadows) is left out, and so are blobs that carry no line structure: anything longer
than an eighth of the page (pictures, rules, black margins) and solid blobs wider than a
stroke (punch holes, bullets). For a candidate angle ``a`` every remaining ink pixel ``(x, y)`` is
projected onto ``p = y cos a + x sin a``; at the true angle whole text lines fall into the
same few bins and the histogram is sharpest. Sharpness is the sum of squared bin counts
(equivalently the variance). The search is coarse-to-fine (0.25 deg over +-``max_angle``,
then 0.05 deg, then 0.01 deg) on pixel coordinates rather than rotated images, so it costs a
few hundred histograms of at most :data:`MAX_POINTS` points: about 0.1 s for an A4 page
(benchmarks/bench_imaging.py).
Precision is about 0.05 deg (one bin across the page's width); smaller angles are not
corrected.

``confidence`` is the peak's sharpness over the median sharpness of the coarse search, minus
one: 0 for pages with too little ink (:data:`MIN_POINTS`), well under 1 for pages without
lines, about 1.5-2.5 for text, even a few lines of it. Correction is a bicubic rotation that
keeps the page size, the uncovered corners filled with the paper's tone by default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from scanlet.errors import InvalidSetting
from scanlet.imaging.ops import Fill, gray_array, rotate, shrink

logger = logging.getLogger(__name__)

#: Long side of the copy the detection works on, at least (pages are reduced by a whole factor:
#: A4 at 300 dpi by 2).
DETECT_SIZE = 1600
#: Ink pixels kept for the profiles (a regular subsample beyond this).
MAX_POINTS = 150_000
#: Below this many ink pixels (of the downscaled copy: about 15 letters) there is nothing to
#: measure.
MIN_POINTS = 1000
#: Angles smaller than this (degrees) are not corrected: that is the detection's own
#: precision, and resampling would only blur.
MIN_CORRECTION = 0.1
#: Ink must be this many grey levels darker than the page's median (its paper).
INK_CONTRAST = 48
#: Solid blobs wider than this (pixels of the reduced copy: 1.4 mm for A4 at 300 dpi) are not
#: text.
SOLID_SIDE = 8
#: Fraction of width/height left out on every side (page edges, shadows).
MARGIN = 0.03
#: Default confidence needed before :func:`deskew` rotates.
DEFAULT_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Skew:
    """A skew measurement: ``angle`` in degrees (positive = counter-clockwise) and how much
    to trust it (``confidence``, 0 = no line structure found)."""

    angle: float
    confidence: float


def _ink_points(image: Image.Image) -> npt.NDArray[np.float64]:
    """Centred (x, y) coordinates of ink pixels on the downscaled page, as an (n, 2) array."""
    gray = gray_array(image)
    h, w = gray.shape
    gray = shrink(gray, 1.0 / max(1, max(h, w) // DETECT_SIZE))  # whole factors are fast
    otsu, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    # Ink is dark by Otsu's split *and* clearly darker than the paper: on a page with no text
    # Otsu splits the paper's own noise and shading instead.
    limit = min(float(otsu), float(np.median(gray)) - INK_CONTRAST)
    ink = (gray < limit).astype(np.uint8)
    # The border (page edge, its shadow, the scanner's lid) is not text.
    gh, gw = ink.shape
    my, mx = round(gh * MARGIN), round(gw * MARGIN)
    ink[:my, :] = 0
    ink[gh - my:, :] = 0
    ink[:, :mx] = 0
    ink[:, gw - mx:] = 0
    # Drop blobs far larger than letters (pictures, rules, black margins) and solid blobs
    # wider than a letter stroke (punch holes, bullets, filled boxes): they have no line
    # structure and would dominate the histogram.
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    width, height = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    largest = max(ink.shape) // 8
    big = (width > largest) | (height > largest)
    fill = stats[:, cv2.CC_STAT_AREA] / np.maximum(width * height, 1)
    solid = (fill > 0.6) & (np.minimum(width, height) > SOLID_SIDE)
    drop = big | solid
    drop[0] = True
    ys, xs = np.nonzero(~drop[labels])
    if len(xs) > MAX_POINTS:
        step = -(-len(xs) // MAX_POINTS)
        ys, xs = ys[::step], xs[::step]
    return np.column_stack((xs - gw / 2.0, ys - gh / 2.0)).astype(np.float64)


def _sharpness(points: npt.NDArray[np.float64], angles: npt.NDArray[np.float64]) -> npt.NDArray[
        np.float64]:
    """Sum of squared projection-histogram counts for each angle (degrees)."""
    rad = np.deg2rad(angles)
    out = np.empty(len(angles))
    xs, ys = points[:, 0], points[:, 1]
    for i, a in enumerate(rad):
        p = ys * np.cos(a) + xs * np.sin(a)
        bins = np.floor(p - p.min()).astype(np.int64)
        counts = np.bincount(bins).astype(np.float64)
        out[i] = float(np.dot(counts, counts))
    return out


def detect_skew(image: Image.Image, *, max_angle: float = 10.0) -> Skew:
    """Measure the skew of a text page within +-``max_angle`` degrees (0.5-45)."""
    if not 0.5 <= max_angle <= 45:
        raise InvalidSetting("max_angle must be 0.5-45 degrees", field="max_angle",
                             allowed="0.5-45")
    points = _ink_points(image)
    if len(points) < MIN_POINTS:
        return Skew(0.0, 0.0)
    coarse = np.arange(-max_angle, max_angle + 1e-9, 0.25)
    scores = _sharpness(points, coarse)
    best = float(coarse[int(np.argmax(scores))])
    peak = float(scores.max())
    baseline = float(np.median(scores))
    for step, span in ((0.05, 0.25), (0.01, 0.05)):
        candidates = np.arange(best - span, best + span + 1e-9, step)
        fine = _sharpness(points, candidates)
        best = float(candidates[int(np.argmax(fine))])
        peak = float(fine.max())
    confidence = peak / baseline - 1.0 if baseline > 0 else 0.0
    # The profile is of y grows downwards: content turned counter-clockwise lines up at a
    # positive candidate angle, so the sign already follows PIL's convention.
    return Skew(round(best, 2) + 0.0, round(confidence, 3))


def deskew(image: Image.Image, *, max_angle: float = 10.0, fill: Fill = "auto",
           min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> tuple[Image.Image, Skew, bool]:
    """Detect the skew and rotate it away, keeping the page size (corners get ``fill``).

    Returns ``(image, skew, corrected)``; the page is left as it is (a copy) when the skew is
    under :data:`MIN_CORRECTION` degrees or the confidence under ``min_confidence``.
    """
    skew = detect_skew(image, max_angle=max_angle)
    if abs(skew.angle) < MIN_CORRECTION or skew.confidence < min_confidence:
        return image.copy(), skew, False
    logger.debug("deskew: rotating by %.2f deg (confidence %.2f)", -skew.angle, skew.confidence)
    return rotate(image, -skew.angle, fill=fill, expand=False), skew, True
