"""Deskew: detection accuracy and sign on scanned pages, correction measured independently
(registration squares printed on the page), and no action on pages without text lines."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from PIL import Image

from scanlet.errors import InvalidSetting
from scanlet.imaging.deskew import deskew, detect_skew
from scanlet.imaging.ops import gray_array
from tests.imaging.conftest import Scanner
from tests.imaging.pages import near_blank_page, skewed, sparse_text_page

TOLERANCE = 0.3


def mark_angle(image: Image.Image) -> float:
    """Counter-clockwise tilt (degrees) of the line through the two registration squares."""
    ink = (gray_array(image) < 128).astype(np.uint8)
    count, _, stats, centroids = cv2.connectedComponentsWithStats(ink, connectivity=8)
    squares = [i for i in range(1, count) if 3000 <= stats[i, cv2.CC_STAT_AREA] <= 4500]
    assert len(squares) == 2, f"expected the two registration squares, found {len(squares)}"
    (x1, y1), (x2, y2) = sorted(tuple(centroids[i]) for i in squares)
    return math.degrees(math.atan2(-(y2 - y1), x2 - x1))


@pytest.mark.parametrize("angle", [3.2, -3.2, 0.8])
def test_detects_known_skew_with_sign(skewed_scans: dict[float, Image.Image],
                                      angle: float) -> None:
    page = skewed_scans[angle]
    assert mark_angle(page) == pytest.approx(angle, abs=0.05)  # the page really is skewed
    found = detect_skew(page)
    assert found.angle == pytest.approx(angle, abs=TOLERANCE)
    assert found.confidence > 1.0


@pytest.mark.parametrize("angle", [3.2, -3.2])
def test_deskew_corrects_to_within_tolerance(skewed_scans: dict[float, Image.Image],
                                             angle: float) -> None:
    page = skewed_scans[angle]
    corrected, skew, applied = deskew(page)
    assert applied
    assert corrected.size == page.size and corrected.mode == page.mode
    assert abs(mark_angle(corrected)) <= TOLERANCE
    assert abs(mark_angle(corrected)) < abs(mark_angle(page)) / 10
    assert skew.angle == pytest.approx(angle, abs=TOLERANCE)


def test_straight_page_is_left_alone(skewed_scans: dict[float, Image.Image]) -> None:
    page = skewed_scans[0.0]
    found = detect_skew(page)
    assert abs(found.angle) < 0.1
    out, _, applied = deskew(page)
    assert not applied
    assert np.array_equal(np.asarray(out), np.asarray(page))


def test_colour_and_bilevel_pages(skewed_scans: dict[float, Image.Image]) -> None:
    page = skewed_scans[3.2]
    colour = page.convert("RGB")
    bilevel = page.point(lambda v: 255 if v >= 128 else 0).convert("1")
    for image in (colour, bilevel):
        corrected, skew, applied = deskew(image)
        assert applied and corrected.mode == image.mode
        assert skew.angle == pytest.approx(3.2, abs=TOLERANCE)
        assert abs(mark_angle(corrected)) <= TOLERANCE


def test_sparse_text_page(scan: Scanner) -> None:
    page = scan(skewed(sparse_text_page(3), -2.0))
    assert detect_skew(page).angle == pytest.approx(-2.0, abs=TOLERANCE)


def test_blank_page_has_no_confidence(scan: Scanner) -> None:
    page = scan(near_blank_page(0))
    out, skew, applied = deskew(page)
    assert skew.confidence < 0.5
    assert not applied
    assert np.array_equal(np.asarray(out), np.asarray(page))


def test_fill_of_corners(skewed_scans: dict[float, Image.Image]) -> None:
    page = skewed_scans[3.2]
    black, _, _ = deskew(page, fill="black")
    auto, _, _ = deskew(page, fill="auto")
    assert np.asarray(black)[0, 0] == 0
    assert np.asarray(auto)[0, 0] > 200  # the paper's tone


def test_max_angle_is_validated() -> None:
    with pytest.raises(InvalidSetting) as info:
        detect_skew(Image.new("L", (100, 100), 255), max_angle=60)
    assert info.value.detail["field"] == "max_angle"
