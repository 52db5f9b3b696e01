"""``/api/storage/documents`` of the compatibility API: documents of scanned pages.

A document here is an ordinary buffer document (named "DWT document", created through the
same store as ``POST /v1/documents``, visible through ``/v1``); its ``uid`` is the buffer
document id and its pages' ``uid`` the buffer page ids. Any buffer document can be addressed.

- Passwords (``POST {password}``, at most 32 characters): see ``compat/passwords.py``. Every
  call about a protected document needs ``DWT-DOC-PASSWORD`` or ``X-DICS-DOC-PASSWORD``
  (403, code -1043 when missing or wrong); ``/v1`` is not restricted by it.
- ``PATCH {metadata}`` replaces the document's custom data (a string or a JSON object; null
  removes it). It is kept in the buffer document's metadata under :data:`METADATA_KEY`, so
  the document's other ``/v1`` metadata stays, and answered as ``metadata`` (only when set).
- ``POST .../pages {source, insertPos?}`` COPIES the page the source URL names (see
  ``compat/sources.py``) into the document; the job's document keeps its page. ``insertPos``
  is 1-based: the copy goes in front of page ``insertPos`` (1 = first); a missing or invalid
  value (not an integer from 1 to the page count) appends, as the reference documents. When
  the source page's own document is protected, its password is needed too
  (``DWT-SOURCE-PASSWORD``, else the document password headers).
- ``DELETE .../pages/{param}``: a page uid of the document, else a 0-based index.
- ``GET .../content``: see :func:`content` for how each query parameter maps.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
from datetime import datetime
from typing import Annotated, Any, BinaryIO

import pikepdf
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from scanlet.codecs.export import ExportFormat
from scanlet.codecs.options import DocumentMetadata, ExportOptions, TiffCompression
from scanlet.compat.bodies import json_body
from scanlet.compat.passwords import (
    MAX_CHARS,
    DocumentPasswords,
    check_new_password,
    for_request,
    sent_password,
)
from scanlet.compat.sources import source_page
from scanlet.core.deps import runtime
from scanlet.core.exports import export_to_spool, file_response, new_spool
from scanlet.core.runtime import Runtime
from scanlet.errors import ExportError, InvalidSetting, PageNotFound
from scanlet.models import DocumentInfo, PageInfo

log = logging.getLogger(__name__)
# The reference documents this API; it stays out of Scanlet's own OpenAPI schema.
#: Mounted under /api (compat/app.py).
router = APIRouter(prefix="/storage/documents", include_in_schema=False)
Rt = Annotated[Runtime, Depends(runtime)]
Passwords = Annotated[DocumentPasswords, Depends(for_request)]

DOCUMENT_NAME = "DWT document"
#: Where a document's reference ``metadata`` (custom data) lives in its buffer metadata.
METADATA_KEY = "dwt_metadata"

#: ``type`` -> Scanlet export format.
CONTENT_TYPES: dict[str, ExportFormat] = {
    "application/pdf": "pdf", "image/tiff": "tiff", "image/jpeg": "jpeg", "image/png": "png"}
#: The reference's TIFF ``compression`` values Scanlet writes as such; 2 (RLE), 3 (FAX3/T4)
#: and 32773 (PackBits) are written with the automatic choice instead.
TIFF_COMPRESSION = {0: TiffCompression.AUTO, 1: TiffCompression.NONE, 4: TiffCompression.G4,
                    5: TiffCompression.LZW, 7: TiffCompression.JPEG}
TIFF_COMPRESSION_VALUES = {0, 1, 2, 3, 4, 5, 7, 32773}
PDF_COMPRESSION_VALUES = {0, 2, 3, 5, 6, 7}
DEFAULT_QUALITY = 80
_PDF_DATE = re.compile(
    r"^D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(Z|[+-]\d{2}'?\d{2}'?)?$")


# -- shared helpers (also used by routes_process) -----------------------------------------------


def document_answer(rt: Runtime, document_id: str) -> dict[str, Any]:
    """The reference's DocumentInfo: ``{uid, pages: [{uid}], metadata?}``."""
    document = rt.store.get_document(document_id)
    answer: dict[str, Any] = {
        "uid": document.id,
        "pages": [{"uid": page.id} for page in rt.store.list_pages(document_id)]}
    if METADATA_KEY in document.metadata:
        answer["metadata"] = document.metadata[METADATA_KEY]
    return answer


def open_document(rt: Runtime, passwords: DocumentPasswords, request: Request,
                  document_id: str) -> DocumentInfo:
    """The document (404, -1040 if unknown) once the request's password fits it (403, -1043).
    Runs in a worker thread: checking a password costs a scrypt hash."""
    document = rt.store.get_document(document_id)
    passwords.verify(document.id, sent_password(request.headers))
    return document


def _pages_by_param(pages: list[PageInfo], param: str) -> PageInfo:
    """A page of the document by uid, else by 0-based index; PageNotFound otherwise."""
    for page in pages:
        if page.id == param:
            return page
    token = param.strip()
    if token.isdigit() and int(token) < len(pages):
        return pages[int(token)]
    raise PageNotFound(f"the document has no page {param!r} (a page uid or a 0-based index "
                       f"below {len(pages)})", page=param)


# -- documents ----------------------------------------------------------------------------------


@router.post("", status_code=201, summary="Create a document (reference-compatible)")
async def create_document(request: Request, rt: Rt, passwords: Passwords) -> dict[str, Any]:
    body = await json_body(request)
    password = check_new_password(body.get("password"))

    def run() -> dict[str, Any]:
        document = rt.store.create_document(DOCUMENT_NAME)
        if password is not None:
            try:
                passwords.set(document.id, password)
            except BaseException:
                rt.store.delete_document(document.id)  # never leave it unprotected
                raise
        log.info("created document %s through the compatibility API%s", document.id,
                 " with a password" if password else "")
        return {"uid": document.id, "pages": []}

    return await asyncio.to_thread(run)


@router.get("/{document_id}", summary="Document info (reference-compatible)")
async def get_document(document_id: str, request: Request, rt: Rt,
                       passwords: Passwords) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        open_document(rt, passwords, request, document_id)
        return document_answer(rt, document_id)

    return await asyncio.to_thread(run)


@router.patch("/{document_id}", summary="Replace the document's custom data "
              "(reference-compatible)")
async def patch_document(document_id: str, request: Request, rt: Rt,
                         passwords: Passwords) -> dict[str, Any]:
    body = await json_body(request)
    if "metadata" not in body:
        raise InvalidSetting("send {\"metadata\": <string or object>}", field="metadata")
    value = body["metadata"]
    if value is not None and not isinstance(value, (str, dict)):
        raise InvalidSetting("metadata must be a string or a JSON object", field="metadata")

    def run() -> dict[str, Any]:
        document = open_document(rt, passwords, request, document_id)
        merged = dict(document.metadata)
        if value is None:
            merged.pop(METADATA_KEY, None)
        else:
            merged[METADATA_KEY] = value
        rt.store.update_document(document_id, metadata=merged)
        return document_answer(rt, document_id)

    return await asyncio.to_thread(run)


@router.delete("/{document_id}", status_code=204, summary="Delete a document and its pages "
               "(reference-compatible)")
async def delete_document(document_id: str, request: Request, rt: Rt,
                          passwords: Passwords) -> Response:
    def run() -> None:
        open_document(rt, passwords, request, document_id)
        rt.store.delete_document(document_id)
        passwords.forget([document_id])

    await asyncio.to_thread(run)
    return Response(status_code=204)


# -- pages --------------------------------------------------------------------------------------


def _insert_index(raw: object, count: int) -> int | None:
    """The 0-based index for the reference's 1-based ``insertPos`` (in front of that page);
    None (append) when missing or invalid."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        try:
            raw = int(raw.strip())
        except ValueError:
            return None
    if isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, int) and 1 <= raw <= count:
        return raw - 1
    return None


@router.post("/{document_id}/pages", summary="Copy a scanned page into the document "
             "(reference-compatible)")
async def insert_page(document_id: str, request: Request, rt: Rt,
                      passwords: Passwords) -> dict[str, Any]:
    body = await json_body(request, required=True)

    def run() -> dict[str, Any]:
        open_document(rt, passwords, request, document_id)
        page = source_page(request, rt, passwords, body.get("source"))
        count = rt.store.get_document(document_id).page_count
        copy = rt.store.copy_page(page.id, document_id,
                                  to_index=_insert_index(body.get("insertPos"), count))
        log.info("copied page %s into document %s at %d", page.id, document_id, copy.index)
        return document_answer(rt, document_id)

    return await asyncio.to_thread(run)


@router.delete("/{document_id}/pages/{param}", status_code=204,
               summary="Delete a page by uid or 0-based index (reference-compatible)")
async def delete_page(document_id: str, param: str, request: Request, rt: Rt,
                      passwords: Passwords) -> Response:
    def run() -> None:
        open_document(rt, passwords, request, document_id)
        page = _pages_by_param(rt.store.list_pages(document_id), param)
        rt.store.delete_pages([page.id])

    await asyncio.to_thread(run)
    return Response(status_code=204)


# -- content ------------------------------------------------------------------------------------


def _int_param(request: Request, name: str, default: int, low: int, high: int,
               allowed: set[int] | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidSetting(f"{name} must be an integer", field=name) from None
    if not low <= value <= high or (allowed is not None and value not in allowed):
        raise InvalidSetting(f"{name} {value} is not valid", field=name,
                             allowed=sorted(allowed) if allowed else [low, high])
    return value


def _date_param(request: Request, name: str) -> datetime | None:
    """An ISO 8601 date and time, or a PDF date (``D:YYYYMMDDHHmmSS+HH'mm'``)."""
    raw = (request.query_params.get(name) or "").strip()
    if not raw:
        return None
    match = _PDF_DATE.match(raw)
    if match:
        year, month, day, hour, minute, second, zone = match.groups()
        text = (f"{year}-{month or '01'}-{day or '01'}T{hour or '00'}:{minute or '00'}:"
                f"{second or '00'}")
        if zone and zone != "Z":
            digits = zone.replace("'", "")
            text += f"{digits[:3]}:{digits[3:]}"
        elif zone == "Z":
            text += "+00:00"
        raw = text
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidSetting(f"{name} must be an ISO 8601 date and time or a PDF date "
                             "(D:YYYYMMDDHHmmSS)", field=name) from None


def _text_param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value else None


def _options(request: Request, fmt: ExportFormat) -> ExportOptions:
    """Export options from the reference's query parameters (see :func:`content`)."""
    quality = _int_param(request, "quality", DEFAULT_QUALITY, 0, 100)
    compression = _int_param(request, "compression", 0, 0, 32773,
                             TIFF_COMPRESSION_VALUES if fmt == "tiff" else
                             PDF_COMPRESSION_VALUES if fmt == "pdf" else None)
    _int_param(request, "pageType", 0, 0, 9)  # checked, then ignored (see content())
    metadata = DocumentMetadata()
    if fmt in ("pdf", "tiff"):
        keywords = _text_param(request, "keyWords") or ""
        try:
            metadata = DocumentMetadata(
                title=_text_param(request, "title"), author=_text_param(request, "author"),
                subject=_text_param(request, "subject"),
                keywords=[k for k in re.split(r"[,;]", keywords) if k.strip()],
                creation_date=_date_param(request, "creationDate"))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = str(first["loc"][-1]) if first["loc"] else "metadata"
            raise InvalidSetting(f"{where}: {first['msg']}", field=where) from None
    return ExportOptions(
        quality=max(quality, 1),
        tiff_compression=TIFF_COMPRESSION.get(compression, TiffCompression.AUTO),
        metadata=metadata)


def _selection(rt: Runtime, document_id: str, raw: str, fmt: ExportFormat) -> list[str]:
    """Page ids for the ``pages`` parameter: uids or 0-based indices, in the order given;
    empty means every page (PDF, TIFF) or the first (JPEG, PNG)."""
    pages = rt.store.list_pages(document_id)
    tokens = [t.strip() for t in raw.split(",") if t.strip()]
    if not tokens:
        if not pages:
            raise InvalidSetting("the document has no pages", field="pages")
        return [p.id for p in pages] if fmt in ("pdf", "tiff") else [pages[0].id]
    chosen = [_pages_by_param(pages, token).id for token in tokens]
    if fmt not in ("pdf", "tiff") and len(chosen) > 1:
        raise InvalidSetting("JPEG and PNG hold one page: ask for one page, or for PDF or "
                             "TIFF", field="pages")
    return chosen


def _encrypt(spool: BinaryIO, password: str, rt: Runtime) -> BinaryIO:
    """The PDF in ``spool`` encrypted with AES-256 (``password`` opens and owns it), in a new
    spool left at its end; ``spool`` is closed."""
    spool.seek(0)
    out = new_spool(rt)
    try:
        try:
            with pikepdf.open(spool) as pdf:
                pdf.save(out, encryption=pikepdf.Encryption(user=password, owner=password,
                                                            R=6))
        except pikepdf.PdfError as exc:
            raise ExportError(f"could not encrypt the PDF: {exc}", format="pdf") from exc
    except BaseException:
        out.close()
        raise
    finally:
        spool.close()
    out.seek(0, os.SEEK_END)
    return out


@router.get("/{document_id}/content", summary="The document as PDF, TIFF, JPEG or PNG "
            "(reference-compatible)")
async def content(document_id: str, request: Request, rt: Rt,
                  passwords: Passwords) -> StreamingResponse:
    """The document's pages as one file.

    Mapping of the reference's query parameters:

    - ``type``: application/pdf (default), image/tiff, image/jpeg, image/png.
    - ``pages``: page uids or 0-based indices, comma-separated, in that order; empty: every
      page for PDF and TIFF, the first page for JPEG and PNG (which hold one page: asking
      for several is 400).
    - ``quality`` (0-100, default 80): the JPEG quality where Scanlet encodes a JPEG (a
      TIFF with JPEG compression, a non-JPEG page asked for as JPEG; 0 counts as 1). PDF
      pages are embedded without re-encoding, so it does not change a PDF.
    - ``compression``: TIFF 0 auto, 1 none, 4 FAX4/T6 (Group 4; black-and-white pages
      only), 5 LZW, 7 JPEG as such; 2 RLE, 3 FAX3/T4 and 32773 PackBits are written with
      the automatic choice. PDF values (0, 2, 3, 5, 6, 7) are accepted and ignored: the
      pages keep their stored compression (JPEG as is, Group 4 for black-and-white,
      lossless Flate otherwise).
    - ``title``, ``author``, ``subject``, ``keyWords`` (split at commas), ``creationDate``
      (ISO 8601 or a PDF date): written into PDF and TIFF files. ``creator``, ``producer``
      (Scanlet names itself), ``modifiedDate``, ``version`` and ``pageType`` (pages keep
      their scanned size) are accepted and ignored; so is metadata for JPEG and PNG.
    - ``password`` (at most 32 characters): the PDF is encrypted with it (AES-256); with
      another type it is 400, since the file could not be protected.
    """
    kind = (request.query_params.get("type") or "application/pdf").strip().lower()
    fmt = CONTENT_TYPES.get(kind)
    if fmt is None:
        raise InvalidSetting(f"type {kind!r} is not supported", field="type",
                             allowed=list(CONTENT_TYPES))
    options = _options(request, fmt)
    file_password = request.query_params.get("password") or ""
    if len(file_password) > MAX_CHARS:
        raise InvalidSetting(f"password must be at most {MAX_CHARS} characters",
                             field="password")
    if file_password and fmt != "pdf":
        raise InvalidSetting("only PDF files can be protected by a password; ask for "
                             "type=application/pdf or leave password empty", field="password")

    def run() -> tuple[BinaryIO, str]:
        open_document(rt, passwords, request, document_id)
        page_ids = _selection(rt, document_id, request.query_params.get("pages") or "", fmt)
        spool, media_type = export_to_spool(rt, page_ids, fmt, options)
        return (_encrypt(spool, file_password, rt) if file_password else spool), media_type

    spool, media_type = await asyncio.to_thread(run)
    extension = {"pdf": "pdf", "tiff": "tiff", "jpeg": "jpg", "png": "png"}[fmt]
    return file_response(spool, media_type, f"{document_id}.{extension}")
