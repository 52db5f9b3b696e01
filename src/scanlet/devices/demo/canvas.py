"""Drawing in millimetres on a page rendered at any resolution.

Documents are described in paper coordinates (mm from the sheet's top-left corner) and drawn
straight onto an image of the scan window at the requested dpi: vector shapes and TrueType
text, never a low-resolution bitmap scaled up, so a 600 dpi scan is as sharp as a real one and
costs no more than drawing it. Text is laid out (wrapped, measured) at one reference size, so
line breaks are the same at every resolution and a page's content does not depend on the dpi.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from scanlet.devices.demo.fonts import Face, font

MM_PER_INCH = 25.4
_PT_PER_INCH = 72.0
#: Pixel size text is measured at for layout; big enough for exact metrics.
_LAYOUT_PX = 200

Ink = str  # a Pillow colour string ("#1f4e79", "black"): works on RGB and L images alike


class Canvas:
    """An image showing the window ``(left, top)`` mm onwards of a sheet at ``dpi``."""

    def __init__(self, image: Image.Image, dpi: float, left_mm: float, top_mm: float) -> None:
        self.image = image
        self.dpi = dpi
        self.left = left_mm
        self.top = top_mm
        self.draw = ImageDraw.Draw(image)

    # -- coordinates -------------------------------------------------------------------------

    def px(self, x_mm: float) -> float:
        """Pixel column of a sheet x coordinate."""
        return (x_mm - self.left) * self.dpi / MM_PER_INCH

    def py(self, y_mm: float) -> float:
        """Pixel row of a sheet y coordinate."""
        return (y_mm - self.top) * self.dpi / MM_PER_INCH

    def length(self, mm: float) -> float:
        """A length in pixels."""
        return mm * self.dpi / MM_PER_INCH

    def _box(self, x: float, y: float, w: float, h: float) -> tuple[int, int, int, int]:
        """Pixel box (inclusive) of a rectangle, edges rounded so abutting boxes do not
        overlap or leave gaps (barcode modules depend on it)."""
        x0, y0 = round(self.px(x)), round(self.py(y))
        x1, y1 = round(self.px(x + w)) - 1, round(self.py(y + h)) - 1
        return x0, y0, max(x0, x1), max(y0, y1)

    # -- shapes ------------------------------------------------------------------------------

    def rect(self, x: float, y: float, w: float, h: float, *, fill: Ink | None = None,
             outline: Ink | None = None, line_mm: float = 0.3) -> None:
        """A rectangle, filled and/or outlined (the outline lies inside the box)."""
        box = self._box(x, y, w, h)
        if fill is not None:
            self.draw.rectangle(box, fill=fill)
        if outline is not None:
            self.draw.rectangle(box, outline=outline, width=max(1, round(self.length(line_mm))))

    def line(self, x0: float, y0: float, x1: float, y1: float, *, ink: Ink = "black",
             line_mm: float = 0.3) -> None:
        """A straight line."""
        self.draw.line((self.px(x0), self.py(y0), self.px(x1), self.py(y1)), fill=ink,
                       width=max(1, round(self.length(line_mm))))

    def ellipse(self, x: float, y: float, w: float, h: float, *, fill: Ink | None = None,
                outline: Ink | None = None, line_mm: float = 0.3) -> None:
        """An ellipse in the box ``(x, y, w, h)``."""
        self.draw.ellipse((self.px(x), self.py(y), self.px(x + w), self.py(y + h)), fill=fill,
                          outline=outline, width=max(1, round(self.length(line_mm))))

    def polygon(self, points: Sequence[tuple[float, float]], *, fill: Ink) -> None:
        """A filled polygon through ``points`` (mm)."""
        self.draw.polygon([(self.px(x), self.py(y)) for x, y in points], fill=fill)

    def modules(self, x: float, y: float, module_mm: float, dark: npt.NDArray[np.bool_], *,
                height_mm: float | None = None) -> None:
        """A barcode from its module matrix (True = dark), one rectangle per dark run.

        With ``height_mm`` the matrix is one row (a linear barcode) drawn that tall.
        """
        rows = dark.shape[0] if height_mm is None else 1
        row_mm = module_mm if height_mm is None else height_mm
        for r in range(rows):
            row = dark[r]
            c = 0
            while c < len(row):
                if not row[c]:
                    c += 1
                    continue
                start = c
                while c < len(row) and row[c]:
                    c += 1
                self.draw.rectangle(self._box(x + start * module_mm, y + r * row_mm,
                                              (c - start) * module_mm, row_mm), fill="black")

    def paste(self, picture: Image.Image, x: float, y: float) -> None:
        """Paste an image already rendered at this canvas's dpi with its corner at (x, y)."""
        self.image.paste(picture if picture.mode == self.image.mode
                         else picture.convert(self.image.mode),
                         (round(self.px(x)), round(self.py(y))))

    # -- text --------------------------------------------------------------------------------

    def text_px(self, size_pt: float) -> int:
        """The pixel em size of ``size_pt`` points at this dpi."""
        return max(4, round(size_pt / _PT_PER_INCH * self.dpi))

    @staticmethod
    def text_width(text: str, size_pt: float, face: Face = "serif") -> float:
        """Width of ``text`` in mm, the same at every dpi."""
        em_mm = size_pt / _PT_PER_INCH * MM_PER_INCH
        return font(face, _LAYOUT_PX).getlength(text) / _LAYOUT_PX * em_mm

    def text(self, x: float, y: float, text: str, size_pt: float, *, face: Face = "serif",
             ink: Ink = "black", align: str = "left") -> None:
        """One line of text with its baseline at ``y``; ``align`` left, right or centre of x."""
        if align == "right":
            x -= self.text_width(text, size_pt, face)
        elif align == "center":
            x -= self.text_width(text, size_pt, face) / 2
        self.draw.text((self.px(x), self.py(y)), text, fill=ink,
                       font=font(face, self.text_px(size_pt)), anchor="ls")

    def paragraph(self, x: float, y: float, width: float, text: str, size_pt: float, *,
                  face: Face = "serif", ink: Ink = "black", leading: float = 1.35) -> float:
        """``text`` wrapped to ``width`` mm, first baseline at ``y``; returns the y (mm) of
        the baseline after the last line."""
        step = size_pt / _PT_PER_INCH * MM_PER_INCH * leading
        for line in wrap(text, width, size_pt, face):
            self.text(x, y, line, size_pt, face=face, ink=ink)
            y += step
        return y


def wrap(text: str, width: float, size_pt: float, face: Face) -> list[str]:
    """Greedy word wrap of ``text`` into lines at most ``width`` mm wide."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and Canvas.text_width(candidate, size_pt, face) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines
