"""Barcodes, patch codes and document separation.

- :mod:`.read`: :func:`read_barcodes` (zxing-cpp, every format it reads) and its models.
- :mod:`.patch`: Kodak patch codes (1, 2, 3, 4, T, 6): :func:`find_patches` and the
  :func:`draw_patch` / :func:`patch_sheet` generators for printing separator sheets.
- :mod:`.separation`: :func:`split_documents` cuts a stack of pages into documents on separator
  pages (barcode, patch code or blank), from per-page facts (:func:`page_facts`).
"""

from scanlet.barcodes.patch import PatchCode, PatchKind, draw_patch, find_patches, patch_sheet
from scanlet.barcodes.read import (
    Barcode,
    BarcodeOptions,
    Box,
    Point,
    barcode_formats,
    read_barcodes,
    read_pages,
    validate_formats,
)
from scanlet.barcodes.separation import (
    PageFacts,
    SeparationRule,
    is_separator,
    page_facts,
    split_documents,
)

__all__ = [
    "Barcode",
    "BarcodeOptions",
    "Box",
    "PageFacts",
    "PatchCode",
    "PatchKind",
    "Point",
    "SeparationRule",
    "barcode_formats",
    "draw_patch",
    "find_patches",
    "is_separator",
    "page_facts",
    "patch_sheet",
    "read_barcodes",
    "read_pages",
    "split_documents",
    "validate_formats",
]
