"""Real files for the import tests, made with Pillow, img2pdf and pikepdf (nothing canned)."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import numpy as np
import pikepdf
from PIL import Image

from tests.buffer.testdata import image_of


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    """``image`` saved by Pillow as ``fmt`` (a Pillow format name)."""
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def tiff(frames: list[Image.Image], **options: object) -> bytes:
    """A multi-page TIFF of ``frames`` (``compression``, ``dpi`` ... apply to all)."""
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:], **options)
    return out.getvalue()


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def raw_png(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    """A PNG assembled chunk by chunk (for what Pillow will not write)."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(idat))
            + chunk(b"IEND", b""))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` RGB with one tiny IDAT: a bomb that
    would need width*height*3 bytes if anything decoded it."""
    return raw_png(width, height, 8, 2, b"\x00" * 1024)


def png_rgb16(image: Image.Image) -> bytes:
    """A 16-bit-per-channel RGB PNG of an 8-bit RGB image (each value v as v*257)."""
    rgb16 = (np.asarray(image).astype(">u2") * 257)
    raw = b"".join(b"\x00" + row.tobytes() for row in rgb16)
    return raw_png(image.width, image.height, 16, 2, raw)


# -- PDFs ---------------------------------------------------------------------------------------

def helvetica(pdf: pikepdf.Pdf) -> pikepdf.Object:
    """The standard Helvetica font, as an object of ``pdf``."""
    return pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica))


def vector_page(pdf: pikepdf.Pdf, width_pt: float, height_pt: float, content: bytes) -> None:
    """Append a page of ``width_pt`` x ``height_pt`` drawing ``content`` (Helvetica as /F1)."""
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=pikepdf.Array([0, 0, width_pt, height_pt]),
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica(pdf))),
        Contents=pdf.make_stream(content),
    )
    pdf.pages.append(pikepdf.Page(page))


#: Black text and a black line: a render of it has no colour.
GREY_CONTENT = (b"BT /F1 36 Tf 72 600 Td (Scanlet import test) Tj ET "
                b"4 w 72 550 m 500 550 l S")
#: Red and blue filled rectangles with text.
COLOUR_CONTENT = (b"1 0 0 rg 72 400 200 100 re f 0 0 1 rg 300 400 200 100 re f "
                  b"0 g BT /F1 24 Tf 72 300 Td (colour) Tj ET")


def vector_pdf(pages: list[tuple[float, float, bytes]]) -> bytes:
    """A PDF of vector pages (width_pt, height_pt, content)."""
    pdf = pikepdf.new()
    for width, height, content in pages:
        vector_page(pdf, width, height, content)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def save(pdf: pikepdf.Pdf, **options: Any) -> bytes:
    out = io.BytesIO()
    pdf.save(out, **options)
    return out.getvalue()


def encrypted(data: bytes, user_password: str) -> bytes:
    """``data`` (a PDF) encrypted with AES-256 and a user password."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return save(pdf, encryption=pikepdf.Encryption(user=user_password,
                                                       owner=user_password + "-owner", R=6))


def image_page(pdf: pikepdf.Pdf, image: pikepdf.Stream, width_pt: float, height_pt: float,
               extra: bytes = b"", rotate: int = 0) -> None:
    """Append a page that paints ``image`` over the whole page, then ``extra`` content."""
    content = f"q {width_pt} 0 0 {height_pt} 0 0 cm /Im0 Do Q ".encode() + extra
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page, MediaBox=pikepdf.Array([0, 0, width_pt, height_pt]),
        Resources=pikepdf.Dictionary(
            XObject=pikepdf.Dictionary(Im0=image),
            Font=pikepdf.Dictionary(F1=helvetica(pdf))),
        Contents=pdf.make_stream(content),
    )
    if rotate:
        page.Rotate = rotate
    pdf.pages.append(pikepdf.Page(page))


def jpeg_xobject(pdf: pikepdf.Pdf, data: bytes, colour_space: str) -> pikepdf.Stream:
    """An image XObject holding a JPEG's bytes as they are (DCTDecode)."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    stream = pdf.make_stream(data)
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Image
    stream.Width, stream.Height = width, height
    stream.BitsPerComponent = 8
    stream.ColorSpace = pikepdf.Name(colour_space)
    stream.Filter = pikepdf.Name.DCTDecode
    return stream


def sample_image(width: int = 240, height: int = 320, mode: str = "RGB",
                 seed: int = 0) -> Image.Image:
    return image_of(width, height, mode, seed)


def busy_pdf(curves: int = 12000, seed: int = 0) -> bytes:
    """One A4 page of ``curves`` random stroked Béziers: seconds of pdfium CPU at 200 dpi."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 595, (curves, 6))
    content = b"0.3 w " + b"".join(
        b"%.1f %.1f m %.1f %.1f %.1f %.1f %.1f %.1f c S " % (a, b, c, d, e, f, b, a)
        for a, b, c, d, e, f in points)
    return vector_pdf([(595, 842, content)])


def flate_bomb_pdf(megabytes: int) -> bytes:
    """One page painting a 100 x 100 grey image whose Flate stream inflates to ``megabytes``
    MB (a decompression bomb: the declared size needs 10 KB)."""
    packer = zlib.compressobj(9)
    block = bytes(1 << 20)
    compressed = b"".join(packer.compress(block) for _ in range(megabytes)) + packer.flush()
    pdf = pikepdf.new()
    stream = pdf.make_stream(b"")
    stream.write(compressed, filter=pikepdf.Name.FlateDecode)
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    stream.Width, stream.Height, stream.BitsPerComponent = 100, 100, 8
    stream.ColorSpace = pikepdf.Name.DeviceGray
    image_page(pdf, stream, 72, 72)
    return save(pdf, compress_streams=False)
