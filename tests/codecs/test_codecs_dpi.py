"""Resolution headers rewritten without touching the image data."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from scanlet.codecs.decode import ImageDecodeError
from scanlet.codecs.dpi import jpeg_with_dpi, png_with_dpi, with_dpi
from tests.buffer.testdata import decoded, image_of, make_jpeg, make_png, to_bytes


def strip_jfif(data: bytes) -> bytes:
    assert data[2:4] == b"\xff\xe0"
    (length,) = struct.unpack(">H", data[4:6])
    return data[:2] + data[4 + length :]


def png_chunks(data: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def test_jpeg_density_patched_in_place() -> None:
    original = make_jpeg(dpi=72)
    patched = jpeg_with_dpi(original, 299.6)
    assert len(patched) == len(original)
    assert decoded(patched).info["dpi"] == (300, 300)
    assert np.array_equal(np.asarray(decoded(patched)), np.asarray(decoded(original)))
    assert jpeg_with_dpi(patched, 300) == patched  # already right: unchanged


def test_jpeg_without_jfif_gets_one() -> None:
    exif = Image.Exif()
    exif[0x010F] = "ScannerMaker"
    with_exif = to_bytes(image_of(40, 30), "jpeg", dpi=None, exif=exif.tobytes())
    bare = strip_jfif(with_exif)
    assert b"JFIF" not in bare[:30]
    patched = jpeg_with_dpi(bare, 600)
    image = decoded(patched)
    assert image.info["dpi"] == (600, 600)
    assert image.getexif()[0x010F] == "ScannerMaker"
    assert np.array_equal(np.asarray(image), np.asarray(decoded(bare)))


def test_png_phys_replaced_after_ihdr() -> None:
    original = make_png(dpi=72)
    patched = png_with_dpi(original, 300)
    kinds = png_chunks(patched)
    assert kinds[:2] == [b"IHDR", b"pHYs"] and kinds.count(b"pHYs") == 1
    assert kinds[-1] == b"IEND"
    image = decoded(patched)
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.02)
    assert np.array_equal(np.asarray(image), np.asarray(decoded(original)))
    no_phys = make_png(dpi=None)
    assert b"pHYs" not in no_phys
    assert decoded(with_dpi(no_phys, "png", 150)).info["dpi"] == pytest.approx((150, 150),
                                                                                abs=0.02)


@pytest.mark.parametrize(("func", "data"), [
    (jpeg_with_dpi, b"\x89PNG not jpeg"),
    (png_with_dpi, b"\xff\xd8 not png"),
    (png_with_dpi, b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x05IDAT" + b"x" * 9),
    (png_with_dpi, b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x10\x00IHDR" + b"x" * 9),
])
def test_refuses_non_images(func: object, data: bytes) -> None:
    with pytest.raises(ImageDecodeError):
        func(data, 300)  # type: ignore[operator]


def test_round_trip_through_io() -> None:
    # The patched file is a normal file for any reader, not only Pillow's lenient one.
    patched = jpeg_with_dpi(strip_jfif(make_jpeg()), 200)
    out = io.BytesIO()
    decoded(patched).save(out, "PNG")
    assert out.getvalue().startswith(b"\x89PNG")
