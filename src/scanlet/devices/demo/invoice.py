"""The invoice of the demo stack: a table of items, a QR code and a Code 128 barcode.

The symbols are encoded by zxing-cpp (``create_barcode``) and drawn module by module as
rectangles at the scan's resolution, so they are as sharp as a printed code at any dpi.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
import zxingcpp

from scanlet.devices.demo.canvas import Canvas
from scanlet.devices.demo.fonts import Face
from scanlet.devices.demo.letters import ACCENT, GREY, LEFT, RIGHT, letterhead

INVOICE_NUMBER = "INV-2026-0042"
#: What the QR code holds.
QR_TEXT = "https://example.com/invoices/INV-2026-0042?amount=1130.50&currency=EUR"
#: What the Code 128 holds.
CODE128_TEXT = INVOICE_NUMBER
QR_MODULE_MM = 0.8
CODE128_MODULE_MM = 0.4

ITEMS = (
    ("Desktop document scanner DS-400", 1, 899.00),
    ("Duplex feeder tray", 1, 149.00),
    ("Separator sheets (pack of 50)", 2, 12.50),
    ("Cleaning kit", 1, 24.00),
    ("Extended warranty, 2 years", 1, 33.50),
)


@functools.cache
def _matrix(text: str, fmt: zxingcpp.BarcodeFormat) -> npt.NDArray[np.bool_]:
    """Dark modules of ``text`` encoded as ``fmt`` (one pixel per module, no quiet zone)."""
    symbol = zxingcpp.create_barcode(text, fmt)
    pixels = np.asarray(zxingcpp.write_barcode_to_image(symbol, scale=1,
                                                        add_quiet_zones=False))
    dark: npt.NDArray[np.bool_] = pixels < 128
    return dark


def _money(value: float) -> str:
    return f"{value:,.2f}"


def invoice(c: Canvas) -> None:
    """An invoice for the scanner the letter talks about."""
    letterhead(c)
    qr = _matrix(QR_TEXT, zxingcpp.BarcodeFormat.QRCode)
    qr_size = qr.shape[1] * QR_MODULE_MM
    c.modules(RIGHT - qr_size, 42, QR_MODULE_MM, qr)
    c.text(LEFT, 52, "INVOICE", 24, face="sans-bold", ink=ACCENT)
    y = 62.0
    for label, value in (("Invoice no.", INVOICE_NUMBER), ("Date", "8 December 2026"),
                         ("Customer", "Johnson & Partners Architects"),
                         ("Order", "4711")):
        c.text(LEFT, y, label, 11, face="sans-bold")
        c.text(LEFT + 30, y, value, 11, face="sans")
        y += 6.5
    # The table of items.
    top = 100.0
    ends = (122.0, 152.0, RIGHT - 2)  # right edges of the number columns
    c.rect(LEFT, top, RIGHT - LEFT, 9, fill="#dde6f0")
    c.text(LEFT + 2, top + 6.3, "Description", 11, face="sans-bold")
    for x, head in zip(ends, ("Qty", "Unit price", "Amount"), strict=True):
        c.text(x, top + 6.3, head, 11, face="sans-bold", align="right")
    y = top + 9
    total = 0.0
    for name, qty, price in ITEMS:
        amount = qty * price
        total += amount
        c.text(LEFT + 2, y + 6.3, name, 11, face="sans")
        for x, cell in zip(ends, (str(qty), _money(price), _money(amount)), strict=True):
            c.text(x, y + 6.3, cell, 11, face="sans", align="right")
        y += 9
        c.line(LEFT, y, RIGHT, y, ink="#aaaaaa", line_mm=0.2)
    c.rect(LEFT, top, RIGHT - LEFT, y - top, outline="black", line_mm=0.3)
    net = round(total / 1.19, 2)
    for label, sum_, bold in (("Net", net, False), ("VAT 19%", total - net, False),
                              ("Total EUR", total, True)):
        y += 7
        face: Face = "sans-bold" if bold else "sans"
        c.text(ends[1], y, label, 11, face=face, align="right")
        c.text(ends[2], y, _money(sum_), 11, face=face, align="right")
    y += 14
    c.paragraph(LEFT, y, RIGHT - LEFT, "Please transfer the total within 14 days, quoting "
                "the invoice number. Scan the QR code to pay online.", 11, face="sans")
    # Code 128 of the invoice number near the foot of the page, with its text below.
    code = _matrix(CODE128_TEXT, zxingcpp.BarcodeFormat.Code128)
    width = code.shape[1] * CODE128_MODULE_MM
    c.modules(105 - width / 2, 240, CODE128_MODULE_MM, code, height_mm=15)
    c.text(105, 261, CODE128_TEXT, 10, face="mono", align="center")
    c.text(105, 285, "Bank: Harbour Bank, IBAN GB33 BUKB 2020 1555 5555 55", 8, face="sans",
           ink=GREY, align="center")
