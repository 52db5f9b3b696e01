"""OCR: installed languages, and OCR of a document's pages as a task (text, hOCR, or a
searchable PDF / PDF/A whose invisible text layer lies on the untouched page images).

OCR is the most expensive thing a client can ask for, so it is limited per client (the
principal: a paired site, an API key, or Scanlet's own pages): ``[limits]
ocr_tasks_per_minute`` OCR requests per minute (the access middleware, 429 ``rate_limited``)
and ``[limits] max_running_ocr_tasks`` OCR tasks running at once (here, 429
``too_many_tasks``). Both answer with ``Retry-After``. Whatever the number of tasks, the
shared OCR pool never runs more tesseracts than it has workers.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, Field

from scanlet.api.deps import client_key
from scanlet.codecs import pixel_budget
from scanlet.codecs.decode import pillow_mode
from scanlet.codecs.options import DocumentMetadata
from scanlet.codecs.pdf import page_size_pt
from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.errors import InvalidSetting
from scanlet.models import PageInfo
from scanlet.ocr.searchable import ocr_pages, write_searchable_pdf
from scanlet.ocr.tesseract import check_lang, check_size, languages
from scanlet.tasks import Progress, TaskInfo, TaskOutput

router = APIRouter(prefix="/v1", tags=["ocr"])
Rt = Annotated[Runtime, Depends(runtime)]

#: Task kinds of OCR start with this (``ocr-pdf``, ``ocr-text``...).
OCR_TASK_PREFIX = "ocr-"


class OcrRequest(BaseModel):
    lang: str = Field("eng", max_length=100, description="Installed languages, e.g. eng+deu")
    output: Literal["pdf", "pdfa", "text", "hocr"] = "pdf"
    page_ids: list[str] | None = Field(None, max_length=10_000,
                                       description="Pages in this order (default: all)")
    metadata: DocumentMetadata | None = None


@router.get("/ocr/languages", summary="OCR languages installed on this computer")
def ocr_languages(rt: Rt) -> list[str]:
    return languages(tesseract=rt.tesseract)


def _check_running(rt: Runtime, client: str) -> None:
    """429 ``too_many_tasks`` when ``client`` already runs its maximum of OCR tasks."""
    rt.tasks.check_room(kind_prefix=OCR_TASK_PREFIX, owner=client,
                        maximum=rt.settings.max_running_ocr_tasks, what="OCR tasks",
                        key="max_running_ocr_tasks")


@router.post("/documents/{document_id}/ocr", status_code=status.HTTP_202_ACCEPTED,
             summary="OCR a document (a task; follow it at /v1/tasks/{id})")
async def ocr_document(document_id: str, body: OcrRequest, rt: Rt,
                       request: Request) -> TaskInfo:
    client = client_key(request.scope)
    _check_running(rt, client)  # early, before any work; checked again right before starting
    lang = await asyncio.to_thread(check_lang, body.lang, tesseract=rt.tesseract)
    pages = await asyncio.to_thread(rt.store.list_pages, document_id)
    if body.page_ids is not None:
        by_id = {p.id: p for p in pages}
        unknown = [p for p in body.page_ids if p not in by_id]
        if unknown:
            raise InvalidSetting(f"page {unknown[0]} is not in document {document_id}",
                                 field="page_ids")
        pages = [by_id[p] for p in body.page_ids]
    if not pages:
        raise InvalidSetting("the document has no pages to OCR", field="page_ids")
    for info in pages:  # pages tesseract, a PDF or the decode budget cannot hold: refused
        check_size(info.width, info.height, page_id=info.id)  # now, not as a failed task
        pixel_budget.check_fits(pixel_budget.work_bytes(
            info.width, info.height, pillow_mode(info.mode, info.bit_depth), "ocr"))
        if body.output in ("pdf", "pdfa"):
            page_size_pt(info, info.width, info.height)

    def read(info: PageInfo) -> bytes:
        return rt.store.read_original(info.id, cache=False)

    def work(workdir: Path, progress: Progress, cancel: threading.Event) -> TaskOutput:
        pool = rt.ocr_pool()
        if body.output in ("pdf", "pdfa"):
            target = workdir / "ocr.pdf"
            with open(target, "wb") as fh:
                texts = write_searchable_pdf(pool, pages, read, fh, lang=lang,
                                             progress=progress, cancel=cancel, workdir=workdir,
                                             pdf_a=body.output == "pdfa",
                                             metadata=body.metadata)
            return TaskOutput({"pages": _texts(pages, texts)}, target, "application/pdf")
        kind: Literal["text", "hocr"] = "text" if body.output == "text" else "hocr"
        results = pool.run(ocr_pages(pages, read), lang=lang, outputs=(kind,),
                           progress=progress, cancel=cancel)
        if kind == "text":
            texts = [r.text or "" for r in results]
            target = workdir / "ocr.txt"
            target.write_text("\f".join(texts), encoding="utf-8")
            return TaskOutput({"pages": _texts(pages, texts)}, target, "text/plain")
        return TaskOutput({"pages": [{"page_id": p.id, "hocr": r.hocr or ""}
                                     for p, r in zip(pages, results, strict=True)]})

    # No await between this check and start(): two requests of one client cannot both pass.
    _check_running(rt, client)
    return rt.tasks.start(f"{OCR_TASK_PREFIX}{body.output}", work, total=len(pages),
                          owner=client)


def _texts(pages: list[PageInfo], texts: list[str]) -> list[dict[str, str]]:
    return [{"page_id": p.id, "text": t} for p, t in zip(pages, texts, strict=True)]
