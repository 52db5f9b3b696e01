"""Export a selection of buffer pages as PDF, multi-page TIFF, JPEG or PNG (ZIP if several).

This is the one entry point the API, the CLI and the uploader call. It resolves every page
first, so an unknown id fails before a byte is written, then hands the pages to the writer of
the format (codecs/pdf.py, codecs/tiff.py, codecs/raster.py; each states its promises).
Pages are read one at a time and bypass the buffer's RAM cache, so exporting hundreds of pages
neither holds them all in memory nor evicts the pages a viewer is looking at.

Foreign failures (Pillow, img2pdf, pikepdf, I/O) become :class:`~scanlet.errors.ExportError`;
Scanlet errors (PageNotFound, PageCorrupt, ...) pass through unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Literal, get_args

import img2pdf
import pikepdf

from scanlet.codecs.decode import MEDIA_TYPE, ImageDecodeError
from scanlet.codecs.pages import PageSource, Progress, no_progress
from scanlet.codecs.pdf import write_pdf
from scanlet.codecs.raster import write_image
from scanlet.codecs.tiff import write_tiff
from scanlet.errors import ExportError, InvalidSetting, ScanletError
from scanlet.models import PageInfo

logger = logging.getLogger(__name__)

ExportFormat = Literal["pdf", "tiff", "jpeg", "png"]
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)

PDF_MEDIA_TYPE = "application/pdf"
TIFF_MEDIA_TYPE = "image/tiff"
ZIP_MEDIA_TYPE = "application/zip"


def media_type(fmt: ExportFormat, page_count: int) -> str:
    """The media type :func:`export_pages` produces for ``fmt`` and that many pages."""
    if fmt == "pdf":
        return PDF_MEDIA_TYPE
    if fmt == "tiff":
        return TIFF_MEDIA_TYPE
    return MEDIA_TYPE[fmt] if page_count == 1 else ZIP_MEDIA_TYPE


def export_pages(
    store: PageSource,
    page_ids: Sequence[str],
    fmt: ExportFormat,
    dest: BinaryIO,
    progress: Progress | None = None,
    *,
    quality: int = 90,
    workdir: Path | None = None,
) -> str:
    """Write the pages ``page_ids`` (in that order) to ``dest`` as ``fmt``; return the media type.

    ``progress(done, total)`` is called as pages finish and once with ``(total, total)`` when
    the output is complete; raising from it aborts the export (``dest`` is then incomplete).
    ``quality`` is used only where a page must be encoded as JPEG. ``workdir`` is where large
    exports put scratch files (default: ``store.temp_dir``, the buffer's ``cache/tmp``).
    """
    if fmt not in EXPORT_FORMATS:
        raise InvalidSetting(
            f"unknown export format {fmt!r}", field="format", allowed=list(EXPORT_FORMATS)
        )
    if not page_ids:
        raise InvalidSetting("select at least one page to export", field="page_ids")
    if not 1 <= quality <= 100:
        raise InvalidSetting("quality must be 1-100", field="quality", allowed=[1, 100])
    pages = [store.get_page(page_id) for page_id in page_ids]
    report = progress or no_progress
    scratch = workdir if workdir is not None else store.temp_dir

    def read(info: PageInfo) -> bytes:
        return store.read_original(info.id, cache=False)

    started = time.perf_counter()
    try:
        if fmt == "pdf":
            write_pdf(pages, read, dest, report, workdir=scratch)
        elif fmt == "tiff":
            write_tiff(pages, read, dest, report, workdir=scratch)
        else:
            write_image(pages, read, dest, report, fmt=fmt, quality=quality)
    except ScanletError:
        raise
    except (
        OSError,
        ValueError,
        ImageDecodeError,
        img2pdf.ImageOpenError,
        img2pdf.UnsupportedColorspaceError,
        img2pdf.JpegColorspaceError,
        img2pdf.PdfTooLargeError,
        img2pdf.AlphaChannelError,
        img2pdf.NegativeDimensionError,
        pikepdf.PikepdfError,
    ) as exc:
        logger.exception("export of %d pages as %s failed", len(pages), fmt)
        raise ExportError(f"could not write the {fmt.upper()} file: {exc}", format=fmt) from exc
    logger.info(
        "exported %d pages as %s in %.2f s", len(pages), fmt, time.perf_counter() - started
    )
    return media_type(fmt, len(pages))
