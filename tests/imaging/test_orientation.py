"""Upright by text orientation: real Tesseract OSD on a scanned page in all four positions."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from scanlet.errors import InvalidSetting, ScanletError
from scanlet.imaging import orientation
from scanlet.imaging.ops import rotate
from scanlet.imaging.orientation import Orientation, detect_orientation, parse_osd, rotate_upright

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="tesseract is not installed")

OSD_REPORT = b"""Page number: 0
Orientation in degrees: 270
Rotate: 90
Orientation confidence: 18.73
Script: Latin
Script confidence: 16.00
"""


@pytest.fixture(scope="module")
def upper_half(text_scan: Image.Image) -> Image.Image:
    """The top half of a scanned text page (half the OSD time of a full page)."""
    return text_scan.crop((0, 0, text_scan.width, text_scan.height // 2))


def test_parse_osd() -> None:
    assert parse_osd(OSD_REPORT) == Orientation(90, 18.73, "Latin")
    assert parse_osd(b"Warning: something\n") == Orientation(0, 0.0)
    assert parse_osd(b"Rotate: 45\nOrientation confidence: 3\n") == Orientation(0, 0.0)


@needs_tesseract
@pytest.mark.parametrize("angle", [90, 180, 270])
def test_turned_page_is_turned_back_exactly(upper_half: Image.Image, angle: int) -> None:
    turned = rotate(upper_half, angle)  # content turned counter-clockwise by ``angle``
    upright, found, rotated = rotate_upright(turned, 300)
    assert found.angle == angle
    assert found.confidence >= orientation.DEFAULT_MIN_CONFIDENCE
    assert rotated
    assert np.array_equal(np.asarray(upright), np.asarray(upper_half))  # quarter turns: exact


@needs_tesseract
def test_upright_page_is_left_alone(upper_half: Image.Image) -> None:
    out, found, rotated = rotate_upright(upper_half, 300)
    assert (found.angle, rotated) == (0, False)
    assert found.detected and found.script == "Latin"
    assert np.array_equal(np.asarray(out), np.asarray(upper_half))


@needs_tesseract
def test_page_without_text_is_not_an_error() -> None:
    blank = Image.new("L", (1240, 1754), 250)
    found = detect_orientation(blank, 150)
    assert found == Orientation(0, 0.0)
    assert not found.detected
    out, _, rotated = rotate_upright(blank, 150)
    assert not rotated and out.size == blank.size


@needs_tesseract
@pytest.mark.parametrize("size", [(60000, 1), (2, 50000)])
def test_strip_longer_than_tesseract_reads_is_not_an_error(size: tuple[int, int]) -> None:
    """Tesseract refuses sides above 32767 px ("Image too large", which was ocr_failed, a
    500): OSD gets the strip reduced to fit, and finds no text in it."""
    strip = Image.new("L", size, 250)
    assert detect_orientation(strip, 150) == Orientation(0, 0.0)
    out, _, rotated = rotate_upright(strip, 150)
    assert not rotated and out.size == size


def test_low_confidence_is_not_acted_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orientation, "detect_orientation",
                        lambda image, dpi, timeout: Orientation(180, 1.2, "Latin"))
    image = Image.new("L", (30, 20), 255)
    out, found, rotated = rotate_upright(image, 300)
    assert found.angle == 180 and not rotated and out.size == (30, 20)
    _, _, rotated = rotate_upright(image, 300, min_confidence=1.0)
    assert rotated
    with pytest.raises(InvalidSetting):
        rotate_upright(image, 300, min_confidence=-1)


def test_missing_tesseract_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ScanletError, match="tesseract-ocr-osd"):
        detect_orientation(Image.new("L", (100, 100), 255))


@needs_tesseract
def test_timeout_is_a_clear_error(upper_half: Image.Image) -> None:
    with pytest.raises(ScanletError, match="took more than"):
        detect_orientation(upper_half, 300, timeout=0.001)
