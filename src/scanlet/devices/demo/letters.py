"""Text documents of the demo stack: a business letter, a memo printed at an angle, and a
two-sided agreement. Real sentences in 11-12 pt type, so OCR (tesseract) has something to read
at 150-300 dpi and the pages look like what people scan."""

from __future__ import annotations

import itertools

from scanlet.devices.demo.canvas import Canvas

ACCENT = "#1f4e79"
GREY = "#555555"
LEFT, RIGHT = 25.0, 185.0  # text column of every letter-like page, mm

LETTER_PARAGRAPHS = (
    "Thank you for your order of the desktop document scanner. We are pleased to confirm that "
    "the delivery will reach your office on Thursday morning, together with the feeder tray "
    "and the power supply.",
    "The scanner reads both sides of a page in one pass and separates documents when it finds "
    "a patch sheet between them. Please keep the enclosed invoice for your records; the code "
    "printed on it lets our accounts team find your order quickly.",
    "Should anything be missing or damaged, simply reply to this letter or call our service "
    "line. We will replace any faulty part free of charge within the warranty period.",
    "We hope the new scanner serves you well for many years.",
)


def letterhead(c: Canvas, title: str = "Northwind Paper Company") -> None:
    """The sender's letterhead: a coloured band, name and address."""
    c.rect(0, 0, 210, 8, fill=ACCENT)
    c.text(LEFT, 24, title, 18, face="sans-bold", ink=ACCENT)
    c.text(LEFT, 30, "12 Harbour Road, Bristol BS1 4QA, United Kingdom", 9, face="sans",
           ink=GREY)
    c.line(LEFT, 34, RIGHT, 34, ink=ACCENT, line_mm=0.5)


def signature(c: Canvas, x: float, y: float) -> None:
    """A handwritten-looking flourish (a fixed polyline, so it is the same every time)."""
    points = [(0, 6), (3, 0), (5, 8), (8, 1), (10, 7), (14, 2), (17, 6), (22, 3), (27, 5),
              (33, 1), (38, 6), (45, 4)]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        c.line(x + x0, y + y0, x + x1, y + y1, ink="#1a237e", line_mm=0.5)


def letter(c: Canvas) -> None:
    """A business letter (the flatbed's page)."""
    letterhead(c)
    y = 52.0
    for line in ("Ms Emily Johnson", "Johnson & Partners Architects", "45 Elm Street",
                 "Cambridge CB2 1TN"):
        c.text(LEFT, y, line, 11)
        y += 5.5
    c.text(RIGHT, 52, "8 December 2026", 11, align="right")
    c.text(LEFT, 92, "Your order 4711: delivery of your new scanner", 12, face="serif-bold")
    y = 106.0
    c.text(LEFT, y, "Dear Ms Johnson,", 12)
    y += 10
    for paragraph in LETTER_PARAGRAPHS:
        y = c.paragraph(LEFT, y, RIGHT - LEFT, paragraph, 12) + 4
    c.text(LEFT, y + 4, "Yours sincerely,", 12)
    signature(c, LEFT, y + 9)
    c.text(LEFT, y + 26, "Daniel Whitaker, Customer Service", 12)
    c.line(LEFT, 280, RIGHT, 280, ink=GREY, line_mm=0.2)
    c.text(105, 285, "Northwind Paper Company Ltd, registered in England no. 01234567",
           8, face="sans", ink=GREY, align="center")


MEMO_PARAGRAPHS = (
    "This memo was fed into the printer at an angle, so every line on it runs a few degrees "
    "off the horizontal. Straightening pages like this one is called deskewing.",
    "Scanlet measures the angle of the text lines and turns the page back, so the lines run "
    "straight again and text recognition reads them more reliably.",
    "Meeting notes: the quarterly review moves to Friday at ten o'clock in room four. Please "
    "bring the updated budget figures and the list of open orders.",
)


def memo(c: Canvas) -> None:
    """An internal memo; the stack prints it skewed."""
    c.text(LEFT, 30, "MEMO", 26, face="sans-bold", ink=ACCENT)
    y = 44.0
    for label, value in (("To:", "All staff"), ("From:", "Office management"),
                         ("Date:", "1 December 2026"), ("Subject:", "Quarterly review")):
        c.text(LEFT, y, label, 12, face="serif-bold")
        c.text(LEFT + 25, y, value, 12)
        y += 7
    c.line(LEFT, y, RIGHT, y, line_mm=0.4)
    y += 12
    for paragraph in MEMO_PARAGRAPHS:
        y = c.paragraph(LEFT, y, RIGHT - LEFT, paragraph, 12) + 5


def agreement_front(c: Canvas) -> None:
    """Side 1 of the two-sided sheet."""
    letterhead(c)
    c.text(LEFT, 52, "Rental agreement", 20, face="serif-bold")
    clauses = (
        "1. The landlord lets the office on the second floor to the tenant from 1 January "
        "2027 for a term of two years.",
        "2. The rent is payable monthly in advance on the first working day of each month.",
        "3. The tenant keeps the office in good repair and returns it in the same condition.",
        "4. Either party may end this agreement with three months' notice in writing.",
    )
    y = 68.0
    for clause in clauses:
        y = c.paragraph(LEFT, y, RIGHT - LEFT, clause, 12) + 4
    c.text(105, 285, "Page 1 of 2 - continued overleaf", 10, face="sans", ink=GREY,
           align="center")


def agreement_back(c: Canvas) -> None:
    """Side 2 of the two-sided sheet: different content, so duplex order can be checked."""
    c.text(LEFT, 30, "Signatures", 20, face="serif-bold")
    y = 46.0
    y = c.paragraph(LEFT, y, RIGHT - LEFT, "Signed by both parties on the date below, each "
                    "keeping one copy of this agreement.", 12) + 12
    for who in ("Landlord", "Tenant"):
        c.line(LEFT, y + 15, LEFT + 80, y + 15, line_mm=0.3)
        c.text(LEFT, y + 21, who, 11, face="sans")
        c.line(LEFT + 100, y + 15, RIGHT, y + 15, line_mm=0.3)
        c.text(LEFT + 100, y + 21, "Date", 11, face="sans")
        y += 40
    signature(c, LEFT + 10, 92)
    c.text(105, 285, "Page 2 of 2", 10, face="sans", ink=GREY, align="center")
