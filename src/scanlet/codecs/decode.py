"""Safe decoding of page images: only the expected format, never a decompression bomb.

Every place that turns page bytes into pixels goes through :func:`open_image`, so the rules
live in one spot:

- Pillow is told which format to expect (``formats=[...]``), so a file that claims to be a
  JPEG cannot smuggle in one of Pillow's many other decoders (security.md 5.1).
- The pixel count is checked against :func:`max_pixels` (Pillow's ``MAX_IMAGE_PIXELS``, about
  89 Mpx by default: 600 dpi A3 fits) *before* any pixel is decoded; Pillow's own bomb error
  and warning are turned into the same refusal.
- Only the pixel layouts the buffer can keep faithfully are accepted (see
  :data:`ACCEPTED_MODES`); anything else is refused rather than silently converted.
- In the service every full decode holds its bytes of the shared decoding budget while the
  pixels live (:func:`decoded`, :func:`pixels_held`; :mod:`scanlet.codecs.pixel_budget`).

Errors are :class:`ImageDecodeError`; callers translate them at their boundary (an import is
the client's fault, ``InvalidSetting``; a stored page that no longer decodes is ``PageCorrupt``).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Literal

from PIL import Image, UnidentifiedImageError

from scanlet.codecs import pixel_budget
from scanlet.models import ColorMode

logger = logging.getLogger(__name__)

ImageFormat = Literal["jpeg", "png"]

PIL_FORMAT: dict[str, str] = {"jpeg": "JPEG", "png": "PNG"}
MEDIA_TYPE: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png"}
EXTENSION: dict[str, str] = {"jpeg": "jpg", "png": "png"}

#: Pillow modes the buffer accepts per format, with the colour mode and bit depth they mean.
#: JPEG: 8-bit grey or RGB (CMYK and YCCK are refused: PDF viewers disagree on Adobe's
#: inverted CMYK). PNG: bilevel, 8-bit grey/RGB and 16-bit grey. 16-bit colour PNG opens as
#: 8-bit RGB in Pillow and would silently lose data in lossless exports, so it is refused.
ACCEPTED_MODES: dict[str, dict[str, tuple[ColorMode, int]]] = {
    "jpeg": {"L": (ColorMode.GRAY, 8), "RGB": (ColorMode.COLOR, 8)},
    "png": {
        "1": (ColorMode.BW, 1),
        "L": (ColorMode.GRAY, 8),
        "RGB": (ColorMode.COLOR, 8),
        "I;16": (ColorMode.GRAY, 16),
    },
}

_DEFAULT_MAX_PIXELS = 89_478_485
_PNG_IHDR_DEPTH_OFFSET = 24
_PPM_ROUNDING = 0.0254 / 2 + 1e-9


def pillow_mode(mode: ColorMode, bit_depth: int) -> str:
    """The Pillow mode a stored page of ``mode`` and ``bit_depth`` decodes to."""
    for modes in ACCEPTED_MODES.values():
        for pil_mode, meaning in modes.items():
            if meaning == (mode, bit_depth):
                return pil_mode
    return "RGB"  # nothing else is stored; the widest layout is the safe guess


class ImageDecodeError(ValueError):
    """The bytes are not an acceptable image of the expected format."""


@dataclass(frozen=True)
class ImageFacts:
    """What the header of an encoded page says about it."""

    format: ImageFormat
    width: int
    height: int
    mode: ColorMode
    bit_depth: int
    pil_mode: str
    dpi: float | None


def max_pixels() -> int:
    """The largest pixel count decoded; follows Pillow's process-wide ``MAX_IMAGE_PIXELS``."""
    limit = Image.MAX_IMAGE_PIXELS
    return int(limit) if limit else _DEFAULT_MAX_PIXELS


def open_image(data: bytes, fmt: ImageFormat) -> Image.Image:
    """Open ``data`` lazily (header parsed, no pixels decoded) as format ``fmt``.

    Raises ImageDecodeError for another format, an unreadable header or a bomb.
    """
    if fmt not in PIL_FORMAT:
        raise ImageDecodeError(f"unsupported image format {fmt!r}")
    try:
        # Pillow warns between 1x and 2x MAX_IMAGE_PIXELS and raises above; the pixel check
        # below refuses both. ``warnings.catch_warnings`` is not thread-safe, so the warning is
        # not silenced here; where warnings are errors it arrives as an exception instead.
        image = Image.open(io.BytesIO(data), formats=[PIL_FORMAT[fmt]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"image is too large to decode safely ({exc})") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"not a readable {fmt.upper()} image") from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageDecodeError("image has no pixels")
    if width * height > max_pixels():
        raise ImageDecodeError(
            f"image is {width}x{height} pixels, more than the {max_pixels()} allowed "
            "(decompression bomb protection)"
        )
    return image


def _dpi_of(image: Image.Image) -> float | None:
    raw = image.info.get("dpi")
    if not raw:
        return None
    try:
        value = float(raw[0])
    except (TypeError, ValueError, IndexError):
        return None
    # JFIF "aspect only" files report 1 dpi; treat anything implausible as unknown.
    if value < 10:
        return None
    # PNG stores pixels per metre, so 150 dpi reads back as 150.0124: snap values within that
    # rounding error (half of 0.0254 dpi) to the integer they came from.
    nearest = round(value)
    return float(nearest) if abs(value - nearest) <= _PPM_ROUNDING else value


def inspect(data: bytes, fmt: ImageFormat, *, full_decode: bool = False) -> ImageFacts:
    """Facts about an encoded image; with ``full_decode`` every pixel is decoded too.

    Full decoding proves the file is complete and costs about 0.1 s for an A4 300 dpi page:
    it is used for untrusted imports, not for pages our own scan worker produced.
    """
    image = open_image(data, fmt)
    with image:
        accepted = ACCEPTED_MODES[fmt].get(image.mode)
        if accepted is None:
            raise ImageDecodeError(
                f"{fmt.upper()} images in Pillow mode {image.mode!r} are not supported; "
                f"convert to one of {sorted(ACCEPTED_MODES[fmt])} first"
            )
        if (
            fmt == "png"
            and image.mode == "RGB"
            and len(data) > _PNG_IHDR_DEPTH_OFFSET
            and data[_PNG_IHDR_DEPTH_OFFSET] == 16
        ):
            raise ImageDecodeError("16-bit colour PNG is not supported; convert to 8-bit first")
        if full_decode:
            try:
                with pixels_held(image, "view"):
                    image.load()
            except (OSError, SyntaxError, ValueError) as exc:
                raise ImageDecodeError(f"{fmt.upper()} image is truncated or damaged") from exc
        color_mode, bit_depth = accepted
        return ImageFacts(
            format=fmt,
            width=image.width,
            height=image.height,
            mode=color_mode,
            bit_depth=bit_depth,
            pil_mode=image.mode,
            dpi=_dpi_of(image),
        )


def pixels_held(image: Image.Image,
                work: pixel_budget.Work = "analysis") -> AbstractContextManager[None]:
    """Hold the decoding budget for ``image`` (opened, not yet loaded: its size and mode as
    they will be decoded, so after a JPEG ``draft``) and ``work`` done on it, for the block."""
    return pixel_budget.holding(
        pixel_budget.work_bytes(image.width, image.height, image.mode, work))


@contextmanager
def decoded(data: bytes, fmt: ImageFormat,
            work: pixel_budget.Work = "analysis") -> Iterator[Image.Image]:
    """:func:`decode` for the ``with`` block, holding the decoding budget for ``work`` while
    the pixels live (the way the service decodes); the image is closed at the end."""
    image = open_image(data, fmt)
    with pixels_held(image, work):
        try:
            try:
                image.load()
            except (OSError, SyntaxError, ValueError) as exc:
                raise ImageDecodeError(f"{fmt.upper()} image is truncated or damaged") from exc
            yield image
        finally:
            # close(), not ``with image``: Pillow's __exit__ closes the file only. The pixels
            # are freed before the budget is released.
            image.close()


def decode(data: bytes, fmt: ImageFormat) -> Image.Image:
    """Open and fully decode ``data``; the caller owns (and should close) the image.

    Holds no budget: for worker processes. The service decodes with :func:`decoded`.
    """
    image = open_image(data, fmt)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        image.close()
        raise ImageDecodeError(f"{fmt.upper()} image is truncated or damaged") from exc
    return image
