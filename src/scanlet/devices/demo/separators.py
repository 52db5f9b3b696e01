"""Separator sheets of the demo stack: a blank sheet and a Patch T sheet.

The Patch T is printed like scanlet.barcodes.patch.patch_sheet prints one (bars across the
page 0.5 in below the top edge, with the bar and space widths of Kodak's A-61599 "Patch Code
Information"), drawn here in millimetres so it is exact at every resolution;
scanlet.barcodes.patch.find_patches reads it (tests/devices/test_demo_documents.py). The
geometry is restated here rather than imported because the device layer sits below
``barcodes/`` (docs/design.md, "Layers").
"""

from __future__ import annotations

from scanlet.devices.demo.canvas import MM_PER_INCH, Canvas

#: Kodak patch geometry (inches): narrow and wide bars, the spaces between them.
NARROW_IN, WIDE_IN, SPACE_IN = 0.08, 0.20, 0.08
#: Patch T: narrow, wide, narrow, wide bars from the leading (top) edge.
PATCH_T = "NWNW"

_MARGIN_MM = 0.5 * MM_PER_INCH


def blank(c: Canvas) -> None:
    """A blank sheet: white paper with two specks of dust, as real blank sheets have."""
    c.ellipse(60, 120, 0.3, 0.3, fill="#888888")
    c.ellipse(150, 210, 0.25, 0.25, fill="#999999")


def patch_t(c: Canvas) -> None:
    """A Patch T document separator sheet."""
    y = _MARGIN_MM
    for symbol in PATCH_T:
        width = (WIDE_IN if symbol == "W" else NARROW_IN) * MM_PER_INCH
        c.rect(_MARGIN_MM, y, 210 - 2 * _MARGIN_MM, width, fill="black")
        y += width + SPACE_IN * MM_PER_INCH
    c.text(105, 2.0 * MM_PER_INCH + 8, "PATCH T", 28, face="sans-bold", align="center")
    c.text(105, 2.0 * MM_PER_INCH + 20, "Document separator: a new document starts after "
           "this sheet", 11, face="sans", align="center")
