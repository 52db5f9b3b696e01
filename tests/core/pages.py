"""Pages for the core tests: A5-ish sheets at 150 dpi, with text, blank, or a QR code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zxingcpp
from PIL import Image, ImageDraw


def sheet(path: Path, text: str = "", qr: str | None = None) -> Path:
    """A page saved as PNG at 150 dpi: text lines, nothing (a blank sheet) or a QR code."""
    image = Image.new("RGB", (874, 1240), "white")
    draw = ImageDraw.Draw(image)
    for line in range(8) if text else ():
        draw.text((80, 150 + 90 * line), f"{text} line {line}", fill="black", font_size=40)
    if qr:
        code = zxingcpp.create_barcode(qr, zxingcpp.BarcodeFormat.QRCode).to_image(scale=8)
        image.paste(Image.fromarray(np.asarray(code)).convert("RGB"), (300, 400))
    image.save(path, dpi=(150, 150))
    return path


def stack(folder: Path) -> list[Path]:
    """Text, blank, text, text, blank, text: split on blank sheets, three documents."""
    return [sheet(folder / "1.png", "Alpha"), sheet(folder / "2.png"),
            sheet(folder / "3.png", "Bravo"), sheet(folder / "4.png", "Bravo again"),
            sheet(folder / "5.png"), sheet(folder / "6.png", "Charlie")]
