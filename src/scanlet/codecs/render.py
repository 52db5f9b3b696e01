"""Pixel work for viewing and converting pages: fit a box, downscale fast, re-encode.

JPEG pages are decoded at reduced scale with ``draft()`` (libjpeg's DCT scaling) before the
final resample, which performance-facts.md measured as the cheap path to thumbnails (about
40 ms instead of 57 ms for an A4 page). Images are never upscaled.
"""

from __future__ import annotations

import io
import logging

import numpy as np
from PIL import Image

from scanlet.codecs.decode import PIL_FORMAT, ImageDecodeError, ImageFormat, open_image

logger = logging.getLogger(__name__)

_RESAMPLE = Image.Resampling.LANCZOS
# reduce() by integer factors first, then resample the last step: quality close to a plain
# LANCZOS at a fraction of the cost.
_REDUCING_GAP = 3.0


def fit_within(
    width: int, height: int, max_width: int | None, max_height: int | None
) -> tuple[int, int]:
    """The largest size with the image's aspect that fits the box, never larger than the image.

    ``None`` leaves that side unconstrained; each side is at least one pixel.
    """
    scale = 1.0
    if max_width is not None:
        scale = min(scale, max_width / width)
    if max_height is not None:
        scale = min(scale, max_height / height)
    if scale >= 1.0:
        return width, height
    return max(1, min(width, round(width * scale))), max(1, min(height, round(height * scale)))


def to_8bit(image: Image.Image) -> Image.Image:
    """16-bit grey to 8-bit by dropping the low byte (Pillow's convert would clip instead)."""
    if image.mode.startswith("I"):
        array = np.asarray(image, dtype=np.uint32) >> 8
        return Image.fromarray(array.astype(np.uint8), "L")
    return image


def for_encoder(image: Image.Image, fmt: ImageFormat) -> Image.Image:
    """Convert to a mode the target encoder writes: JPEG has no bilevel or 16-bit mode."""
    if fmt == "jpeg":
        image = to_8bit(image)
        if image.mode == "1":
            return image.convert("L")
    return image


def encode(image: Image.Image, fmt: ImageFormat, *, dpi: float, quality: int = 85) -> bytes:
    """Encode ``image`` as ``fmt`` with ``dpi`` recorded in the file."""
    image = for_encoder(image, fmt)
    out = io.BytesIO()
    options: dict[str, object] = {"dpi": (dpi, dpi)}
    if fmt == "jpeg":
        options.update(quality=quality, optimize=False, subsampling="4:2:0")
    else:
        options.update(compress_level=6)
    image.save(out, format=PIL_FORMAT[fmt], **options)
    return out.getvalue()


def resized(data: bytes, fmt: ImageFormat, size: tuple[int, int]) -> Image.Image:
    """Decode ``data`` scaled to ``size`` (the caller keeps the aspect, see fit_within).

    Bilevel and 16-bit pages are converted to 8-bit grey before resampling so small
    renditions are anti-aliased rather than dithered to noise.
    """
    image = open_image(data, fmt)
    try:
        if size != image.size and fmt == "jpeg":
            # Picks the smallest DCT scale (1/2, 1/4, 1/8) that is still >= size.
            image.draft(image.mode, size)
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        image.close()
        raise ImageDecodeError(f"{fmt.upper()} image is truncated or damaged") from exc
    if size == image.size:
        return image
    source = to_8bit(image)
    if source.mode == "1":
        source = source.convert("L")
    result = source.resize(size, _RESAMPLE, reducing_gap=_REDUCING_GAP)
    image.close()
    return result


def render(
    data: bytes,
    fmt: ImageFormat,
    size: tuple[int, int],
    out_fmt: ImageFormat,
    *,
    dpi: float,
    quality: int = 85,
) -> bytes:
    """Encoded ``out_fmt`` bytes of the page scaled to ``size``, recording ``dpi``.

    ``dpi`` is the resolution of the result (the page's dpi times the scale), so the rendition
    keeps the page's physical size.
    """
    with resized(data, fmt, size) as image:
        return encode(image, out_fmt, dpi=dpi, quality=quality)
