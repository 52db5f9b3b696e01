"""OCR with Tesseract: installed languages, plain text, hOCR and searchable PDFs.

- :mod:`scanlet.ocr.tesseract`: find tesseract, list languages, OCR one page (one
  single-threaded process, timeout, cancel), and the OCR errors.
- :mod:`scanlet.ocr.pool`: :class:`OcrPool`, many pages on every core, progress and cancel,
  blocking and asyncio entry points.
- :mod:`scanlet.ocr.searchable`: the searchable PDF (our image PDF + tesseract's invisible
  text layer); imported on its own because it loads pikepdf.
"""

from scanlet.ocr.pool import OcrPage, OcrPool
from scanlet.ocr.tesseract import (
    OCR_OUTPUTS,
    OcrCancelled,
    OcrError,
    OcrOutput,
    OcrResult,
    OcrTimeout,
    OcrUnavailable,
    check_lang,
    configure,
    find_tesseract,
    languages,
    run_page,
)

__all__ = [
    "OCR_OUTPUTS",
    "OcrCancelled",
    "OcrError",
    "OcrOutput",
    "OcrPage",
    "OcrPool",
    "OcrResult",
    "OcrTimeout",
    "OcrUnavailable",
    "check_lang",
    "configure",
    "find_tesseract",
    "languages",
    "run_page",
]
