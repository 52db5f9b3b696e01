"""Set the resolution recorded in an encoded JPEG or PNG without re-encoding its pixels.

A page's dpi lives in the buffer's index; the scanner's file may carry none or another value
(JFIF "aspect only", a missing pHYs chunk). When a page is exported as its own format the
original bytes are passed through unchanged except for this header, so no generation is lost
and every reader sees the right physical size.

- JPEG: the JFIF APP0 segment's density fields are rewritten (units = dots per inch); when the
  file has no JFIF segment (e.g. Exif-only), a minimal one is inserted right after SOI, which is
  where JFIF requires it. Readers that see both JFIF and Exif use JFIF's density.
- PNG: any ``pHYs`` chunk is dropped and a new one (pixels per metre) is written right after
  ``IHDR``, before any ``IDAT`` as the PNG spec requires.
"""

from __future__ import annotations

import math
import struct
import zlib

from scanlet.codecs.decode import ImageDecodeError, ImageFormat
from scanlet.errors import InvalidSetting

#: The largest resolution a page may have in the buffer (the store's and the importers' bound:
#: files record up to this much); any positive value up to it is a page's dpi.
MAX_PAGE_DPI = 100_000.0

_SOI = b"\xff\xd8"
_APP0 = b"\xff\xe0"
_JFIF = b"JFIF\x00"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_INCH_M = 0.0254


def check_page_dpi(dpi: float) -> None:
    """Refuse a dpi no page can have (InvalidSetting). Processing a page (blank check, edits,
    orientation) accepts every dpi the buffer keeps: a narrower range there left pages that
    were imported at, say, 9600 or 50000 dpi refused by every edit, the dpi edit included."""
    if not (math.isfinite(dpi) and 0 < dpi <= MAX_PAGE_DPI):
        raise InvalidSetting(f"dpi must be a positive number up to {MAX_PAGE_DPI:g}",
                             field="dpi", allowed={"min_exclusive": 0, "max": MAX_PAGE_DPI})


def _jfif_density(dpi: float) -> int:
    return max(1, min(65535, round(dpi)))


def jpeg_with_dpi(data: bytes, dpi: float) -> bytes:
    """``data`` with its JFIF density set to ``dpi`` (rounded, as JFIF stores integers)."""
    if not data.startswith(_SOI):
        raise ImageDecodeError("not a JPEG file (no SOI marker)")
    density = _jfif_density(dpi)
    fields = struct.pack(">BHH", 1, density, density)
    if data[2:4] == _APP0 and data[6:11] == _JFIF and len(data) >= 18:
        # SOI(2) APP0(2) length(2) "JFIF\0"(5) version(2) -> units at 13, densities 14..17.
        if data[13:18] == fields:
            return data
        return data[:13] + fields + data[18:]
    segment = _APP0 + struct.pack(">H", 16) + _JFIF + b"\x01\x01" + fields + b"\x00\x00"
    return _SOI + segment + data[2:]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_with_dpi(data: bytes, dpi: float) -> bytes:
    """``data`` with a ``pHYs`` chunk saying ``dpi`` (stored as pixels per metre)."""
    if not data.startswith(_PNG_SIGNATURE):
        raise ImageDecodeError("not a PNG file (bad signature)")
    ppm = max(1, round(dpi / _INCH_M))
    phys = _png_chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1))
    out = [_PNG_SIGNATURE]
    pos = len(_PNG_SIGNATURE)
    first = True
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ImageDecodeError("PNG chunk runs past the end of the file")
        if first and kind != b"IHDR":
            raise ImageDecodeError("PNG does not start with IHDR")
        if kind != b"pHYs":
            out.append(data[pos:end])
        if first:
            out.append(phys)
            first = False
        pos = end
        if kind == b"IEND":
            break
    if first:
        raise ImageDecodeError("PNG has no chunks")
    return b"".join(out)


def with_dpi(data: bytes, fmt: ImageFormat, dpi: float) -> bytes:
    """Dispatch to :func:`jpeg_with_dpi` or :func:`png_with_dpi`."""
    if fmt == "jpeg":
        return jpeg_with_dpi(data, dpi)
    return png_with_dpi(data, dpi)
