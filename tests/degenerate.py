"""Degenerate page images for the never-500 passes (tests/api/test_degenerate_images.py and
the schemathesis import bodies of tests/security/test_fuzz_openapi.py): pages one pixel wide
or high, 1x1, huge aspect ratios, bilevel, 16-bit grey, CMYK, palette with transparency,
alpha, EXIF-rotated JPEGs and a PDF page of 1x1 pt. Each is small in bytes."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pikepdf
from PIL import Image, ImageDraw

DPI = 300


def _marks(image: Image.Image) -> Image.Image:
    """Some content (a dark bar and a dot), so analyses have something to find."""
    draw = ImageDraw.Draw(image)
    width, height = image.size
    ink: Any = {"1": 0, "L": 0, "I;16": 0, "P": 1, "LA": (0, 255), "RGBA": (0, 0, 0, 255),
                "CMYK": (0, 0, 0, 255)}.get(image.mode, (0, 0, 0))
    draw.rectangle((width // 4, height // 4, width // 2, height // 2), fill=ink)
    draw.point((width - 1, height - 1), fill=ink)
    return image


def _blank(mode: str, size: tuple[int, int]) -> Image.Image:
    white: Any = {"1": 1, "L": 255, "I;16": 65535, "P": 0, "LA": (255, 128),
                  "RGBA": (255, 255, 255, 128), "CMYK": (0, 0, 0, 0)}.get(mode, (255, 255, 255))
    return _marks(Image.new(mode, size, white))


def _encode(image: Image.Image, fmt: str, dpi: float = DPI, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, dpi=(dpi, dpi), **options)
    return out.getvalue()


def _palette_png() -> bytes:
    image = Image.new("P", (48, 32), 0)
    image.putpalette([255, 255, 255, 0, 0, 0, 200, 30, 30] + [0] * (256 * 3 - 9))
    _marks(image)
    ImageDraw.Draw(image).line((0, 31, 47, 0), fill=2)
    return _encode(image, "PNG", transparency=0)


def _exif_jpeg(orientation: int) -> bytes:
    """A 64x24 JPEG whose EXIF says to turn it (6: 90 clockwise, 8: 90 counter-clockwise),
    so its displayed size is 24x64."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(_blank("RGB", (64, 24)), "JPEG", exif=exif.tobytes())


def _pdf_1pt() -> bytes:
    """A one-page PDF whose page is 1 x 1 pt, with a black square drawn on it."""
    pdf = pikepdf.new()
    pdf.pages.append(pikepdf.Page(pikepdf.Dictionary(
        Type=pikepdf.Name.Page, MediaBox=[0, 0, 1, 1],
        Contents=pdf.make_stream(b"0 g 0 0 0.5 0.5 re f"))))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


#: name -> (file bytes, Content-Type), made when first asked for.
FILES: dict[str, Callable[[], tuple[bytes, str]]] = {
    "1x4000-png": lambda: (_encode(_blank("L", (1, 4000)), "PNG"), "image/png"),
    "4000x1-png": lambda: (_encode(_blank("L", (4000, 1)), "PNG"), "image/png"),
    "1x4000-jpeg": lambda: (_encode(_blank("RGB", (1, 4000)), "JPEG"), "image/jpeg"),
    "4000x1-jpeg": lambda: (_encode(_blank("L", (4000, 1)), "JPEG"), "image/jpeg"),
    "1x1-png": lambda: (_encode(_blank("RGB", (1, 1)), "PNG"), "image/png"),
    "1x1-jpeg": lambda: (_encode(_blank("L", (1, 1)), "JPEG"), "image/jpeg"),
    "1x1-bilevel": lambda: (_encode(_blank("1", (1, 1)), "PNG"), "image/png"),
    "1x4000-bilevel": lambda: (_encode(_blank("1", (1, 4000)), "PNG"), "image/png"),
    "bilevel-png": lambda: (_encode(_blank("1", (120, 80)), "PNG"), "image/png"),
    "bilevel-tiff-g4": lambda: (_encode(_blank("1", (300, 1)), "TIFF",
                                        compression="group4"), "image/tiff"),
    "gray16-png": lambda: (_encode(_blank("I;16", (90, 60)), "PNG"), "image/png"),
    "gray16-tiff": lambda: (_encode(_blank("I;16", (1, 90)), "TIFF"), "image/tiff"),
    "cmyk-jpeg": lambda: (_encode(_blank("CMYK", (40, 30)), "JPEG"), "image/jpeg"),
    "cmyk-tiff": lambda: (_encode(_blank("CMYK", (30, 1)), "TIFF"), "image/tiff"),
    "palette-transparent-png": lambda: (_palette_png(), "image/png"),
    "la-png": lambda: (_encode(_blank("LA", (33, 1)), "PNG"), "image/png"),
    "rgba-png": lambda: (_encode(_blank("RGBA", (50, 40)), "PNG"), "image/png"),
    "exif6-jpeg": lambda: (_exif_jpeg(6), "image/jpeg"),
    "exif8-jpeg": lambda: (_exif_jpeg(8), "image/jpeg"),
    "20000x2-png": lambda: (_encode(_blank("L", (20000, 2)), "PNG"), "image/png"),
    "2x20000-jpeg": lambda: (_encode(_blank("RGB", (2, 20000)), "JPEG"), "image/jpeg"),
    "1x1pt-pdf": lambda: (_pdf_1pt(), "application/pdf"),
    "1x1-gray16-png": lambda: (_encode(_blank("I;16", (1, 1)), "PNG"), "image/png"),
    "2x2-cmyk-jpeg": lambda: (_encode(_blank("CMYK", (2, 2)), "JPEG"), "image/jpeg"),
    "5x3000-jpeg-1200dpi": lambda: (_encode(_blank("L", (5, 3000)), "JPEG", dpi=1200),
                                    "image/jpeg"),
    "65500x1-jpeg": lambda: (_encode(_blank("L", (65500, 1)), "JPEG"), "image/jpeg"),
    "1x12000-bilevel": lambda: (_encode(_blank("1", (1, 12000)), "PNG"), "image/png"),
    "1x4000-gray16-png": lambda: (_encode(_blank("I;16", (1, 4000)), "PNG"), "image/png"),
    "40x30-50000dpi-png": lambda: (_encode(_blank("L", (40, 30)), "PNG", dpi=50000),
                                   "image/png"),
    "3000x20-10dpi-jpeg": lambda: (_encode(_blank("RGB", (3000, 20)), "JPEG", dpi=10),
                                   "image/jpeg"),
}
#: Pages the service's own crop edit makes: (source file, crop box).
CROPS: dict[str, tuple[Callable[[], tuple[bytes, str]], list[int]]] = {
    "cropped-1px-wide-jpeg": (lambda: (_encode(_blank("RGB", (64, 48)), "JPEG"), "image/jpeg"),
                              [10, 0, 11, 48]),
    "cropped-1px-high-png": (lambda: (_encode(_blank("L", (64, 48)), "PNG"), "image/png"),
                             [0, 20, 64, 21]),
}
