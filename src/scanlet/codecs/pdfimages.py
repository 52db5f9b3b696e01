"""A stored page as a PDF image XObject: the stream dictionary and its encoded data.

Promises (checked by tests/codecs/test_export_pdf.py, decoding back with pikepdf and
pypdfium2):

- JPEG pages: the stored bytes are the stream, with ``/DCTDecode``; nothing is re-encoded.
  One component is ``/DeviceGray``, three ``/DeviceRGB``; an embedded ICC profile becomes an
  ``/ICCBased`` colour space. CMYK JPEGs are refused (the buffer never stores them).
- Bilevel pages: CCITT Group 4 (``/CCITTFaxDecode``, ``/K -1``), pixel-exact. Group 4 is what
  PDF readers, archives and fax-era tooling expect for black-and-white scans, and is 5-10x
  smaller than Flate on text pages.
- Other PNG pages (8-bit grey, 16-bit grey, 8-bit RGB): the PNG's compressed data is the
  stream (``/FlateDecode`` with the PNG predictor), as img2pdf does; interlaced PNGs are
  decoded and compressed again with Flate. Lossless either way.

The pixel facts come from the file's header, not the buffer's index, so a wrong index entry
cannot produce a PDF whose image does not match its stream.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, TiffImagePlugin

from scanlet.codecs.decode import open_image
from scanlet.codecs.pages import decode_page
from scanlet.codecs.pdfwriter import Name, PdfValue
from scanlet.errors import ExportError
from scanlet.models import PageInfo

logger = logging.getLogger(__name__)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_GRAY, _RGB = 0, 2  # PNG colour types the buffer stores
_PHOTOMETRIC_MIN_IS_WHITE = 0


@dataclass(frozen=True)
class PdfImage:
    """An image XObject ready to write: ``entries`` plus ``data`` (encoded as they say).

    ``icc`` is an ICC profile the colour space refers to (the writer stores each distinct
    profile once and puts its reference in place of the ``/ICCBased`` placeholder).
    """

    width: int
    height: int
    entries: dict[str, PdfValue]
    data: bytes
    icc: bytes | None = None
    components: int = 0


def _device_space(components: int) -> Name:
    return Name("DeviceGray" if components == 1 else "DeviceRGB")


def jpeg_image(info: PageInfo, data: bytes) -> PdfImage:
    """The stored JPEG itself as a ``/DCTDecode`` stream (header parsed, pixels untouched)."""
    with open_image(data, "jpeg") as image:
        mode, (width, height) = image.mode, image.size
        icc = image.info.get("icc_profile") or None
    components = {"L": 1, "RGB": 3}.get(mode)
    if components is None:
        raise ExportError(f"page {info.id} is a {mode} JPEG, which Scanlet cannot put in a PDF",
                          page_id=info.id)
    entries: dict[str, PdfValue] = {
        "Type": Name("XObject"), "Subtype": Name("Image"), "Width": width, "Height": height,
        "ColorSpace": _device_space(components), "BitsPerComponent": 8,
        "Filter": Name("DCTDecode"),
    }
    return PdfImage(width, height, entries, data, icc, components)


def ccitt_g4(image: Image.Image) -> tuple[bytes, bool]:
    """Group 4 data of a bilevel image and whether 1 bits are black (``/BlackIs1``).

    libtiff encodes (through Pillow) into one strip, whose bytes are exactly the CCITT
    stream a PDF needs; the TIFF's photometric interpretation says which bit value is black.
    """
    out = io.BytesIO()
    image.save(out, format="TIFF", compression="group4",
               tiffinfo={TiffImagePlugin.ROWSPERSTRIP: image.height})
    with Image.open(out, formats=["TIFF"]) as tiff:
        if not isinstance(tiff, TiffImagePlugin.TiffImageFile):
            raise ValueError("Pillow did not write a TIFF")
        offsets = tiff.tag_v2[TiffImagePlugin.STRIPOFFSETS]
        counts = tiff.tag_v2[TiffImagePlugin.STRIPBYTECOUNTS]
        photometric = tiff.tag_v2.get(TiffImagePlugin.PHOTOMETRIC_INTERPRETATION)
        fill_order = tiff.tag_v2.get(TiffImagePlugin.FILLORDER, 1)
    if len(offsets) != 1 or fill_order != 1:
        raise ValueError("libtiff did not write a single MSB-first Group 4 strip")
    data = out.getbuffer()[offsets[0] : offsets[0] + counts[0]].tobytes()
    return data, photometric != _PHOTOMETRIC_MIN_IS_WHITE


def bilevel_image(info: PageInfo, data: bytes) -> PdfImage:
    """A bilevel page as a Group 4 ``/CCITTFaxDecode`` stream."""
    with decode_page(info, data) as image:
        g4, black_is_1 = ccitt_g4(image)
        width, height = image.size
    params: dict[str, PdfValue] = {"K": -1, "Columns": width, "Rows": height,
                                   "BlackIs1": black_is_1}
    entries: dict[str, PdfValue] = {
        "Type": Name("XObject"), "Subtype": Name("Image"), "Width": width, "Height": height,
        "ColorSpace": Name("DeviceGray"), "BitsPerComponent": 1,
        "Filter": Name("CCITTFaxDecode"), "DecodeParms": params,
    }
    return PdfImage(width, height, entries, g4, None, 1)


@dataclass(frozen=True)
class _Png:
    width: int
    height: int
    depth: int
    color_type: int
    interlaced: bool
    idat: bytes
    icc: bytes | None


def _icc_of(chunk: bytes) -> bytes | None:
    """The profile of an iCCP chunk (name, NUL, method, zlib data); None if unreadable."""
    name_end = chunk.find(b"\0")
    try:
        return zlib.decompress(chunk[name_end + 2 :]) if name_end > 0 else None
    except zlib.error:
        logger.warning("ignoring an unreadable ICC profile in a PNG page")
        return None


def _parse_png(data: bytes) -> _Png:
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    pos, header, chunks, icc = len(_PNG_SIGNATURE), None, [], None
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ValueError("PNG chunk runs past the end of the file")
        if kind == b"IHDR" and length == 13:
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"iCCP":
            icc = _icc_of(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not chunks:
        raise ValueError("PNG has no IHDR or no IDAT")
    width, height, depth, color_type, _, _, interlace = header
    return _Png(width, height, depth, color_type, interlace != 0, b"".join(chunks), icc)


def _raw_samples(image: Image.Image) -> tuple[bytes, int, int]:
    """Uncompressed samples, bits per component and components of a decoded page."""
    if image.mode.startswith("I"):
        array = np.asarray(image, dtype=np.uint16).astype(">u2")  # PDF samples are big-endian
        return array.tobytes(), 16, 1
    if image.mode in ("L", "RGB"):
        return image.tobytes(), 8, len(image.mode)
    raise ValueError(f"unsupported pixel layout {image.mode}")


def png_image(info: PageInfo, data: bytes) -> PdfImage:
    """A PNG page: bilevel as Group 4, others with their own Flate data (see module doc)."""
    png = _parse_png(data)
    if png.color_type == _GRAY and png.depth == 1:
        return bilevel_image(info, data)
    base: dict[str, PdfValue] = {
        "Type": Name("XObject"), "Subtype": Name("Image"), "Width": png.width,
        "Height": png.height, "Filter": Name("FlateDecode"),
    }
    components = {_GRAY: 1, _RGB: 3}.get(png.color_type)
    if components is not None and png.depth in (8, 16) and not png.interlaced:
        params: dict[str, PdfValue] = {"Predictor": 15, "Colors": components,
                                       "BitsPerComponent": png.depth, "Columns": png.width}
        entries = {**base, "ColorSpace": _device_space(components),
                   "BitsPerComponent": png.depth, "DecodeParms": params}
        return PdfImage(png.width, png.height, entries, png.idat, png.icc, components)
    with decode_page(info, data) as image:
        samples, bits, components = _raw_samples(image)
    entries = {**base, "ColorSpace": _device_space(components), "BitsPerComponent": bits}
    return PdfImage(png.width, png.height, entries, zlib.compress(samples, 6), png.icc,
                    components)


def page_image(info: PageInfo, data: bytes) -> PdfImage:
    """The XObject of a stored page (JPEG or PNG)."""
    if info.format == "jpeg":
        return jpeg_image(info, data)
    return png_image(info, data)
