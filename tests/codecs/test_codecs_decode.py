"""Safe decoding: expected format only, bomb limits, accepted pixel layouts, facts."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from scanlet.codecs import decode
from scanlet.codecs.decode import ImageDecodeError, inspect, open_image
from tests.buffer.testdata import make_jpeg, make_png


def png_claiming(width: int, height: int) -> bytes:
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def test_facts() -> None:
    facts = inspect(make_png(40, 30, mode="1", dpi=150), "png", full_decode=True)
    assert (facts.width, facts.height, facts.mode, facts.bit_depth) == (40, 30, "bw", 1)
    assert facts.dpi == 150.0  # snapped from 150.0124 (pixels per metre)
    assert inspect(make_jpeg(dpi=None), "jpeg").dpi is None
    assert inspect(make_png(mode="I;16"), "png").bit_depth == 16


def test_only_the_expected_format() -> None:
    gif = io.BytesIO()
    Image.new("L", (4, 4)).save(gif, "GIF")
    bmp = io.BytesIO()
    Image.new("RGB", (4, 4)).save(bmp, "BMP")
    for data in (gif.getvalue(), bmp.getvalue()):
        for fmt in ("png", "jpeg"):
            with pytest.raises(ImageDecodeError, match="not a readable"):
                open_image(data, fmt)


def test_bomb_refused_from_header(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImageDecodeError, match="too large"):
        open_image(png_claiming(60_000, 60_000), "png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert decode.max_pixels() == 1000
    with pytest.raises(ImageDecodeError, match="too large"):
        open_image(make_png(40, 30), "png")  # 1200 px: between 1x and 2x (Pillow only warns)
    with pytest.raises(ImageDecodeError, match="too large"):
        open_image(make_png(50, 50), "png")  # beyond 2x: Pillow's own error


def test_16_bit_colour_png_refused() -> None:
    # Pillow cannot write 16-bit RGB PNGs; patch the IHDR depth of an 8-bit one instead.
    data = bytearray(make_png(4, 4))
    assert data[24] == 8
    data[24] = 16
    ihdr = bytes(data[12:29])
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    with pytest.raises(ImageDecodeError, match="16-bit colour"):
        inspect(bytes(data), "png")
