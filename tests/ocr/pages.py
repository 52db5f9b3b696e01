"""Test pages for OCR: lines of known words in a TrueType font, with where each word was drawn,
put through the real SANE ``pnm`` backend like a scanner would deliver them."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tests.scan_pnm import scan_image

DPI = 300
FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

#: Distinct words per page, so a result in the wrong order is noticed.
PAGE_WORDS = [
    ["Invoice", "Harbour", "Meadow"],
    ["Lantern", "Orchard", "Pebble"],
    ["Compass", "Velvet", "Thunder"],
    ["Granite", "Willow", "Summit"],
]

Box = tuple[float, float, float, float]


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans if installed, else Pillow's own scalable default font."""
    if FONT_FILE.exists():
        return ImageFont.truetype(str(FONT_FILE), size)
    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class TextPage:
    """A generated page and the pixel box (left, top, right, bottom) of every word drawn."""

    image: Image.Image
    boxes: dict[str, Box]


def text_page(lines: list[str], size: tuple[int, int] = (1240, 560), *,
              font_size: int = 48, margin: int = 90, leading: float = 1.9) -> TextPage:
    """White page with ``lines`` in black, one below the other."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    face = font(font_size)
    boxes: dict[str, Box] = {}
    y = float(margin)
    for line in lines:
        draw.text((margin, y), line, font=face, fill=0)
        x = float(margin)
        for word in line.split(" "):
            boxes[word] = draw.textbbox((x, y), word, font=face)
            x += draw.textlength(word + " ", font=face)
        y += font_size * leading
    return TextPage(image, boxes)


def dense_page(size: tuple[int, int] = (2480, 3507)) -> Image.Image:
    """An A4 300 dpi page full of text: several seconds of OCR for one tesseract."""
    words = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "while",
             "scanning", "pages"]
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    face = font(36)
    y, shift = 150, 0
    while y < size[1] - 200:
        draw.text((150, y), " ".join(words[(shift + k) % len(words)] for k in range(13)),
                  font=face, fill=0)
        y, shift = y + 52, shift + 5
    return image


def encode(image: Image.Image, fmt: str) -> bytes:
    """PNG or JPEG bytes (quality 85, like the scan worker) with a 300 dpi header."""
    out = io.BytesIO()
    if fmt == "jpeg":
        image.save(out, "JPEG", quality=85, dpi=(DPI, DPI))
    else:
        image.save(out, "PNG", dpi=(DPI, DPI))
    return out.getvalue()


def scanned(page: Image.Image, workdir: Path, *, gray: bool) -> Image.Image:
    """``page`` as the SANE pnm backend delivers it at 300 dpi."""
    result = scan_image(page, workdir, gray=gray, dpi=DPI)
    assert result.size == page.size
    return result
