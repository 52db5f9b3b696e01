"""Turn a raw scanned frame into the bytes kept in the buffer (JPEG or PNG, with its dpi).

Rules (see models.Compression): colour and grey at 8 bits become JPEG at the requested quality
unless lossless is asked for; black and white always becomes a 1-bit PNG; 16-bit grey becomes a
16-bit PNG. The real resolution is written into the file (JFIF density / PNG pHYs) so every
later consumer (PDF export, OCR) sees the right physical size.

This runs on the worker's encoder threads, so the expensive steps are arranged to release the
GIL (see :func:`_save_unlocked`) and let the scan thread keep reading the next page.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image

from scanlet.codecs.render import preview_of_image
from scanlet.models import ColorMode, Compression, Source

#: zlib level for PNG pages. Level 1 is several times faster than Pillow's default 6 on a full
#: A4 page and the files are only slightly larger; scanning throughput matters more here.
PNG_COMPRESS_LEVEL = 1

#: How the bytes of a frame are laid out, as SANE delivers them.
Layout = Literal["rgb8", "rgb16", "gray8", "gray16", "bw1"]

_PIL_MODE = {ColorMode.COLOR: "RGB", ColorMode.GRAY: "L", ColorMode.BW: "1"}
_LITTLE = sys.byteorder == "little"
#: layout -> (Pillow mode, Pillow raw mode). SANE 16-bit samples are in host byte order;
#: Pillow has no 16-bit RGB, so 16-bit colour keeps the high byte of each sample. SANE 1-bit
#: data has 1 = black, hence "1;I".
_UNPACK: dict[Layout, tuple[str, str]] = {
    "rgb8": ("RGB", "RGB"), "rgb16": ("RGB", "RGB;16L" if _LITTLE else "RGB;16B"),
    "gray8": ("L", "L"), "gray16": ("I;16", "I;16" if _LITTLE else "I;16B"),
    "bw1": ("1", "1;I"),
}


@dataclass(frozen=True)
class RawPage:
    """One frame straight from the device, plus what is known about it.

    ``data`` is any buffer (a pooled ctypes array, a bytearray) holding ``height`` rows of
    ``stride`` bytes; ``release`` is called once the page is encoded so the buffer can be
    reused for a later page.
    """

    data: Any
    layout: Layout
    width: int
    height: int
    stride: int
    mode: ColorMode
    bit_depth: int
    dpi: float
    source: Source
    release: Callable[[], None] | None = None

    def image(self) -> Image.Image:
        """A Pillow image over (or, for RGB, unpacked from) ``data``."""
        mode, raw_mode = _UNPACK[self.layout]
        return Image.frombuffer(mode, (self.width, self.height), self.data, "raw", raw_mode,
                                self.stride, 1)


@dataclass(frozen=True)
class EncodedPage:
    """An encoded page in memory, ready to be encrypted and written.

    ``preview`` is the page's preview JPEG (codecs/render.py), made here from the pixels in
    hand because making it later from the stored JPEG costs the service about four times as
    much; None for pages too small to need one.
    """

    data: bytes
    format: Literal["jpeg", "png"]
    width: int
    height: int
    dpi: float
    bit_depth: int
    mode: ColorMode
    source: Source
    preview: bytes | None = None


def conform(image: Image.Image, mode: ColorMode, bit_depth: int) -> Image.Image:
    """``image`` in the Pillow mode that ``mode``/``bit_depth`` stand for, converting if needed.

    Devices without a mode option (e.g. SANE ``pnm``) deliver whatever their input is; grey to
    colour and colour to grey are exact or standard conversions, black and white is a fixed
    50% threshold.
    """
    if mode == ColorMode.GRAY and bit_depth == 16:
        if image.mode.startswith("I;16"):
            return image
        return image.convert("L").convert("I;16")
    wanted = _PIL_MODE[mode]
    if image.mode == wanted:
        return image
    if image.mode.startswith("I;16"):
        image = _to_8bit(image)
    if mode == ColorMode.BW:
        grey = image if image.mode == "L" else image.convert("L")
        return grey.point(lambda v: 255 if v >= 128 else 0, mode="1")
    return image.convert(wanted)


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit grey to 8-bit grey by keeping the high byte."""
    return Image.frombytes("L", image.size, image.tobytes("raw", "I;16B"), "raw", "L;16B")


def _save_unlocked(image: Image.Image, fmt: str, **params: Any) -> bytes:
    """``image.save`` into an anonymous in-memory file, then its bytes.

    Pillow encodes to a real file descriptor in one C call that releases the GIL
    (``encode_to_file``), but to a BytesIO in many short calls that hold it. Holding the GIL for
    ~40 ms a page would stall the scan thread, which needs it between reads from the device.
    """
    memfd_create = getattr(os, "memfd_create", None)
    fd = memfd_create("scanlet-page", os.MFD_CLOEXEC) if memfd_create is not None else None
    with (open(fd, "w+b") if fd is not None else tempfile.TemporaryFile()) as fh:
        image.save(fh, fmt, **params)
        fh.seek(0)
        return fh.read()


def encode_page(raw: RawPage, compression: Compression, jpeg_quality: int, *,
                with_preview: bool = True) -> EncodedPage:
    """Encode ``raw`` following the module rules (does not call ``raw.release``), with its
    preview unless ``with_preview`` is false."""
    source_image = raw.image()
    try:
        image = conform(source_image, raw.mode, raw.bit_depth)
        dpi = (raw.dpi, raw.dpi)
        use_jpeg = (raw.mode != ColorMode.BW and raw.bit_depth == 8
                    and compression in (Compression.AUTO, Compression.JPEG))
        fmt: Literal["jpeg", "png"]
        if use_jpeg:
            data = _save_unlocked(image, "JPEG", quality=jpeg_quality, dpi=dpi)
            fmt = "jpeg"
        else:
            out = io.BytesIO()
            image.save(out, "PNG", dpi=dpi, compress_level=PNG_COMPRESS_LEVEL)
            data = out.getvalue()
            fmt = "png"
        size = image.size
        preview = preview_of_image(image) if with_preview else None
        if image is not source_image:
            image.close()
    finally:
        source_image.close()
    return EncodedPage(data=data, format=fmt, width=size[0], height=size[1], dpi=raw.dpi,
                       bit_depth=raw.bit_depth, mode=raw.mode, source=raw.source,
                       preview=preview)
