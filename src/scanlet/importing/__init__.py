"""Import files into the page buffer: JPEG, PNG, TIFF (every page), BMP, WebP and PDF.

:func:`import_file` is the one entry point (the API and the CLI call it)::

    import_file(store, document_id, data)     -> the new pages, appended in order

- The format comes from the file's magic bytes (detect.py), never from its name; only the
  six formats above are accepted (415 otherwise).
- Nothing of the file is decoded in this process: images (images.py) and PDFs are decoded
  only in a resource-limited worker process (pdf.py, pdf_worker.py), one per file, under a
  pixel cap and a decoded-bytes cap checked before decoding and an address-space limit; the
  workers of all clients share one memory budget and a concurrency limit (budget.py).
- All or nothing: when any page fails, the pages this import already added are deleted again
  before the error is raised.

Errors (importing/errors.py): ImportUnsupportedFormat 415, ImportInvalid 422,
PdfPasswordRequired 422, ImportTooLarge 413, ImportFailed 500; DocumentNotFound 404 and
InvalidSetting 422 (a bad ``dpi``) from the usual tree.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from scanlet.errors import InvalidSetting
from scanlet.importing.budget import DecodeGate, DecodeLimits
from scanlet.importing.detect import HEAD_BYTES, FileFormat, detect
from scanlet.importing.errors import (
    ImportFailed,
    ImportInvalid,
    ImportTooLarge,
    ImportUnsupportedFormat,
    PdfPasswordRequired,
)
from scanlet.importing.pdf import DEFAULT_DPI, MAX_DPI, MIN_DPI, PdfLimits, WorkerJob, run_worker

if TYPE_CHECKING:  # imported lazily: the PDF worker imports this package and starts faster
    from scanlet.buffer.store import PageStore
    from scanlet.models import PageInfo

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_FRAMES",
    "DecodeGate",
    "DecodeLimits",
    "ImportFailed",
    "ImportInvalid",
    "ImportTooLarge",
    "ImportUnsupportedFormat",
    "PdfLimits",
    "PdfPasswordRequired",
    "detect",
    "import_file",
]

logger = logging.getLogger(__name__)

#: Largest file accepted (a 500-page 300 dpi colour PDF is about this size).
DEFAULT_MAX_BYTES = 512 * 2**20
#: Most frames of one TIFF or WebP.
DEFAULT_MAX_FRAMES = 1000


def _check_dpi(dpi: float | None) -> None:
    if dpi is None:
        return
    if not isinstance(dpi, int | float) or not math.isfinite(dpi) or not (
            MIN_DPI <= dpi <= MAX_DPI):
        raise InvalidSetting(f"dpi must be between {MIN_DPI:g} and {MAX_DPI:g}", field="dpi",
                             allowed={"min": MIN_DPI, "max": MAX_DPI})


def _head_and_size(data: bytes | Path) -> tuple[bytes, int]:
    if isinstance(data, bytes):
        return data[:HEAD_BYTES], len(data)
    try:
        with data.open("rb") as fh:
            return fh.read(HEAD_BYTES), data.stat().st_size
    except OSError as exc:
        raise ImportInvalid(f"cannot read the file: {exc}", field="data") from exc


def import_file(
    store: PageStore,
    document_id: str,
    data: bytes | Path,
    *,
    dpi: float | None = None,
    password: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int | None = None,
    max_frames: int = DEFAULT_MAX_FRAMES,
    pdf_limits: PdfLimits | None = None,
    decode: DecodeLimits | None = None,
    gate: DecodeGate | None = None,
) -> list[PageInfo]:
    """Append every page of a file to a document, in order; return the new pages.

    ``data`` is the file's bytes or its path. ``dpi`` is the rasterising resolution of PDF
    pages that are not a single image (default :data:`DEFAULT_DPI`, 10-2400); images and
    extracted PDF images keep their own resolution. ``password`` opens an encrypted PDF.
    ``progress(done, total)`` is called after each stored page. ``max_pixels`` caps each
    page (default and upper bound: :func:`scanlet.codecs.decode.max_pixels`). ``decode``
    bounds the decoded bytes of a page and the worker's memory; with ``gate`` the worker
    starts only within the shared budget (a caller on the event loop reserves it with
    ``gate.areserve(decode.worker_memory_bytes)`` instead and passes no gate).

    All or nothing: if any page fails (or ``progress`` raises), the pages added so far are
    deleted and the error is raised. Raises DocumentNotFound, InvalidSetting (dpi),
    ImportUnsupportedFormat, ImportInvalid, PdfPasswordRequired, ImportTooLarge, ImportFailed,
    ImportsBusy (the gate stayed full).
    """
    from scanlet.codecs.decode import max_pixels as global_max_pixels

    _check_dpi(dpi)
    store.get_document(document_id)  # DocumentNotFound before any work
    head, size = _head_and_size(data)
    if size > max_bytes:
        raise ImportTooLarge(f"the file has {size} bytes, more than the {max_bytes} allowed",
                             limit="bytes", maximum=max_bytes)
    fmt: FileFormat = detect(head)
    pixels = min(max_pixels, global_max_pixels()) if max_pixels else global_max_pixels()
    decode = decode or DecodeLimits()
    pdf_limits = pdf_limits or PdfLimits()
    memory = decode.worker_memory_bytes
    if fmt == "pdf":  # an explicit PdfLimits.memory_bytes wins (tests, the CLI)
        memory = pdf_limits.memory_bytes or min(pdf_limits.memory_for(pixels), memory)
    job = WorkerJob(fmt, pixels, memory, max_decoded_bytes=decode.max_decoded_bytes,
                    max_frames=max_frames, dpi=dpi or DEFAULT_DPI)
    added: list[PageInfo] = []

    def add(encoded: bytes, stored: Literal["jpeg", "png"], page_dpi: float | None,
            preview: bytes | None) -> PageInfo:
        try:  # the worker decoded these bytes in full and made their preview
            info = store.add_image(document_id, encoded, stored, dpi=page_dpi,
                                   decoded=(preview,))
        except ImportInvalid:
            raise
        except InvalidSetting as exc:  # the store's full decode found the page damaged
            raise ImportInvalid(f"page {len(added) + 1}: {exc.message}", field="data",
                                page=len(added)) from exc
        added.append(info)
        return info

    try:
        with gate.reserve(memory) if gate is not None else contextlib.nullcontext():
            run_worker(data, job, add, temp_root=store.temp_dir,
                       password=password if fmt == "pdf" else None, limits=pdf_limits,
                       progress=progress)
    except BaseException:
        _roll_back(store, added)
        raise
    if not added:  # a file with nothing to import is refused, never an empty success
        raise ImportInvalid("the file has no pages", field="data")
    logger.info("imported %d pages (%s, %d bytes) into document %s", len(added), fmt, size,
                document_id)
    return added


def _roll_back(store: PageStore, added: list[PageInfo]) -> None:
    """Delete the pages an import added before it failed (best effort: logged if not)."""
    if not added:
        return
    try:
        store.delete_pages([page.id for page in added])
    except Exception:
        logger.exception("could not delete the %d pages of a failed import", len(added))
    else:
        logger.info("failed import: removed the %d pages it had added", len(added))
