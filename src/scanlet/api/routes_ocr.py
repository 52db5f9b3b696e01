"""OCR: installed languages, and OCR of a document's pages as a task (text, hOCR, or a
searchable PDF / PDF/A whose invisible text layer lies on the untouched page images)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from scanlet.api.deps import runtime
from scanlet.codecs.options import DocumentMetadata
from scanlet.errors import InvalidSetting
from scanlet.models import PageInfo
from scanlet.ocr.searchable import ocr_pages, write_searchable_pdf
from scanlet.ocr.tesseract import check_lang, languages
from scanlet.service.runtime import Runtime
from scanlet.tasks import Progress, TaskInfo, TaskOutput

router = APIRouter(prefix="/v1", tags=["ocr"])
Rt = Annotated[Runtime, Depends(runtime)]


class OcrRequest(BaseModel):
    lang: str = Field("eng", max_length=100, description="Installed languages, e.g. eng+deu")
    output: Literal["pdf", "pdfa", "text", "hocr"] = "pdf"
    page_ids: list[str] | None = Field(None, max_length=10_000,
                                       description="Pages in this order (default: all)")
    metadata: DocumentMetadata | None = None


@router.get("/ocr/languages", summary="OCR languages installed on this computer")
def ocr_languages() -> list[str]:
    return languages()


@router.post("/documents/{document_id}/ocr", status_code=status.HTTP_202_ACCEPTED,
             summary="OCR a document (a task; follow it at /v1/tasks/{id})")
async def ocr_document(document_id: str, body: OcrRequest, rt: Rt) -> TaskInfo:
    lang = await asyncio.to_thread(check_lang, body.lang)
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

    return rt.tasks.start(f"ocr-{body.output}", work, total=len(pages))


def _texts(pages: list[PageInfo], texts: list[str]) -> list[dict[str, str]]:
    return [{"page_id": p.id, "text": t} for p, t in zip(pages, texts, strict=True)]
