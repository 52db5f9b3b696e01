"""Multi-page TIFF export: one frame per page, each frame with its own dpi.

Promises (checked by tests/codecs/test_export_tiff.py with Pillow reading every frame back):

- Compression per :class:`~scanlet.codecs.options.TiffCompression`. ``auto``: bilevel pages
  CCITT Group 4, grey and colour pages LZW with horizontal differencing (predictor 2). LZW is
  part of baseline TIFF 6.0 and every reader has it; with the predictor it is within 20 % of
  Deflate's size on scans at half the encoding time (measured on an A4 300 dpi colour page:
  21.7 MB / 0.36 s vs 17.8 MB / 0.66 s). Deflate gets the predictor too.
- Lossless except with ``jpeg``: a JPEG page is decoded once and its pixels are kept exactly;
  16-bit grey stays 16-bit; Group 4, LZW, Deflate and uncompressed frames read back
  pixel-exact. ``jpeg`` encodes grey and colour frames at the export's quality (16-bit grey
  as 8-bit) and keeps bilevel frames Group 4.
- ``XResolution``/``YResolution`` carry the page's dpi from the buffer's index.
- The first frame carries the document metadata: DocumentName (title), ImageDescription
  (subject), Artist (author), DateTime (creation date), Software, and an XMP packet with all
  of them plus the keywords (ASCII tags show non-ASCII letters as "?"; XMP keeps them).
- Classic TIFF offsets are 32-bit, so a file cannot pass 4 GiB (about 190 A4 colour pages at
  300 dpi). Before each frame the writer checks that the frame's uncompressed size (plus 10 %,
  an upper bound for LZW) still fits, and otherwise raises ExportError telling the user to
  export fewer pages per file or choose PDF. BigTIFF is not an option: Pillow writes
  compressed frames through libtiff in classic mode only, and many readers lack BigTIFF.

Memory: frames are appended one at a time with Pillow's ``AppendingTiffWriter`` (Pillow's
``save_all`` would keep every decoded page alive until the end), so peak memory is one decoded
page. The writer needs a readable, seekable file; other destinations get an anonymous
temporary file (in the buffer's ``cache/tmp``) that is copied over at the end.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from PIL import Image, TiffImagePlugin

from scanlet.codecs.metadata import Properties, tiff_tags
from scanlet.codecs.options import TiffCompression
from scanlet.codecs.pages import PageReader, Progress, decode_page
from scanlet.codecs.render import to_8bit
from scanlet.errors import ExportError, InvalidSetting
from scanlet.models import ColorMode, PageInfo

logger = logging.getLogger(__name__)

_PREDICTOR_TAG = 317
_HORIZONTAL_DIFFERENCING = 2
#: Largest classic TIFF file (32-bit offsets).
SIZE_LIMIT = 2**32
_BYTES_PER_SAMPLE = {1: 0.125, 8: 1, 16: 2}
_PILLOW_NAME = {
    TiffCompression.LZW: "tiff_lzw",
    TiffCompression.DEFLATE: "tiff_adobe_deflate",
    TiffCompression.JPEG: "jpeg",
    TiffCompression.NONE: "raw",
}


def frame_bound(info: PageInfo) -> int:
    """An upper bound of a page's size as an LZW/Group 4 frame: raw size plus 10 %."""
    channels = 3 if info.mode == "color" else 1
    raw = info.width * info.height * channels * _BYTES_PER_SAMPLE.get(info.bit_depth, 2)
    return int(raw * 1.1) + 64 * 1024


def check_compression(pages: Sequence[PageInfo], compression: TiffCompression) -> None:
    """Refuse Group 4 for a selection with grey or colour pages (before anything is written)."""
    if compression != TiffCompression.G4:
        return
    for index, info in enumerate(pages):
        if info.mode != ColorMode.BW:
            raise InvalidSetting(
                f"Group 4 compresses black-and-white pages only; page {index + 1} is "
                f"{info.mode}: choose 'auto' (Group 4 for black-and-white pages, LZW for the "
                "others) or another compression", field="tiff_compression",
                allowed=[c.value for c in TiffCompression])


def _frame(image: Image.Image, dpi: float, compression: TiffCompression, quality: int,
           tags: dict[int, object]) -> tuple[Image.Image, dict[str, object]]:
    """The image to save (converted if the compression needs it) and its save options."""
    bilevel = image.mode == "1"
    if bilevel and compression in (TiffCompression.AUTO, TiffCompression.G4,
                                   TiffCompression.JPEG):
        return image, {"dpi": (dpi, dpi), "compression": "group4", "tiffinfo": tags}
    if compression == TiffCompression.AUTO:
        compression = TiffCompression.LZW
    options: dict[str, object] = {"dpi": (dpi, dpi), "compression": _PILLOW_NAME[compression]}
    if compression == TiffCompression.JPEG:
        return to_8bit(image), {**options, "quality": quality, "tiffinfo": tags}
    if compression in (TiffCompression.LZW, TiffCompression.DEFLATE) and not bilevel:
        tags = {**tags, _PREDICTOR_TAG: _HORIZONTAL_DIFFERENCING}
    return image, {**options, "tiffinfo": tags}


@contextmanager
def _random_access(dest: BinaryIO, workdir: Path | None) -> Iterator[BinaryIO]:
    """``dest`` itself if it can be read and seeked, else a temporary file copied to it."""
    try:
        usable = dest.seekable() and dest.readable()
    except (AttributeError, ValueError):
        usable = False
    if usable:
        yield dest
        return
    with tempfile.TemporaryFile(dir=workdir) as spool:
        yield spool
        spool.seek(0)
        shutil.copyfileobj(spool, dest, 1024 * 1024)


def write_tiff(
    pages: Sequence[PageInfo],
    read: PageReader,
    dest: BinaryIO,
    progress: Progress,
    *,
    workdir: Path | None = None,
    compression: TiffCompression = TiffCompression.AUTO,
    quality: int = 90,
    properties: Properties | None = None,
) -> None:
    """Write ``pages`` as one multi-page TIFF to ``dest``; ExportError past 4 GiB.

    ``properties`` (document metadata) go into the first frame.
    """
    check_compression(pages, compression)
    total = len(pages)
    tags: dict[int, object] = dict(tiff_tags(properties or Properties.of(None)))
    with _random_access(dest, workdir) as fh, TiffImagePlugin.AppendingTiffWriter(fh) as tiff:
        start = fh.tell()
        for done, info in enumerate(pages, 1):
            if fh.seek(0, 2) - start + frame_bound(info) >= SIZE_LIMIT:
                raise ExportError(
                    f"the TIFF file would pass the 4 GiB limit of the TIFF format at page "
                    f"{done} of {total}; export fewer pages per file, or choose PDF",
                    format="tiff", page_index=done - 1,
                )
            with decode_page(info, read(info)) as image:
                frame, options = _frame(image, info.dpi, compression, quality,
                                        dict(tags) if done == 1 else {})
                frame.save(tiff, format="TIFF", **options)
            tiff.newFrame()
            if done < total:
                progress(done, total)
    progress(total, total)
