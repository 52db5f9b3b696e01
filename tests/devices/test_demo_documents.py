"""Each document of the demo scanner is what it claims, checked with independent tools:
tesseract reads the letters, zxing-cpp the invoice's codes, and the project's own patch-code,
blank-page and skew detectors find the separator sheets and the skewed memo."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from scanlet.barcodes.patch import PatchKind, find_patches
from scanlet.devices.demo.invoice import CODE128_TEXT, QR_TEXT
from scanlet.devices.demo.photo import PHOTO
from scanlet.devices.demo.stack import DEFAULT_STACK, SKEW_DEG
from scanlet.devices.registry import load_driver
from scanlet.imaging.blank import is_blank
from scanlet.imaging.deskew import detect_skew
from tests.devices.sinks import run_scan

DEVICE = "demo:scanner"


def sheet(name: str, *, source: str = "feeder", **settings: Any) -> list[Image.Image]:
    """The pages the demo feeder (or ``source``) gives for the one sheet ``name``."""
    settings = {"mode": "gray", "resolution": 150, **settings}
    sink = run_scan(load_driver("demo"), device=DEVICE, source=source,
                    raw_options={"stack": name}, **settings)
    return sink.images()


def ocr(image: Image.Image, tmp_path: Path) -> str:
    """The text tesseract reads on ``image`` (the CLI, English)."""
    path = tmp_path / "page.png"
    image.save(path)
    done = subprocess.run(["tesseract", str(path), "stdout", "-l", "eng"], check=True,
                          capture_output=True, text=True, timeout=120)
    return done.stdout


def test_the_feeder_holds_the_whole_stack_in_order() -> None:
    assert DEFAULT_STACK == ("letter", "invoice", "patch-t", "form", "skewed", "blank",
                             "two-sided", "photo")


@pytest.mark.parametrize("resolution", [150, 300])
def test_tesseract_reads_the_letter_on_the_flatbed(resolution: int, tmp_path: Path) -> None:
    sink = run_scan(load_driver("demo"), device=DEVICE, source="flatbed", mode="gray",
                    resolution=resolution)
    text = ocr(sink.images()[0], tmp_path)
    for words in ("Dear Ms Johnson", "Northwind Paper Company", "delivery", "Yours sincerely",
                  "patch sheet"):
        assert words in text, (words, text)


def test_tesseract_reads_the_form_and_the_two_sides_of_the_agreement(tmp_path: Path) -> None:
    form = ocr(sheet("form")[0], tmp_path)
    for words in ("Application for a library card", "Surname", "Membership", "Signature"):
        assert words in form, (words, form)
    front, back = sheet("two-sided", source="duplex")
    front_text, back_text = ocr(front, tmp_path), ocr(back, tmp_path)
    assert "Rental agreement" in front_text and "Page 1 of 2" in front_text
    assert "Signatures" in back_text and "Page 2 of 2" in back_text
    assert "Rental agreement" not in back_text


@pytest.mark.parametrize(("mode", "resolution"), [("color", 200), ("gray", 150), ("bw", 300)])
def test_zxing_reads_the_qr_code_and_the_code_128_of_the_invoice(mode: str,
                                                                 resolution: int) -> None:
    (page,) = sheet("invoice", mode=mode, resolution=resolution)
    found = {(r.format, r.text) for r in zxingcpp.read_barcodes(page)}
    assert found == {(zxingcpp.BarcodeFormat.QRCode, QR_TEXT),
                     (zxingcpp.BarcodeFormat.Code128, CODE128_TEXT)}


@pytest.mark.parametrize("resolution", [100, 300])
def test_the_patch_detector_finds_patch_t_on_the_separator_sheet_only(resolution: int) -> None:
    pages = run_scan(load_driver("demo"), device=DEVICE, source="feeder", mode="gray",
                     resolution=resolution).images()
    found = [[p.kind for p in find_patches(page, dpi=resolution)] for page in pages]
    assert found == [[] if name != "patch-t" else [PatchKind.PATCH_T] for name in DEFAULT_STACK]


def test_the_blank_detector_finds_the_blank_sheet_and_the_blank_backs() -> None:
    pages = run_scan(load_driver("demo"), device=DEVICE, source="duplex", mode="gray",
                     resolution=150).images()
    blank = [is_blank(page, 150).blank for page in pages]
    fronts, backs = blank[0::2], blank[1::2]
    assert fronts == [name == "blank" for name in DEFAULT_STACK]
    assert backs == [name != "two-sided" for name in DEFAULT_STACK]


def test_the_skew_detector_measures_the_skewed_memo() -> None:
    (skewed,) = sheet("skewed")
    (letter,) = sheet("letter")
    assert detect_skew(skewed).angle == pytest.approx(SKEW_DEG, abs=0.3)
    assert abs(detect_skew(letter).angle) < 0.3


def test_the_photo_is_colourful() -> None:
    (page,) = sheet("photo", mode="color", resolution=100)
    assert page.mode == "RGB"
    left, top, width, height = (round(v / 25.4 * 100) for v in PHOTO)
    pixels = np.asarray(page.crop((left, top, left + width, top + height)).convert("HSV"))
    hues = np.unique(pixels[..., 0][pixels[..., 1] > 80] // 16)
    assert len(hues) >= 8  # blues, purples, greens, reds, yellows...
    assert float(pixels[..., 1].mean()) > 80  # saturated, not a grey picture
    assert not is_blank(page, 100).blank


def test_without_dejavu_the_letter_is_printed_in_pillows_own_font(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from scanlet.devices.demo import fonts

    try:
        with monkeypatch.context() as patch:
            patch.setattr(fonts, "_FOLDERS", ())
            fonts.font_file.cache_clear()
            fonts.font.cache_clear()
            assert fonts.font_file("serif") is None
            (fallback,) = sheet("letter", resolution=200)
    finally:
        fonts.font_file.cache_clear()
        fonts.font.cache_clear()
    (dejavu,) = sheet("letter", resolution=200)
    assert fallback.tobytes() != dejavu.tobytes()
    text = ocr(fallback, tmp_path)
    assert "Johnson" in text and "delivery" in text, text
