"""Turning buffer pages into the files a CLI user asked for, in-process: split into documents,
OCR, PDF/A, one file per document (or per page for single-image formats).

Used by ``scanlet convert`` and by ``scanlet scan`` when no service runs; the service-side
equivalents are the HTTP endpoints the remote CLI calls. The split is
:func:`scanlet.core.documents.group_pages`, the same code as ``POST /v1/documents/{id}/split``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from scanlet.barcodes.separation import SeparationRule
from scanlet.buffer.store import PageStore
from scanlet.cli.scan_output import page_paths
from scanlet.codecs.export import ExportFormat, export_pages
from scanlet.codecs.options import ExportOptions
from scanlet.core.documents import group_pages
from scanlet.errors import InvalidSetting
from scanlet.models import PageInfo
from scanlet.ocr.pool import OcrPool
from scanlet.ocr.searchable import write_searchable_pdf

FORMATS = {".pdf": "pdf", ".tif": "tiff", ".tiff": "tiff", ".jpg": "jpeg", ".jpeg": "jpeg",
           ".png": "png", ".bmp": "bmp", ".webp": "webp"}


def output_format(output: Path) -> str:
    """The export format a file name asks for; InvalidSetting for unknown extensions."""
    fmt = FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise InvalidSetting(f"unknown output type {output.suffix!r}; use one of "
                             f"{', '.join(sorted(FORMATS))}", field="output",
                             allowed=sorted(FORMATS))
    return fmt


@dataclass(frozen=True)
class OutputPlan:
    """What to make of the pages."""

    output: Path
    ocr_lang: str | None = None
    pdf_a: bool = False
    split: SeparationRule | None = None

    def check(self) -> None:
        fmt = output_format(self.output)
        if (self.ocr_lang or self.pdf_a) and fmt != "pdf":
            raise InvalidSetting("--ocr and --pdfa make PDFs: name a .pdf output",
                                 field="output")


def document_paths(output: Path, count: int) -> list[Path]:
    """``out.pdf`` for one document; ``out-1.pdf``, ``out-2.pdf``... for several."""
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{i}{output.suffix}") for i in range(1, count + 1)]


def write_outputs(store: PageStore, pages: list[PageInfo], plan: OutputPlan,
                  pool: Callable[[], OcrPool]) -> list[Path]:
    """Write the files; returns their paths. Each file appears complete or not at all."""
    plan.check()
    if not pages:
        raise InvalidSetting("no pages to write (all dropped as blank?)", field="pages")
    fmt = output_format(plan.output)
    groups = group_pages(store, pages, plan.split)
    written: list[Path] = []
    for group, path in zip(groups, document_paths(plan.output, len(groups)), strict=True):
        if fmt in ("pdf", "tiff"):
            written.append(_write_document(store, group, path, fmt, plan, pool))
            continue
        for info, page_path in zip(group, page_paths(path, len(group)), strict=True):
            _atomic(page_path, lambda fh, info=info: export_pages(
                store, [info.id], cast(ExportFormat, fmt), fh))
            written.append(page_path)
    return written


def _write_document(store: PageStore, group: list[PageInfo], path: Path, fmt: str,
                    plan: OutputPlan, pool: Callable[[], OcrPool]) -> Path:
    if plan.ocr_lang:
        _atomic(path, lambda fh: write_searchable_pdf(
            pool(), group, lambda info: store.read_original(info.id, cache=False), fh,
            lang=plan.ocr_lang or "eng", pdf_a=plan.pdf_a, workdir=store.temp_dir))
    else:
        _atomic(path, lambda fh: export_pages(store, [p.id for p in group],
                                              cast(ExportFormat, fmt), fh,
                                              options=ExportOptions(pdf_a=plan.pdf_a)))
    return path


def _atomic(path: Path, write: Callable[..., object]) -> None:
    tmp = path.with_name(f".{path.name}.part")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
