"""Format detection by content: every allowed format is recognised, nothing else passes."""

from __future__ import annotations

import os

import img2pdf
import pytest

from scanlet.importing.detect import ALLOWED, detect
from scanlet.importing.errors import ImportInvalid, ImportUnsupportedFormat
from tests.importing.makers import encode, sample_image, tiff


@pytest.mark.parametrize(("fmt", "expected"), [
    ("JPEG", "jpeg"), ("PNG", "png"), ("TIFF", "tiff"), ("BMP", "bmp"), ("WEBP", "webp"),
])
def test_images_are_recognised_by_their_bytes(fmt: str, expected: str) -> None:
    assert detect(encode(sample_image(32, 24), fmt)[:1024]) == expected


def test_big_endian_tiff_and_pdf_are_recognised() -> None:
    assert detect(tiff([sample_image(8, 8)])) == "tiff"
    assert detect(b"MM\x00*\x00\x00\x00\x08") == "tiff"
    assert detect(img2pdf.convert(encode(sample_image(16, 16), "JPEG"))) == "pdf"


def test_pdf_header_after_leading_junk_within_1024_bytes() -> None:
    assert detect(b"\x00" * 500 + b"%PDF-1.7\n") == "pdf"
    with pytest.raises(ImportUnsupportedFormat):
        detect(b"\x00" * 1100 + b"%PDF-1.7\n")


def test_empty_file_is_invalid_not_unsupported() -> None:
    with pytest.raises(ImportInvalid) as caught:
        detect(b"")
    assert caught.value.code == "import_invalid"
    assert caught.value.http_status == 422


@pytest.mark.parametrize("data", [
    os.urandom(2048).replace(b"%PDF-", b"xxxxx"),
    b"This is a text file someone named invoice.pdf\n" * 20,
    b"GIF89a" + b"\x00" * 64,
    b"BM this is text that starts like a bitmap",  # 'BM' alone is not enough
    b"RIFF\x24\x00\x00\x00WAVEfmt ",  # RIFF, but audio
])
def test_other_content_is_unsupported_415(data: bytes) -> None:
    with pytest.raises(ImportUnsupportedFormat) as caught:
        detect(data[:1024])
    assert caught.value.code == "import_unsupported_format"
    assert caught.value.http_status == 415
    assert caught.value.detail["allowed"] == list(ALLOWED)
