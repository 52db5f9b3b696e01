"""Page buffer endpoints: documents, pages, page images and exports."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scanlet.codecs.export import EXTENSIONS, ExportFormat
from scanlet.codecs.options import DocumentMetadata, ExportOptions, TiffCompression
from scanlet.core.deps import runtime
from scanlet.core.exports import export_to_spool, file_response
from scanlet.core.runtime import Runtime
from scanlet.errors import InvalidSetting, PageNotFound
from scanlet.models import DocumentInfo, PageInfo

router = APIRouter(prefix="/v1", tags=["buffer"])
Rt = Annotated[Runtime, Depends(runtime)]

MAX_IMAGE_SIDE = 20000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentCreate(_Body):
    name: str = Field("", max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=100)
    metadata: dict[str, Any] = Field(default_factory=dict)


class DocumentUpdate(_Body):
    name: str | None = Field(None, max_length=200)
    tags: list[str] | None = Field(None, max_length=100)
    metadata: dict[str, Any] | None = None


class PageUpdate(_Body):
    tags: list[str] | None = Field(None, max_length=100)
    metadata: dict[str, Any] | None = None


class PageSelection(_Body):
    page_ids: list[str] = Field(min_length=1, max_length=10000)


class PageMove(PageSelection):
    to_index: int = Field(ge=0)


class Deleted(BaseModel):
    deleted: int


@router.get("/documents", summary="List documents in the buffer")
def list_documents(rt: Rt) -> list[DocumentInfo]:
    return rt.store.list_documents()


@router.post("/documents", status_code=201, summary="Create an empty document")
def create_document(body: DocumentCreate, rt: Rt) -> DocumentInfo:
    return rt.store.create_document(body.name, body.tags, body.metadata)


@router.get("/documents/{document_id}", summary="One document")
def get_document(document_id: str, rt: Rt) -> DocumentInfo:
    return rt.store.get_document(document_id)


@router.patch("/documents/{document_id}", summary="Rename, tag or annotate a document")
def update_document(document_id: str, body: DocumentUpdate, rt: Rt) -> DocumentInfo:
    return rt.store.update_document(document_id, name=body.name, tags=body.tags,
                                    metadata=body.metadata)


@router.delete("/documents/{document_id}", status_code=204,
               summary="Delete a document and all its pages")
def delete_document(document_id: str, rt: Rt) -> Response:
    rt.store.delete_document(document_id)
    return Response(status_code=204)


@router.get("/documents/{document_id}/pages", summary="Pages of a document, in order")
def list_pages(document_id: str, rt: Rt) -> list[PageInfo]:
    return rt.store.list_pages(document_id)


@router.delete("/documents/{document_id}/pages", summary="Delete every page of a document")
def delete_document_pages(document_id: str, rt: Rt) -> Deleted:
    rt.store.get_document(document_id)
    return Deleted(deleted=rt.store.delete_all_pages(document_id))


@router.post("/documents/{document_id}/pages/delete", summary="Delete a selection of pages")
def delete_selection(document_id: str, body: PageSelection, rt: Rt) -> Deleted:
    return Deleted(deleted=rt.store.delete_pages(page_selection(rt, document_id, body.page_ids)))


def page_selection(rt: Runtime, document_id: str, page_ids: list[str] | None) -> list[str]:
    """``page_ids`` checked to belong to the document (all its pages when None).

    DocumentNotFound for an unknown document, PageNotFound for a page that is not in it, so a
    request about one document can never touch another's pages.
    """
    pages = [p.id for p in rt.store.list_pages(rt.store.get_document(document_id).id)]
    if page_ids is None:
        return pages
    members = set(pages)
    for page_id in page_ids:
        if page_id not in members:
            raise PageNotFound(f"page {page_id} is not in document {document_id}",
                               page=page_id)
    return page_ids


@router.post("/documents/{document_id}/pages/move",
             summary="Move a selection of pages (kept in order) to a position")
def move_pages(document_id: str, body: PageMove, rt: Rt) -> list[PageInfo]:
    return rt.store.move_pages(document_id, body.page_ids, body.to_index)


@router.put("/documents/{document_id}/pages/order",
            summary="Set the full order of a document's pages")
def reorder_pages(document_id: str, body: PageSelection, rt: Rt) -> list[PageInfo]:
    return rt.store.reorder(document_id, body.page_ids)


@router.delete("/pages", summary="Delete every page in the buffer")
def delete_all_pages(rt: Rt) -> Deleted:
    return Deleted(deleted=rt.store.delete_all_pages(None))


@router.get("/pages/{page_id}", summary="Page info")
def get_page(page_id: str, rt: Rt) -> PageInfo:
    return rt.store.get_page(page_id)


@router.patch("/pages/{page_id}", summary="Tag or annotate a page")
def update_page(page_id: str, body: PageUpdate, rt: Rt) -> PageInfo:
    return rt.store.update_page(page_id, tags=body.tags, metadata=body.metadata)


@router.delete("/pages/{page_id}", status_code=204, summary="Delete one page")
def delete_page(page_id: str, rt: Rt) -> Response:
    rt.store.delete_pages([page_id])
    return Response(status_code=204)


@router.get("/pages/{page_id}/image", summary="Page image: original, or fitted into a box",
            response_class=Response,
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, 304: {}})
def page_image(
    page_id: str,
    request: Request,
    rt: Rt,
    format: Annotated[Literal["jpeg", "png"] | None,
                      Query(description="Default: the stored format")] = None,
    width: Annotated[int | None, Query(gt=0, le=MAX_IMAGE_SIDE)] = None,
    height: Annotated[int | None, Query(gt=0, le=MAX_IMAGE_SIDE)] = None,
    quality: Annotated[int, Query(ge=1, le=100)] = 85,
) -> Response:
    fmt = format or rt.store.get_page(page_id).format
    image = rt.store.render(page_id, width=width, height=height, fmt=fmt, quality=quality)
    headers = {"ETag": image.etag, "Cache-Control": "private, no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), image.etag):
        return Response(status_code=304, headers=headers)
    return Response(image.data, media_type=image.media_type, headers=headers)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


@router.get("/documents/{document_id}/export",
            summary="Export a document or a selection of its pages",
            response_class=StreamingResponse,
            responses={200: {"content": {t: {} for t in EXTENSIONS}}})
async def export_document(
    document_id: str,
    rt: Rt,
    format: Annotated[ExportFormat, Query()] = "pdf",
    pages: Annotated[str | None, Query(description="Comma-separated page ids; default all")]
    = None,
    quality: Annotated[int, Query(ge=1, le=100, description="JPEG/WebP quality")] = 90,
    progressive: Annotated[bool, Query(description="Progressive JPEGs")] = False,
    reencode_jpeg: Annotated[bool, Query(description="Re-encode JPEG pages (default: "
                                         "byte for byte)")] = False,
    webp_lossless: bool = False,
    tiff_compression: Annotated[TiffCompression, Query()] = TiffCompression.AUTO,
    pdf_a: Annotated[bool, Query(description="PDF/A-2b")] = False,
    title: Annotated[str | None, Query(max_length=2000)] = None,
    author: Annotated[str | None, Query(max_length=2000)] = None,
    subject: Annotated[str | None, Query(max_length=2000)] = None,
    keywords: Annotated[str | None, Query(max_length=5000, description="Comma-separated")]
    = None,
    creation_date: Annotated[str | None, Query(
        max_length=64, description="ISO 8601, e.g. 2026-11-24T10:00:00+01:00")] = None,
) -> StreamingResponse:
    try:
        created = datetime.fromisoformat(creation_date) if creation_date else None
    except ValueError as exc:
        raise InvalidSetting("creation_date must be an ISO 8601 date and time",
                             field="creation_date") from exc
    try:
        options = ExportOptions(
            quality=quality, progressive=progressive, reencode_jpeg=reencode_jpeg,
            webp_lossless=webp_lossless, tiff_compression=tiff_compression, pdf_a=pdf_a,
            metadata=DocumentMetadata(
                title=title, author=author, subject=subject, creation_date=created,
                keywords=[k for k in (keywords or "").split(",") if k.strip()]))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidSetting(f"{'.'.join(map(str, first['loc']))}: {first['msg']}",
                             field=str(first["loc"][-1]) if first["loc"] else "") from exc
    document = await asyncio.to_thread(rt.store.get_document, document_id)
    wanted = [p for p in pages.split(",") if p] if pages else None
    page_ids = await asyncio.to_thread(page_selection, rt, document_id, wanted)
    spool, media_type = await asyncio.to_thread(export_to_spool, rt, page_ids, format,
                                                options)
    name = f"{document.name or document.id}.{EXTENSIONS.get(media_type, 'bin')}"
    return file_response(spool, media_type, name)
