"""JPEG and PNG export: one page gives that image, several pages give a ZIP of images.

Promises (checked by tests/codecs/test_raster.py):

- A page stored in the requested format is passed through byte for byte except for its
  resolution header (see codecs/dpi.py): no generation loss.
- A page stored in the other format is decoded once and encoded at ``quality`` (JPEG) or
  losslessly (PNG); bilevel and 16-bit pages become 8-bit grey in JPEG.
- The page's dpi from the buffer's index is recorded in every image.
- ZIP members are named ``page-001.jpg``, ``page-002.jpg``, ... (more digits past 999 pages),
  stored without recompression (the images are compressed already), one page in memory at a
  time; the destination need not be seekable.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from typing import BinaryIO

from scanlet.codecs.decode import EXTENSION, ImageFormat
from scanlet.codecs.dpi import with_dpi
from scanlet.codecs.pages import PageReader, Progress, decode_page
from scanlet.codecs.render import encode
from scanlet.models import PageInfo


def page_as(info: PageInfo, data: bytes, fmt: ImageFormat, *, quality: int) -> bytes:
    """The page as an encoded ``fmt`` image carrying the page's dpi."""
    if info.format == fmt:
        return with_dpi(data, fmt, info.dpi)
    with decode_page(info, data) as image:
        return encode(image, fmt, dpi=info.dpi, quality=quality)


def member_names(count: int, fmt: ImageFormat) -> list[str]:
    """``page-001.jpg`` ... with at least three digits, more when ``count`` needs them."""
    width = max(3, len(str(count)))
    return [f"page-{n:0{width}d}.{EXTENSION[fmt]}" for n in range(1, count + 1)]


def write_image(
    pages: Sequence[PageInfo],
    read: PageReader,
    dest: BinaryIO,
    progress: Progress,
    *,
    fmt: ImageFormat,
    quality: int,
) -> None:
    """Write one page as an image, or several as a ZIP of images."""
    total = len(pages)
    if total == 1:
        dest.write(page_as(pages[0], read(pages[0]), fmt, quality=quality))
        progress(1, 1)
        return
    names = member_names(total, fmt)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED) as archive:
        for done, (info, name) in enumerate(zip(pages, names, strict=True), 1):
            created = info.created.timetuple()[:6]
            member = zipfile.ZipInfo(name, date_time=max(created, (1980, 1, 1, 0, 0, 0)))
            archive.writestr(member, page_as(info, read(info), fmt, quality=quality))
            if done < total:
                progress(done, total)
    progress(total, total)
