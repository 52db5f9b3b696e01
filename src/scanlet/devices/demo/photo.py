"""The photo of the demo stack: a synthetic, colourful landscape printed with a white border.

The sky and the lake are smooth gradients computed per pixel at the scan's resolution (only
for the part of the photo inside the scan window, so memory stays that of the window); sun,
mountains, trees and a house are vector shapes on top. Everything is a function of sheet
millimetres, so every resolution shows the same picture.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from scanlet.devices.demo.canvas import Canvas

#: The photo's box on the sheet, mm.
PHOTO = (15.0, 40.0, 180.0, 135.0)
HORIZON = 0.62  # fraction of the photo's height where sky meets land
#: Per channel (R, G, B): sky at the top, sky at the horizon, land near the horizon, land at
#: the bottom, and how much the colour changes from left to right.
_COLOURS = ((30, 250, 70, 20, 20), (80, 190, 150, 90, -15), (170, 150, 60, 30, 10))
_BAND_ROWS = 256


def _gradient(c: Canvas) -> tuple[Image.Image, float, float] | None:
    """The sky-and-land gradient for the part of the photo inside the window, with the
    sheet position (mm) of its top-left corner; None when the photo is outside the window."""
    x0, y0, w, h = PHOTO
    left = max(0, round(c.px(x0)))
    top = max(0, round(c.py(y0)))
    right = min(c.image.width, round(c.px(x0 + w)))
    bottom = min(c.image.height, round(c.py(y0 + h)))
    if right <= left or bottom <= top:
        return None
    step = 25.4 / c.dpi
    u = (c.left + (np.arange(left, right, dtype=np.float32) + 0.5) * step - x0) / w
    v = (c.top + (np.arange(top, bottom, dtype=np.float32) + 0.5) * step - y0) / h
    pixels = np.empty((bottom - top, right - left, 3), dtype=np.uint8)
    # Row bands keep the float temporaries small whatever the resolution.
    for start in range(0, bottom - top, _BAND_ROWS):
        rows = v[start:start + _BAND_ROWS, None]
        sky = rows < HORIZON
        s = rows / HORIZON  # 0 at the top, 1 at the horizon
        g = (rows - HORIZON) / (1 - HORIZON)  # 0 at the horizon, 1 at the bottom
        for channel, (sky_top, sky_low, near, far, tilt) in enumerate(_COLOURS):
            shade = np.where(sky, sky_top + (sky_low - sky_top) * s, near + (far - near) * g)
            slope = np.where(sky, tilt, -tilt).astype(np.float32)
            band = shade + slope * u[None, :]
            np.clip(band, 0, 255, out=band)
            pixels[start:start + _BAND_ROWS, :, channel] = band
    picture = Image.fromarray(pixels, "RGB")
    return picture, c.left + left * step, c.top + top * step


def photo(c: Canvas) -> None:
    """A landscape photo: gradient sky, sun, mountains, lake, trees and a house."""
    x0, y0, w, h = PHOTO
    found = _gradient(c)
    if found is not None:
        picture, px, py = found
        c.paste(picture, px, py)
        picture.close()
    horizon = y0 + h * HORIZON
    c.ellipse(x0 + 125, y0 + 15, 28, 28, fill="#ffb300")
    c.polygon([(x0, horizon), (x0 + 35, y0 + 45), (x0 + 62, horizon)], fill="#6d4c7d")
    c.polygon([(x0 + 40, horizon), (x0 + 85, y0 + 30), (x0 + 130, horizon)], fill="#5e35b1")
    c.polygon([(x0 + 77, y0 + 40), (x0 + 85, y0 + 30), (x0 + 93, y0 + 40)], fill="white")
    c.polygon([(x0 + 110, horizon), (x0 + 150, y0 + 52), (x0 + w, horizon)], fill="#7b5e57")
    c.ellipse(x0 + 20, horizon + 8, 80, 22, fill="#1e88e5")
    for i, tx in enumerate((x0 + 110, x0 + 122, x0 + 134, x0 + 160)):
        top = horizon - 6 + (i % 2) * 4
        c.polygon([(tx, top + 26), (tx + 6, top), (tx + 12, top + 26)], fill="#2e7d32")
        c.rect(tx + 5, top + 26, 2, 5, fill="#5d4037")
    c.rect(x0 + 140, horizon + 18, 24, 16, fill="#c62828")
    c.polygon([(x0 + 137, horizon + 18), (x0 + 152, horizon + 7), (x0 + 167, horizon + 18)],
              fill="#4e342e")
    c.rect(x0 + 149, horizon + 25, 6, 9, fill="#ffe082")
    c.rect(x0, y0, w, h, outline="#333333", line_mm=0.2)
    c.text(105, y0 + h + 12, "Lake Tarn at sunrise - printed on photo paper", 11,
           face="sans", ink="#444444", align="center")
