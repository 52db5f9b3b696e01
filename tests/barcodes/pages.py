"""Test pages for barcode, patch code and separation tests, drawn with zxing-cpp's own writer.

Every format zxing-cpp can write has a row in :data:`SAMPLES` with a valid payload and what a
reader must give back (zxing-cpp reports some formats under their family name, and normalises
some texts, e.g. UPC-A as 13 digits).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from scanlet.barcodes.read import Box


@dataclass(frozen=True)
class Sample:
    """One format to write, and what reading it must give."""

    format: str
    content: str
    text: str  # expected decoded text
    read_as: str  # expected format name in the result
    read_filter: str | None = None  # filter to read it with, when not its own format
    own_row: bool = False  # zxing-cpp reads one DataBar (RSS-14) symbol per row only
    alone: bool = False  # zxing-cpp reads MaxiCode only when nothing else is in the image
    orientation: int = 0  # what zxing-cpp reports for the upright symbol


def gs1_check(body: str) -> str:
    """``body`` with its GS1 check digit (weights 3, 1, 3 ... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def _databar(fmt: str, body: str, read_as: str) -> Sample:
    """A DataBar sample: reads back as (01) + the 13 digits + their check digit.

    zxing-cpp pairs DataBar halves by value, so samples on one page need different numbers.
    """
    return Sample(fmt, body, f"(01){gs1_check(body)}", read_as, own_row=True)


SAMPLES: list[Sample] = [
    Sample("QRCode", "Scanlet QR 1", "Scanlet QR 1", "QRCode"),
    Sample("QRCodeModel2", "model two", "model two", "QRCode"),
    Sample("MicroQRCode", "MQR12", "MQR12", "MicroQRCode"),
    Sample("RMQRCode", "rMQR 7", "rMQR 7", "RMQRCode"),
    Sample("DataMatrix", "Scanlet DM 42", "Scanlet DM 42", "DataMatrix"),
    Sample("PDF417", "Scanlet PDF417", "Scanlet PDF417", "PDF417"),
    Sample("CompactPDF417", "compact 417", "compact 417", "PDF417"),
    Sample("MicroPDF417", "micro 417", "micro 417", "MicroPDF417"),
    Sample("Aztec", "Scanlet Aztec", "Scanlet Aztec", "Aztec"),
    Sample("AztecCode", "aztec code", "aztec code", "Aztec"),
    Sample("AztecRune", "42", "042", "Aztec"),
    Sample("MaxiCode", "MAXICODE 1", "MAXICODE 1", "MaxiCode", alone=True),
    Sample("Code128", "Scanlet-128", "Scanlet-128", "Code128"),
    Sample("Code39", "SCANLET-39", "SCANLET-39", "Code39"),
    Sample("Code39Std", "STD 39", "STD 39", "Code39"),
    Sample("Code39Ext", "ext39", "ext39", "Code39Ext"),
    Sample("Code32", "12345678", "A123456788", "Code32"),
    Sample("PZN", "1234567", "-12345678", "PZN"),
    Sample("Code93", "CODE-93", "CODE-93", "Code93"),
    Sample("Codabar", "A40156B", "A40156B", "Codabar"),
    Sample("Telepen", "Tele 1", "Tele 1", "TelepenAlpha"),
    Sample("TelepenAlpha", "ALPHA", "ALPHA", "TelepenAlpha"),
    Sample("TelepenNumeric", "123456", "123456", "TelepenNumeric"),
    Sample("EANUPC", "4006381333931", "4006381333931", "EAN13"),
    Sample("EAN13", "5901234123457", "5901234123457", "EAN13"),
    Sample("EAN8", "96385074", "96385074", "EAN8"),
    Sample("UPCA", "036000291452", "0036000291452", "UPCA"),
    Sample("UPCE", "01234565", "0012345000065", "UPCE"),
    # zxing-cpp reads ISBN symbols as EAN-13 only (a formats=ISBN filter finds nothing).
    Sample("ISBN", "9780306406157", "9780306406157", "EAN13", read_filter="EAN13"),
    Sample("ITF", "12345678", "12345678", "ITF"),
    Sample("ITF14", "10012345678902", "10012345678902", "ITF"),
    _databar("DataBar", "0950110153001", "DataBarOmni"),
    _databar("DataBarOmni", "7612345678900", "DataBarOmni"),
    _databar("DataBarStk", "4012345000006", "DataBarStk"),
    _databar("DataBarStkOmni", "2012345678904", "DataBarStk"),
    Sample("DataBarLtd", "0950110153005", f"(01){gs1_check('0950110153005')}", "DataBarLtd"),
    Sample("DataBarExp", "(01)09501101530003", "(01)09501101530003", "DataBarExp"),
    # zxing-cpp 3.1 reports an upright stacked DataBar Expanded as turned 180 degrees.
    Sample("DataBarExpStk", "(01)09501101530003(10)AB1", "(01)09501101530003(10)AB1",
           "DataBarExpStk", orientation=180),
    Sample("DXFilmEdge", "16-5/2", "16-5/2", "DXFilmEdge"),
]

#: Writable formats with no test sample, and why.
NOT_READABLE = {
    "EAN2": "an EAN add-on, only read next to an EAN-13/UPC-A",
    "EAN5": "an EAN add-on, only read next to an EAN-13/UPC-A",
}

A4_150 = (1240, 1754)
A4_300 = (2480, 3508)


def symbol(fmt: str, content: str, scale: int) -> Image.Image:
    """A barcode from zxing-cpp's writer, with its quiet zones, as a grey image."""
    made = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat[fmt])
    return Image.fromarray(np.asarray(made.to_image(scale=scale)))


def _fit_scale(fmt: str, content: str, cell: tuple[int, int], largest: int) -> int:
    base = symbol(fmt, content, 1)
    return max(1, min(largest, (cell[0] - 20) // base.width, (cell[1] - 20) // base.height))


@dataclass
class Page:
    """A drawn page and where each symbol went (by a key: format name or label)."""

    image: Image.Image
    boxes: dict[str, Box]
    cells: dict[str, Box] = field(default_factory=dict)


def _rows(samples: list[Sample], columns: int) -> list[list[Sample | None]]:
    """Samples in rows of ``columns`` cells; ``own_row`` samples each get a row and a column
    of their own (on a diagonal), as far as the columns go."""
    rows: list[list[Sample | None]] = []
    for index, sample in enumerate(s for s in samples if s.own_row):
        row: list[Sample | None] = [None] * columns
        row[index % columns] = sample
        rows.append(row)
    for sample in samples:
        if sample.own_row:
            continue
        free = next(((row, row.index(None)) for row in rows if None in row), None)
        if free is None:
            rows.append([sample] + [None] * (columns - 1))
        else:
            free[0][free[1]] = sample
    return rows


def barcode_pages(samples: list[Sample], *, size: tuple[int, int] = A4_150, columns: int = 3,
                  rows: int = 7, largest: int = 4) -> list[Page]:
    """Samples laid out in grids of cells, each symbol as large as its cell allows, on as many
    pages as needed. ``cells`` of each page hold the cell of each symbol."""
    cell = ((size[0] - 60) // columns, (size[1] - 60) // rows)
    all_rows = _rows(samples, columns)
    pages = []
    for first in range(0, len(all_rows), rows):
        page = Image.new("L", size, 255)
        boxes, cells = {}, {}
        for row_index, row in enumerate(all_rows[first:first + rows]):
            for col, sample in enumerate(row):
                if sample is None:
                    continue
                image = symbol(sample.format, sample.content,
                               _fit_scale(sample.format, sample.content, cell, largest))
                cell_left, cell_top = 30 + col * cell[0], 30 + row_index * cell[1]
                left = cell_left + (cell[0] - image.width) // 2
                top = cell_top + (cell[1] - image.height) // 2
                page.paste(image, (left, top))
                boxes[sample.format] = Box(left=left, top=top, width=image.width,
                                           height=image.height)
                cells[sample.format] = Box(left=cell_left, top=cell_top, width=cell[0],
                                           height=cell[1])
        pages.append(Page(page, boxes, cells))
    return pages


def text_lines(page: Image.Image, top: int, lines: int, dpi: int) -> None:
    """Some lines of body text, so pages are not just symbols on white."""
    font = ImageFont.load_default(size=max(10, dpi // 12))
    draw = ImageDraw.Draw(page)
    for n in range(lines):
        draw.text((dpi // 2, top + n * dpi // 6),
                  f"Line {n}: The quick brown fox jumps over the lazy dog 0123456789 |||| lll",
                  fill=0, font=font)


def placed(page: Image.Image, image: Image.Image, left: int, top: int,
           rotate: int = 0) -> Box:
    """Paste ``image`` (turned ``rotate`` degrees counter-clockwise) and return its box."""
    if rotate:
        image = image.rotate(rotate, expand=True, fillcolor=255)
    page.paste(image, (left, top))
    return Box(left=left, top=top, width=image.width, height=image.height)
