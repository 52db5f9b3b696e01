"""Test data shared by the buffer and codec tests: keys, real encoded images, a sink."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO, cast

import numpy as np
from PIL import Image

from scanlet.crypto import KEY_BYTES
from scanlet.models import ScannedPage

KEY = bytes(range(KEY_BYTES))
OTHER_KEY = bytes(reversed(range(KEY_BYTES)))
A4_300 = (2480, 3507)

#: Builds a ScannedPage as a scan worker hands it over (see the ``scanned`` fixture).
ScanFactory = Callable[..., ScannedPage]


def pattern(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A deterministic RGB picture with noise and structure, tiled so A4 sizes stay cheap."""
    rng = np.random.default_rng(seed)
    tile = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    x = np.arange(64)[None, :]
    tile[..., 0] = (tile[..., 0] // 4 + (x * 3 + seed * 20) % 192).astype(np.uint8)
    reps = (height // 64 + 1, width // 64 + 1, 1)
    return np.ascontiguousarray(np.tile(tile, reps)[:height, :width])


def image_of(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """The pattern in one of the pixel layouts the buffer accepts."""
    image = Image.fromarray(pattern(width, height, seed), "RGB")
    if mode == "L":
        return image.convert("L")
    if mode == "1":
        return image.convert("L").point(lambda v: 255 if v > 128 else 0).convert("1")
    if mode == "I;16":
        return Image.fromarray(np.asarray(image.convert("L"), dtype=np.uint16) * 257 + seed)
    return image


def to_bytes(image: Image.Image, fmt: str, dpi: float | None = 300, **options: object) -> bytes:
    """Encode with Pillow; ``dpi=None`` writes no resolution."""
    out = io.BytesIO()
    if dpi:
        options["dpi"] = (dpi, dpi)
    image.save(out, format="JPEG" if fmt == "jpeg" else "PNG", **options)
    return out.getvalue()


def make_jpeg(width: int = 120, height: int = 160, *, mode: str = "RGB", seed: int = 0,
              dpi: float | None = 300) -> bytes:
    return to_bytes(image_of(width, height, mode, seed), "jpeg", dpi, quality=90)


def make_png(width: int = 120, height: int = 160, *, mode: str = "RGB", seed: int = 0,
             dpi: float | None = 300) -> bytes:
    return to_bytes(image_of(width, height, mode, seed), "png", dpi)


def decoded(data: bytes) -> Image.Image:
    """Fully decoded image of encoded bytes (an independent check: plain Pillow)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


class NonSeekable(io.RawIOBase):
    """A write-only, non-seekable sink (like a socket or an HTTP response body)."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.buffer += data
        return len(data)

    @property
    def sink(self) -> BinaryIO:
        """This object typed as the binary file the exporters take."""
        return cast(BinaryIO, self)
