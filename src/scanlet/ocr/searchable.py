"""Searchable PDF: our own image PDF, with tesseract's invisible text under each image.

The image pages are written by the ordinary PDF export (:func:`scanlet.codecs.pdf.write_pdf`:
JPEG pages embedded as DCT without re-encoding, PNG pages losslessly, the export's metadata
and, if asked, PDF/A-2b), so a searchable PDF looks exactly like a plain export; its Info
dictionary and XMP packet are left as the export wrote them (they must agree).

Each page's text layer is tesseract's text-only PDF page (see :mod:`scanlet.ocr.tesseract`):
invisible glyphs (render mode 3) where the words are. It becomes a Form XObject drawn
*before* the page's own content (an underlay, as OCRmyPDF's sandwich renderer does), scaled so
that its page box fills the image page's box exactly, x and y independently: tesseract's page
is the image's pixels at the dpi it was told, rounded to 1/100 pt, so the layer lines up with
the image whatever dpi tesseract used. The image streams are copied as they are; the text adds
a few kB a page.

Memory: documents whose pages total less than :data:`IN_MEMORY_BYTES` are assembled in memory;
larger ones go through a private scratch folder (``workdir``), where the exporter streams the
image PDF page by page and pikepdf reads its image streams back only while writing the result,
so memory stays about one page whatever the page count.

Failures of the PDF libraries become :class:`~scanlet.errors.ExportError`.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import pikepdf

from scanlet.codecs.options import DocumentMetadata
from scanlet.codecs.pages import PageReader, Progress, no_progress
from scanlet.codecs.pdf import write_pdf
from scanlet.errors import ExportError, InvalidSetting, ScanletError
from scanlet.models import PageInfo
from scanlet.ocr.pool import OcrPage, OcrPool

logger = logging.getLogger(__name__)

#: Documents whose pages total less than this are assembled in memory.
IN_MEMORY_BYTES = 64 * 2**20

_FOREIGN_ERRORS = (OSError, ValueError, pikepdf.PikepdfError)


def _box(page: pikepdf.Page) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in page.mediabox)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _placement(target: pikepdf.Page, layer: pikepdf.Page) -> bytes:
    """``cm`` that maps the layer's page box onto the target's page box."""
    px0, py0, px1, py1 = _box(target)
    tx0, ty0, tx1, ty1 = _box(layer)
    if tx1 - tx0 <= 0 or ty1 - ty0 <= 0:
        raise ValueError("the text layer page has an empty page box")
    sx = (px1 - px0) / (tx1 - tx0)
    sy = (py1 - py0) / (ty1 - ty0)
    e, f = px0 - tx0 * sx, py0 - ty0 * sy
    return f"{sx:.6f} 0 0 {sy:.6f} {e:.6f} {f:.6f} cm".encode()


def add_text_layers(pdf: pikepdf.Pdf, text_layers: Sequence[bytes | None],
                    stack: ExitStack) -> None:
    """Underlay ``text_layers[i]`` (a one-page text-only PDF, None for none) on page ``i``.

    The layer PDFs are opened into ``stack``, which must stay open until ``pdf`` is saved
    (pikepdf copies their streams lazily).
    """
    if len(text_layers) != len(pdf.pages):
        raise ValueError(f"{len(text_layers)} text layers for {len(pdf.pages)} pages")
    for page, layer in zip(pdf.pages, text_layers, strict=True):
        if layer is None:
            continue
        source = stack.enter_context(pikepdf.open(io.BytesIO(layer)))
        if len(source.pages) != 1:
            raise ValueError(f"a text layer must have one page, not {len(source.pages)}")
        layer_page = source.pages[0]
        form = pdf.copy_foreign(layer_page.as_form_xobject())
        name = page.add_resource(form, pikepdf.Name.XObject, prefix="OCR")
        draw = b"q " + _placement(page, layer_page) + b" " + str(name).encode() + b" Do Q\n"
        page.contents_add(pdf.make_stream(draw), prepend=True)


def _save(pdf: pikepdf.Pdf, dest: BinaryIO) -> None:
    # Image streams are copied as they are; metadata stays as the exporter wrote it.
    pdf.save(dest, compress_streams=True, recompress_flate=False,
             object_stream_mode=pikepdf.ObjectStreamMode.disable, deterministic_id=True)


def make_searchable_pdf(
    pages: Sequence[PageInfo],
    read: PageReader,
    text_layers: Sequence[bytes | None],
    dest: BinaryIO,
    *,
    workdir: Path | None = None,
    pdf_a: bool = False,
    metadata: DocumentMetadata | None = None,
    now: datetime | None = None,
) -> None:
    """Write ``pages`` (read with ``read``) as a PDF to ``dest`` with ``text_layers[i]`` as
    the invisible text of page ``i`` (tesseract's text-only PDF page; None leaves a page
    image-only). ``dest`` need not be seekable. ``pdf_a``, ``metadata`` and ``now`` are the
    PDF export's (codecs/pdf.py). Raises ExportError."""
    if not pages:
        raise InvalidSetting("select at least one page", field="page_ids")
    if len(text_layers) != len(pages):
        raise ValueError(f"{len(text_layers)} text layers for {len(pages)} pages")

    def images_to(out: BinaryIO) -> None:
        write_pdf(pages, read, out, no_progress, pdf_a=pdf_a, metadata=metadata, now=now)

    try:
        with ExitStack() as stack:
            if sum(info.bytes for info in pages) < IN_MEMORY_BYTES:
                buffer = io.BytesIO()
                images_to(buffer)
                pdf = stack.enter_context(pikepdf.open(buffer))
            else:
                scratch = stack.enter_context(
                    tempfile.TemporaryDirectory(dir=workdir, prefix="ocr-pdf-"))
                path = os.path.join(scratch, "images.pdf")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    images_to(fh)
                pdf = stack.enter_context(pikepdf.open(path))
            add_text_layers(pdf, text_layers, stack)
            _save(pdf, dest)
    except ScanletError:
        raise
    except _FOREIGN_ERRORS as exc:
        logger.exception("searchable PDF of %d pages failed", len(pages))
        raise ExportError(f"could not write the searchable PDF: {exc}", format="pdf") from exc


def ocr_pages(pages: Sequence[PageInfo], read: PageReader) -> list[OcrPage]:
    """The pool's input for buffer pages: each read only when a worker takes it."""
    return [OcrPage(image=functools.partial(read, info), dpi=info.dpi) for info in pages]


def write_searchable_pdf(
    pool: OcrPool,
    pages: Sequence[PageInfo],
    read: PageReader,
    dest: BinaryIO,
    *,
    lang: str = "eng",
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    workdir: Path | None = None,
    pdf_a: bool = False,
    metadata: DocumentMetadata | None = None,
) -> list[str]:
    """OCR ``pages`` on ``pool`` and write the searchable PDF to ``dest``; return each page's
    text. Blocks (fits ``tasks.Work``). ``progress(done, total)`` counts OCRed pages and is
    called with ``(total, total)`` once the PDF is written; raising from it aborts."""
    report = progress or no_progress
    total = len(pages)

    def ocr_progress(done: int, _total: int) -> None:
        if done < total:
            report(done, total)

    results = pool.run(ocr_pages(pages, read), lang=lang, outputs=("text", "pdf"),
                       progress=ocr_progress, cancel=cancel)
    make_searchable_pdf(pages, read, [r.pdf for r in results], dest, workdir=workdir,
                        pdf_a=pdf_a, metadata=metadata)
    report(total, total)
    return [r.text or "" for r in results]


async def write_searchable_pdf_async(
    pool: OcrPool,
    pages: Sequence[PageInfo],
    read: PageReader,
    dest: BinaryIO,
    *,
    lang: str = "eng",
    progress: Progress | None = None,
    workdir: Path | None = None,
    pdf_a: bool = False,
    metadata: DocumentMetadata | None = None,
) -> list[str]:
    """:func:`write_searchable_pdf` for the event loop (``read`` and the PDF writing run in
    threads; ``progress`` runs on the loop; cancel by cancelling the awaiting task)."""
    report = progress or no_progress
    total = len(pages)

    def ocr_progress(done: int, _total: int) -> None:
        if done < total:
            report(done, total)

    results = await pool.run_async(ocr_pages(pages, read), lang=lang, outputs=("text", "pdf"),
                                   progress=ocr_progress)
    await asyncio.to_thread(make_searchable_pdf, pages, read, [r.pdf for r in results], dest,
                            workdir=workdir, pdf_a=pdf_a, metadata=metadata)
    report(total, total)
    return [r.text or "" for r in results]
