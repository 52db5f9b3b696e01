"""Pixel work for viewing and converting pages: fit a box, downscale fast, re-encode.

JPEG pages are decoded at reduced scale with ``draft()`` (libjpeg's DCT scaling) before the
final resample, which performance-facts.md measured as the cheap path to thumbnails (about
40 ms instead of 57 ms for an A4 page). Images are never upscaled.

Previews. Even at 1/8 scale libjpeg must entropy-decode the whole file, which costs about
30 ms for a 3.35 MB A4 page on this project's machines: no thumbnail of such a page can be
made from the original in less. A *preview* is the page reduced by a power of two
(:func:`preview_factor`) to a long side of at least :data:`PREVIEW_MIN_LONG_SIDE` pixels,
kept as a high-quality JPEG; every rendition that fits within it is made from it instead of
the original (about 15 ms for a 585x513 thumbnail). buffer/renditions.py keeps previews;
:func:`preview_of_image` lets whoever holds a page's pixels (the scan worker) make one
without decoding anything.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from PIL import Image

from scanlet.codecs.decode import (
    PIL_FORMAT,
    ImageDecodeError,
    ImageFormat,
    open_image,
    pixels_held,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

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
        return grey_8bit_by_bands(image, lambda band: band >> 8)
    return image


#: Pixels :func:`grey_8bit_by_bands` converts at a time.
_BAND_PIXELS = 1 << 22


def grey_8bit_by_bands(image: Image.Image,
                       convert: Callable[[npt.NDArray[np.uint32]], npt.NDArray[Any]],
                       ) -> Image.Image:
    """An 8-bit grey copy of a 16/32-bit grey ``image``, ``convert`` mapping each band of rows
    (as uint32) to 0-255. Band by band, so the numpy temporaries (4 bytes a pixel and more)
    stay a few MB instead of several times the page: the copy is all the extra memory."""
    import numpy as np  # only here: the scan worker imports this module and seldom needs it

    width, height = image.size
    out = Image.new("L", image.size)
    rows = max(1, _BAND_PIXELS // width)
    for top in range(0, height, rows):
        with image.crop((0, top, width, min(height, top + rows))) as part:
            band = np.asarray(part, dtype=np.uint32)
        out.paste(Image.fromarray(np.asarray(convert(band), dtype=np.uint8), "L"), (0, top))
    return out


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


@contextmanager
def resized(data: bytes, fmt: ImageFormat, size: tuple[int, int]) -> Iterator[Image.Image]:
    """``data`` decoded and scaled to ``size`` (the caller keeps the aspect, see fit_within),
    for the ``with`` block, which holds the decoding budget for the decoded page.

    Bilevel and 16-bit pages are converted to 8-bit grey before resampling so small
    renditions are anti-aliased rather than dithered to noise.
    """
    with open_image(data, fmt) as image:
        try:
            if size != image.size and fmt == "jpeg":
                # Picks the smallest DCT scale (1/2, 1/4, 1/8) that is still >= size.
                image.draft(image.mode, size)
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageDecodeError(f"{fmt.upper()} image is truncated or damaged") from exc
        with pixels_held(image, "view"):  # the decoded size, after the DCT scaling
            try:
                image.load()
            except (OSError, SyntaxError, ValueError) as exc:
                raise ImageDecodeError(f"{fmt.upper()} image is truncated or damaged") from exc
            if size == image.size:
                try:
                    yield image
                finally:
                    image.close()  # pixels freed while the budget is still held
                return
            result = shrunk(image, size)
            image.close()
            try:
                yield result
            finally:
                result.close()


def shrunk(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """A new image of ``image`` resampled to ``size``, 8-bit (bilevel and 16-bit become grey)."""
    source = to_8bit(image)
    if source.mode == "1":
        source = source.convert("L")
    return source.resize(size, _RESAMPLE, reducing_gap=_REDUCING_GAP)


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


#: A preview's long side is at least this (so a 585x513 viewer box fits within it).
PREVIEW_MIN_LONG_SIDE = 860
PREVIEW_QUALITY = 95
_MAX_FACTOR = 64
_DCT_SCALES = (8, 4, 2, 1)


def preview_factor(width: int, height: int) -> int:
    """The power of two a page is reduced by for its preview; 1 means no preview (the page
    is small enough to be decoded directly)."""
    factor = 1
    while factor < _MAX_FACTOR and max(width, height) // (factor * 2) >= PREVIEW_MIN_LONG_SIDE:
        factor *= 2
    return factor


def preview_size(width: int, height: int) -> tuple[int, int] | None:
    """The pixel size of a page's preview, or None when the page gets none."""
    factor = preview_factor(width, height)
    if factor == 1:
        return None
    return -(-width // factor), -(-height // factor)


def _preview_pixels(image: Image.Image, factor: int) -> Image.Image:
    """8-bit grey or RGB, reduced by ``factor`` (box filter: exact for powers of two)."""
    source = to_8bit(image)
    if source.mode == "1":
        source = source.convert("L")
    return source.reduce(factor) if factor > 1 else source.copy()


def preview_jpeg(preview: Image.Image) -> bytes:
    """The stored form of a preview image."""
    out = io.BytesIO()
    preview.save(out, format="JPEG", quality=PREVIEW_QUALITY, subsampling="4:2:0")
    return out.getvalue()


def preview_of_image(image: Image.Image) -> bytes | None:
    """The preview JPEG of a decoded page (full size), or None when it gets none.

    For whoever has the pixels anyway (the scan worker, an edit): about 11 ms for an A4 300 dpi
    colour page, against 40 ms to make it from the stored JPEG.
    """
    factor = preview_factor(*image.size)
    if factor == 1:
        return None
    with _preview_pixels(image, factor) as small:
        return preview_jpeg(small)


def decode_preview(data: bytes, fmt: ImageFormat) -> Image.Image | None:
    """The preview pixels of an encoded page (:func:`preview_size`), or None when it gets none.

    JPEG pages are decoded at the largest DCT scale the factor allows, so an A4 300 dpi page
    (factor 4) costs one reduced decode and no resampling.
    """
    image = open_image(data, fmt)
    with image:
        original = image.size
        factor = preview_factor(*original)
        if factor == 1:
            return None
        try:
            if fmt == "jpeg":
                scale = next(s for s in _DCT_SCALES if s <= factor)
                image.draft(image.mode, (max(1, original[0] // scale),
                                         max(1, original[1] // scale)))
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageDecodeError(f"{fmt.upper()} image is truncated or damaged") from exc
        with pixels_held(image, "view"):
            try:
                image.load()
            except (OSError, SyntaxError, ValueError) as exc:
                raise ImageDecodeError(f"{fmt.upper()} image is truncated or damaged") from exc
            # The scale libjpeg applied (1 if none): the rest is a box-filter reduction.
            applied = next((s for s in _DCT_SCALES
                            if image.size == (-(-original[0] // s), -(-original[1] // s))), 1)
            preview = _preview_pixels(image, max(1, factor // applied))
            image.close()  # pixels freed while the budget is still held
            return preview


def make_preview(data: bytes, fmt: ImageFormat) -> bytes | None:
    """The preview JPEG of an encoded page, or None when it gets none."""
    preview = decode_preview(data, fmt)
    if preview is None:
        return None
    with preview:
        return preview_jpeg(preview)


def render_image(image: Image.Image, size: tuple[int, int], out_fmt: ImageFormat, *,
                 dpi: float, quality: int = 85) -> bytes:
    """:func:`render` for pixels already decoded (``image`` is left open)."""
    if size == image.size:
        return encode(image, out_fmt, dpi=dpi, quality=quality)
    with shrunk(image, size) as small:
        return encode(small, out_fmt, dpi=dpi, quality=quality)
