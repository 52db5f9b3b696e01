"""Page processing: edit (a new version), undo, blank check, barcodes, document separation.

Everything CPU-heavy runs in a worker thread so the event loop keeps serving; the functions
themselves live in ``scanlet.imaging`` and ``scanlet.barcodes`` and are usable without HTTP;
splitting a document is :mod:`scanlet.core.documents`, shared with the CLI.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from scanlet.barcodes.read import Barcode, read_barcodes
from scanlet.barcodes.separation import SeparationRule
from scanlet.codecs.decode import decoded
from scanlet.core import documents
from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.errors import InvalidSetting
from scanlet.imaging.blank import DEFAULT_SENSITIVITY, check_page
from scanlet.imaging.edits import apply_edits
from scanlet.models import DocumentInfo, PageInfo

router = APIRouter(prefix="/v1", tags=["processing"])
Rt = Annotated[Runtime, Depends(runtime)]


class EditRequest(BaseModel):
    edits: list[dict[str, Any]] = Field(
        min_length=1, max_length=32,
        description='Operations in order, e.g. [{"op": "rotate", "angle": 90}, '
                    '{"op": "deskew"}]; see docs/api.md for every op')
    quality: int | None = Field(None, ge=1, le=95, description="JPEG quality of the result")
    output: Literal["auto", "jpeg", "png"] = "auto"


class EditAnswer(BaseModel):
    page: PageInfo
    report: dict[str, Any]


class UndoRequest(BaseModel):
    to_original: bool = False


class BlankAnswer(BaseModel):
    page_id: str
    blank: bool
    score: float
    threshold: float
    sensitivity: float


class SplitRequest(BaseModel):
    rule: SeparationRule
    name_prefix: str = Field("", max_length=100)


def _parse_ints(raw: str | None, field: str, count: int) -> list[int] | None:
    if raw is None:
        return None
    try:
        values = [int(v) for v in raw.split(",")]
    except ValueError:
        values = []
    if len(values) != count:
        raise InvalidSetting(f"{field} must be {count} integers separated by commas",
                             field=field)
    return values


def _formats(raw: str | None) -> list[str] | None:
    return [f.strip() for f in raw.split(",") if f.strip()] if raw else None


@router.post("/pages/{page_id}/edit", summary="Edit a page; the result is a new version")
async def edit_page(page_id: str, body: EditRequest, rt: Rt) -> EditAnswer:
    def run() -> EditAnswer:
        info = rt.store.get_page(page_id)
        result = apply_edits(rt.store.read_original(page_id, cache=False), info.format,
                             info.dpi, body.edits, quality=body.quality, output=body.output)
        page = rt.store.replace_image(page_id, result.data, result.fmt, dpi=result.dpi)
        return EditAnswer(page=page, report=result.report)

    return await asyncio.to_thread(run)


@router.post("/pages/{page_id}/undo", summary="Undo the last edit (or every edit)")
async def undo_edit(page_id: str, body: UndoRequest, rt: Rt) -> PageInfo:
    return await asyncio.to_thread(rt.store.undo_edit, page_id, to_original=body.to_original)


@router.get("/pages/{page_id}/blank", summary="Is the page blank? Score and decision")
async def blank_page(
    page_id: str, rt: Rt,
    sensitivity: Annotated[float, Query(ge=0, le=100)] = DEFAULT_SENSITIVITY,
) -> BlankAnswer:
    def run() -> BlankAnswer:
        info = rt.store.get_page(page_id)
        result = check_page(rt.store.read_original(page_id, cache=False), info.format,
                            info.dpi, sensitivity=sensitivity)
        return BlankAnswer(page_id=page_id, blank=result.blank, score=result.score,
                           threshold=result.threshold, sensitivity=result.sensitivity)

    return await asyncio.to_thread(run)


@router.get("/pages/{page_id}/barcodes", summary="Barcodes on a page")
async def page_barcodes(
    page_id: str, rt: Rt,
    formats: Annotated[str | None, Query(description="zxing-cpp formats, comma-separated "
                                         "(default: all)")] = None,
    region: Annotated[str | None, Query(description="left,top,width,height in pixels")] = None,
) -> list[Barcode]:
    box = _parse_ints(region, "region", 4)

    def run() -> list[Barcode]:
        info = rt.store.get_page(page_id)
        with decoded(rt.store.read_original(page_id, cache=False), info.format) as image:
            return read_barcodes(image, formats=_formats(formats), region=box)

    return await asyncio.to_thread(run)


@router.get("/documents/{document_id}/barcodes",
            summary="Barcodes on every page of a document (page id -> barcodes)")
async def document_barcodes(
    document_id: str, rt: Rt,
    formats: Annotated[str | None, Query(description="zxing-cpp formats, comma-separated")]
    = None,
) -> dict[str, list[Barcode]]:
    def run() -> dict[str, list[Barcode]]:
        found: dict[str, list[Barcode]] = {}
        for info in rt.store.list_pages(document_id):
            with decoded(rt.store.read_original(info.id, cache=False), info.format) as image:
                found[info.id] = read_barcodes(image, formats=_formats(formats))
        return found

    return await asyncio.to_thread(run)


@router.post("/documents/{document_id}/split",
             summary="Split a document into new documents on separator pages")
async def split_document(document_id: str, body: SplitRequest, rt: Rt) -> list[DocumentInfo]:
    return await asyncio.to_thread(documents.split_document, rt.store, document_id, body.rule,
                                   name_prefix=body.name_prefix)
