"""JPEG, PNG, BMP and WebP export: one page gives that image, several give a ZIP of images.

Promises (checked by tests/codecs/test_export_raster.py):

- A page stored in the requested format (JPEG or PNG) is passed through byte for byte except
  for its resolution header, which is rewritten only when it does not already say the page's
  dpi (see codecs/dpi.py): no generation loss, and a scanned JPEG page comes out
  byte-identical to the stored one. ``reencode_jpeg`` re-encodes JPEG pages instead.
- Other pages are decoded once and encoded: JPEG at ``quality`` (progressive if asked), PNG
  and BMP losslessly, WebP lossy at ``quality`` or lossless. Formats without bilevel or
  16-bit samples get 8-bit grey (JPEG, WebP: WebP stores grey as RGB; BMP keeps bilevel).
- The page's dpi from the buffer's index is recorded in every image (JFIF, pHYs, the BMP
  header; WebP has no resolution field, so an EXIF block carries it).
- WebP holds at most 16383 pixels a side; larger pages are refused before anything is
  written (:func:`check_pages`).
- ZIP members are named ``page-001.jpg``, ``page-002.jpg``, ... (more digits past 999 pages),
  stored without recompression (the images are compressed already), one page in memory at a
  time; the destination need not be seekable.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from fractions import Fraction
from typing import BinaryIO, Literal

from PIL import Image

from scanlet.codecs.dpi import with_dpi
from scanlet.codecs.options import ExportOptions
from scanlet.codecs.pages import PageReader, Progress, decode_page
from scanlet.codecs.render import to_8bit
from scanlet.errors import InvalidSetting
from scanlet.models import PageInfo

RasterFormat = Literal["jpeg", "png", "bmp", "webp"]

MEDIA_TYPE: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png", "bmp": "image/bmp",
                              "webp": "image/webp"}
EXTENSION: dict[str, str] = {"jpeg": "jpg", "png": "png", "bmp": "bmp", "webp": "webp"}
_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "bmp": "BMP", "webp": "WEBP"}

#: Largest WebP side (libwebp's limit).
WEBP_MAX_SIDE = 16383
_EXIF_X_RESOLUTION, _EXIF_Y_RESOLUTION, _EXIF_RESOLUTION_UNIT = 0x011A, 0x011B, 0x0128
_INCHES = 2


def check_pages(pages: Sequence[PageInfo], fmt: RasterFormat) -> None:
    """Refuse pages the format cannot hold, before anything is written."""
    if fmt != "webp":
        return
    for index, info in enumerate(pages):
        if max(info.width, info.height) > WEBP_MAX_SIDE:
            raise InvalidSetting(
                f"page {index + 1} is {info.width}x{info.height} pixels; WebP images are at "
                f"most {WEBP_MAX_SIDE} pixels a side: choose PNG or TIFF",
                field="format", allowed=["jpeg", "png", "bmp", "tiff", "pdf"])


def _mode_for(image: Image.Image, fmt: RasterFormat) -> Image.Image:
    """Convert to a mode the encoder writes without guessing (see module docstring)."""
    if fmt == "png":
        return image
    image = to_8bit(image)
    if image.mode == "1" and fmt in ("jpeg", "webp"):
        image = image.convert("L")
    if image.mode == "L" and fmt == "webp":
        image = image.convert("RGB")
    return image


def _dpi_exif(dpi: float) -> bytes:
    exif = Image.Exif()
    density = Fraction(dpi).limit_denominator(1000)
    exif[_EXIF_X_RESOLUTION] = density
    exif[_EXIF_Y_RESOLUTION] = density
    exif[_EXIF_RESOLUTION_UNIT] = _INCHES
    return exif.tobytes()


def encode_image(image: Image.Image, fmt: RasterFormat, *, dpi: float,
                 options: ExportOptions) -> bytes:
    """Encode a decoded page as ``fmt`` with ``dpi`` recorded and the format's options."""
    image = _mode_for(image, fmt)
    save: dict[str, object] = {}
    if fmt == "jpeg":
        save.update(dpi=(dpi, dpi), quality=options.quality, subsampling="4:2:0",
                    progressive=options.progressive, optimize=options.progressive)
    elif fmt == "png":
        save.update(dpi=(dpi, dpi), compress_level=6)
    elif fmt == "bmp":
        save.update(dpi=(dpi, dpi))
    else:
        save.update(lossless=options.webp_lossless, exif=_dpi_exif(dpi), method=4,
                    quality=80 if options.webp_lossless else options.quality)
    out = io.BytesIO()
    image.save(out, format=_PIL_FORMAT[fmt], **save)
    return out.getvalue()


def page_as(info: PageInfo, data: bytes, fmt: RasterFormat, options: ExportOptions) -> bytes:
    """The page as an encoded ``fmt`` image carrying the page's dpi."""
    if info.format == fmt and not (fmt == "jpeg" and options.reencode_jpeg):
        return with_dpi(data, info.format, info.dpi)
    with decode_page(info, data, "webp" if fmt == "webp" else "view") as image:
        return encode_image(image, fmt, dpi=info.dpi, options=options)


def member_names(count: int, fmt: RasterFormat) -> list[str]:
    """``page-001.jpg`` ... with at least three digits, more when ``count`` needs them."""
    width = max(3, len(str(count)))
    return [f"page-{n:0{width}d}.{EXTENSION[fmt]}" for n in range(1, count + 1)]


def write_image(
    pages: Sequence[PageInfo],
    read: PageReader,
    dest: BinaryIO,
    progress: Progress,
    *,
    fmt: RasterFormat,
    options: ExportOptions,
) -> None:
    """Write one page as an image, or several as a ZIP of images."""
    check_pages(pages, fmt)
    total = len(pages)
    if total == 1:
        dest.write(page_as(pages[0], read(pages[0]), fmt, options))
        progress(1, 1)
        return
    names = member_names(total, fmt)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED) as archive:
        for done, (info, name) in enumerate(zip(pages, names, strict=True), 1):
            created = info.created.timetuple()[:6]
            member = zipfile.ZipInfo(name, date_time=max(created, (1980, 1, 1, 0, 0, 0)))
            archive.writestr(member, page_as(info, read(info), fmt, options))
            if done < total:
                progress(done, total)
    progress(total, total)
