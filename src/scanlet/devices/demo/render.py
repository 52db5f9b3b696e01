"""Turn one side of a demo sheet into the pixels a scanner would deliver.

:func:`render_side` draws the side for a scan window (mm on the bed) at a resolution, in RGB
for colour scans and in grey otherwise, turns it by the side's print angle, and applies
brightness and contrast. :class:`FrameWriter` then copies it into a raw frame band by band in
the layout SANE would deliver (rgb8, gray8, gray16 in host byte order, bw1 with 1 = black), so
the driver can report progress and notice a cancel between bands, like a device read.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
from PIL import Image

from scanlet.devices.demo.canvas import MM_PER_INCH, Canvas
from scanlet.devices.demo.sheets import SHEET_MM, Side
from scanlet.devices.encode import Layout
from scanlet.models import ColorMode

#: Grey level below which a black-and-white scan calls a pixel black.
BW_THRESHOLD = 128


@dataclass(frozen=True)
class Window:
    """The part of the bed a scan reads, in mm from its top-left corner."""

    left: float
    top: float
    width: float
    height: float

    def pixels(self, dpi: float) -> tuple[int, int]:
        """Pixel width and height of the window at ``dpi`` (at least 1 x 1)."""
        return (max(1, round(self.width / MM_PER_INCH * dpi)),
                max(1, round(self.height / MM_PER_INCH * dpi)))


def render_side(side: Side, window: Window, dpi: float, mode: ColorMode, *,
                brightness: float | None = None, contrast: float | None = None) -> Image.Image:
    """The side as an "RGB" (colour) or "L" (grey, black and white) image of the window."""
    image = Image.new("RGB" if mode == ColorMode.COLOR else "L", window.pixels(dpi), "white")
    canvas = Canvas(image, dpi, window.left, window.top)
    side.draw(canvas)
    if side.skew_deg:
        centre = (canvas.px(SHEET_MM[0] / 2), canvas.py(SHEET_MM[1] / 2))
        turned = image.rotate(side.skew_deg, resample=Image.Resampling.BILINEAR, center=centre,
                              fillcolor="white")
        image.close()
        image = turned
    if brightness or contrast:
        adjusted = image.point(_tone_curve(brightness or 0.0, contrast or 0.0)
                               * len(image.getbands()))
        image.close()
        image = adjusted
    return image


def _tone_curve(brightness: float, contrast: float) -> list[int]:
    """A 256-entry lookup table for brightness and contrast in -100..100 (0: unchanged)."""
    gain = math.tan((contrast + 100) / 200 * math.pi / 2)  # -100 flat, 0 one, 100 steep
    shift = brightness * 1.275
    return [min(255, max(0, round((v - 127.5) * gain + 127.5 + shift))) for v in range(256)]


def layout_of(mode: ColorMode, bit_depth: int) -> tuple[Layout, int]:
    """The frame layout for a mode and depth, and the bytes per pixel (0 for packed bits)."""
    if mode == ColorMode.COLOR:
        return "rgb8", 3
    if mode == ColorMode.BW:
        return "bw1", 0
    return ("gray16", 2) if bit_depth == 16 else ("gray8", 1)


class FrameWriter:
    """Copies a rendered image into a raw frame buffer in ``layout``, one band at a time."""

    def __init__(self, image: Image.Image, layout: Layout) -> None:
        self.image = image
        self.layout = layout
        width = image.width
        self.stride = {"rgb8": width * 3, "gray8": width, "gray16": width * 2,
                       "bw1": (width + 7) // 8}[layout]
        self.data = bytearray(self.stride * image.height)
        self.lines = 0

    def write(self, lines: int) -> int:
        """Copy the next ``lines`` rows (fewer at the bottom); return the rows done so far."""
        top = self.lines
        bottom = min(self.image.height, top + lines)
        if bottom <= top:
            return self.lines
        band = self.image.crop((0, top, self.image.width, bottom))
        self.data[top * self.stride:bottom * self.stride] = self._bytes(band)
        band.close()
        self.lines = bottom
        return bottom

    def _bytes(self, band: Image.Image) -> bytes:
        if self.layout == "bw1":
            ink = band.point(lambda v: 255 if v >= BW_THRESHOLD else 0, mode="1")
            return ink.tobytes("raw", "1;I")  # SANE's packing: a set bit is black
        if self.layout == "gray16":
            wide = np.asarray(band, dtype=np.uint16) * np.uint16(257)
            return wide.astype("<u2" if sys.byteorder == "little" else ">u2").tobytes()
        return band.tobytes()
