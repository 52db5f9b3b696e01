"""Export a selection of buffer pages as PDF (or PDF/A), multi-page TIFF, or JPEG, PNG, BMP or
WebP images (a ZIP of images for several pages).

This is the one entry point the API, the CLI and the uploader call. It resolves every page and
checks every option first, so an unknown id or an impossible option fails before a byte is
written, then hands the pages to the writer of the format (codecs/pdf.py, codecs/tiff.py,
codecs/raster.py; each states its promises). Pages are read one at a time and bypass the
buffer's RAM cache, so exporting hundreds of pages neither holds them all in memory nor evicts
the pages a viewer is looking at.

Options are one :class:`~scanlet.codecs.options.ExportOptions`; ``quality`` is also accepted
on its own, as before options existed.

Foreign failures (Pillow, pikepdf, I/O) become :class:`~scanlet.errors.ExportError`;
Scanlet errors (PageNotFound, PageCorrupt, InvalidSetting, ...) pass through unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Literal, cast, get_args

from pydantic import ValidationError

from scanlet.codecs.decode import ImageDecodeError
from scanlet.codecs.metadata import Properties
from scanlet.codecs.options import ExportOptions
from scanlet.codecs.pages import PageSource, Progress, no_progress
from scanlet.codecs.pdf import write_pdf
from scanlet.codecs.raster import MEDIA_TYPE, RasterFormat, write_image
from scanlet.codecs.tiff import write_tiff
from scanlet.errors import ExportError, InvalidSetting, ScanletError
from scanlet.models import PageInfo

logger = logging.getLogger(__name__)

ExportFormat = Literal["pdf", "tiff", "jpeg", "png", "bmp", "webp"]
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)
#: Formats that carry document metadata (title, author, ...).
METADATA_FORMATS = ("pdf", "tiff")

PDF_MEDIA_TYPE = "application/pdf"
TIFF_MEDIA_TYPE = "image/tiff"
ZIP_MEDIA_TYPE = "application/zip"
#: The file extension of each media type :func:`export_pages` produces (names of downloaded
#: and uploaded files).
EXTENSIONS: dict[str, str] = {PDF_MEDIA_TYPE: "pdf", TIFF_MEDIA_TYPE: "tiff", "image/jpeg": "jpg",
                              "image/png": "png", "image/bmp": "bmp", "image/webp": "webp",
                              ZIP_MEDIA_TYPE: "zip"}


def media_type(fmt: ExportFormat, page_count: int) -> str:
    """The media type :func:`export_pages` produces for ``fmt`` and that many pages."""
    if fmt == "pdf":
        return PDF_MEDIA_TYPE
    if fmt == "tiff":
        return TIFF_MEDIA_TYPE
    return MEDIA_TYPE[fmt] if page_count == 1 else ZIP_MEDIA_TYPE


def resolve_options(fmt: str, quality: int | None,
                    options: ExportOptions | None) -> ExportOptions:
    """The effective options; InvalidSetting for a bad value or one the format cannot honour."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidSetting(
            f"unknown export format {fmt!r}", field="format", allowed=list(EXPORT_FORMATS)
        )
    if quality is not None and (isinstance(quality, bool) or not 1 <= quality <= 100):
        raise InvalidSetting("quality must be 1-100", field="quality", allowed=[1, 100])
    if options is None:
        try:
            options = ExportOptions() if quality is None else ExportOptions(quality=quality)
        except ValidationError as exc:  # pragma: no cover - quality was checked above
            raise InvalidSetting(str(exc), field="quality") from exc
    elif quality is not None and quality != options.quality:
        raise InvalidSetting("quality is given twice with different values; set it in the "
                             "options only", field="quality")
    if options.pdf_a and fmt != "pdf":
        raise InvalidSetting("PDF/A applies to PDF exports only", field="pdf_a")
    if not options.metadata.is_empty() and fmt not in METADATA_FORMATS:
        raise InvalidSetting(
            f"{fmt.upper()} files cannot carry document metadata (title, author, subject, "
            "keywords, creation date); export as PDF or TIFF, or leave the metadata empty",
            field="metadata", allowed=list(METADATA_FORMATS))
    return options


def export_pages(
    store: PageSource,
    page_ids: Sequence[str],
    fmt: ExportFormat,
    dest: BinaryIO,
    progress: Progress | None = None,
    *,
    quality: int | None = None,
    workdir: Path | None = None,
    options: ExportOptions | None = None,
    now: datetime | None = None,
) -> str:
    """Write the pages ``page_ids`` (in that order) to ``dest`` as ``fmt``; return the media type.

    ``progress(done, total)`` is called as pages finish and once with ``(total, total)`` when
    the output is complete; raising from it aborts the export (``dest`` is then incomplete).
    ``options`` holds every format's options (see ExportOptions); ``quality`` alone is the
    same as ``options=ExportOptions(quality=quality)`` (default 90). ``workdir`` is where TIFF
    exports to a non-seekable destination spool (default: ``store.temp_dir``, the buffer's
    ``cache/tmp``). ``now`` is the export time recorded in PDF and TIFF metadata (default:
    the clock).
    """
    opts = resolve_options(fmt, quality, options)
    if not page_ids:
        raise InvalidSetting("select at least one page to export", field="page_ids")
    pages = [store.get_page(page_id) for page_id in page_ids]
    report = progress or no_progress
    scratch = workdir if workdir is not None else store.temp_dir

    def read(info: PageInfo) -> bytes:
        return store.read_original(info.id, cache=False)

    started = time.perf_counter()
    try:
        if fmt == "pdf":
            write_pdf(pages, read, dest, report, pdf_a=opts.pdf_a, metadata=opts.metadata,
                      now=now)
        elif fmt == "tiff":
            write_tiff(pages, read, dest, report, workdir=scratch,
                       compression=opts.tiff_compression, quality=opts.quality,
                       properties=Properties.of(opts.metadata, now=now))
        else:
            write_image(pages, read, dest, report, fmt=cast(RasterFormat, fmt), options=opts)
    except ScanletError:
        raise
    except (OSError, ValueError, ImageDecodeError) as exc:
        logger.exception("export of %d pages as %s failed", len(pages), fmt)
        raise ExportError(f"could not write the {fmt.upper()} file: {exc}", format=fmt) from exc
    logger.info(
        "exported %d pages as %s in %.2f s", len(pages), fmt, time.perf_counter() - started
    )
    return media_type(fmt, len(pages))
