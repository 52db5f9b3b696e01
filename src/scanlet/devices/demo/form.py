"""The form of the demo stack: labelled boxes, tick boxes, lines, a few filled-in values."""

from __future__ import annotations

from scanlet.devices.demo.canvas import Canvas
from scanlet.devices.demo.letters import ACCENT, LEFT, RIGHT

PEN = "#0d47a1"  # the filled-in values, as if written with a blue pen

FIELDS = (
    ("Surname", "JOHNSON"), ("First name", "EMILY"), ("Street and number", "45 ELM STREET"),
    ("Postcode", "CB2 1TN"), ("Town", "CAMBRIDGE"), ("Date of birth", "14.03.1985"),
    ("Email", "E.JOHNSON@EXAMPLE.COM"),
)


def form(c: Canvas) -> None:
    """An application form for a library card."""
    c.rect(LEFT, 15, RIGHT - LEFT, 16, fill=ACCENT)
    c.text(LEFT + 5, 26, "City Library - Application for a library card", 15,
           face="sans-bold", ink="white")
    y = 42.0
    for label, value in FIELDS:
        c.text(LEFT, y + 4, label, 9, face="sans")
        c.rect(LEFT, y + 6, RIGHT - LEFT, 10, outline="black", line_mm=0.3)
        c.text(LEFT + 3, y + 13.5, value, 12, face="mono", ink=PEN)
        y += 19
    c.text(LEFT, y + 6, "Membership", 12, face="sans-bold")
    y += 12
    for i, (label, ticked) in enumerate((("Adult", True), ("Student", False),
                                         ("Senior", False), ("Family", False))):
        x = LEFT + i * 40
        c.rect(x, y, 5, 5, outline="black", line_mm=0.3)
        if ticked:
            c.line(x + 0.8, y + 0.8, x + 4.2, y + 4.2, ink=PEN, line_mm=0.5)
            c.line(x + 4.2, y + 0.8, x + 0.8, y + 4.2, ink=PEN, line_mm=0.5)
        c.text(x + 7, y + 4.3, label, 11, face="sans")
    y += 16
    c.text(LEFT, y, "For office use only", 9, face="sans-bold")
    y += 3
    c.rect(LEFT, y, RIGHT - LEFT, 24, outline="black", line_mm=0.3)
    for i in range(1, 4):
        c.line(LEFT + i * (RIGHT - LEFT) / 4, y, LEFT + i * (RIGHT - LEFT) / 4, y + 24,
               line_mm=0.2)
    c.line(LEFT, y + 8, RIGHT, y + 8, line_mm=0.2)
    for i, head in enumerate(("Card no.", "Issued", "Checked by", "Notes")):
        c.text(LEFT + i * (RIGHT - LEFT) / 4 + 2, y + 5.5, head, 9, face="sans")
    y += 40
    c.line(LEFT, y, LEFT + 70, y, line_mm=0.3)
    c.text(LEFT, y + 5, "Place, date", 9, face="sans")
    c.line(RIGHT - 70, y, RIGHT, y, line_mm=0.3)
    c.text(RIGHT - 70, y + 5, "Signature", 9, face="sans")
