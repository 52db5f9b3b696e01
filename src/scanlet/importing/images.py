"""Image files (JPEG, PNG, TIFF, BMP, WebP) -> pages the buffer can keep.

The buffer keeps JPEG (8-bit grey or RGB) and PNG (bilevel, 8-bit grey, RGB, 16-bit grey).

- JPEG in grey or RGB is stored byte for byte: re-encoding would add a generation of loss.
  Only the primary image counts: secondary MPF images (HDR gain maps, depth maps) are not
  pages. CMYK/YCCK JPEGs, which the buffer refuses, are converted to RGB and stored as PNG.
- PNG is stored as it is when its layout is one the buffer keeps, else converted without loss
  of information the buffer can hold: palette -> RGB (grey when the palette is grey),
  transparency -> composited on white, LA -> L. 16-bit colour becomes 8-bit RGB (the buffer
  holds no 16-bit colour). An animated PNG imports its default image.
- TIFF imports every frame; BMP its image; WebP every frame (an animation is rare in a
  document, and dropping frames silently is worse than importing them). All of them, and
  JPEG-compressed TIFF frames too, are stored as PNG of the decoded pixels: lossless from
  here on, where a JPEG re-encode would add loss to pixels that may already carry some
  (lossy WebP, JPEG-in-TIFF). Bilevel frames (fax G3/G4) become 1-bit PNGs.

Safety (security.md 5.1): this runs only in the import worker (``pdf_worker.py``), never in
the service. Pillow may use only the plugin of the format detected from the magic bytes; each
frame's pixel count and decoded bytes (budget.work_bytes: 16-bit and many-channel layouts
count for what they take) are checked against the caps *before* it is decoded (Pillow's bomb
error and warning mean the same refusal, 413); every frame is decoded fully to prove it is
complete (a truncated file is 422); the number of frames is capped.
"""

from __future__ import annotations

import io
import logging
import math
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

from PIL import Image, UnidentifiedImageError

from scanlet.importing.budget import work_bytes
from scanlet.importing.detect import PIL_FORMAT, FileFormat
from scanlet.importing.errors import ImportInvalid, ImportTooLarge

if TYPE_CHECKING:  # scanlet.models costs the PDF worker 0.15 s of start-up at run time
    from scanlet.models import PageInfo

logger = logging.getLogger(__name__)

StoredFormat = Literal["jpeg", "png"]
Progress: TypeAlias = Callable[[int, int], None]


class AddPage(Protocol):
    """Appends one encoded page (bytes, format, dpi or None for the file's own); ``pixels``
    is the decoded page when the caller has it (the worker makes the preview from it)."""

    def __call__(self, data: bytes, stored: StoredFormat, dpi: float | None,
                 pixels: Image.Image | None = None, /) -> Any: ...


#: The service's side: stores a page a worker decoded, with the preview it made.
StorePage: TypeAlias = "Callable[[bytes, StoredFormat, float | None, bytes | None], PageInfo]"

#: Exceptions Pillow's decoders raise for malformed input (what its own fuzzers accept, and
#: TypeError for "Missing dimensions"); UserWarning ("Corrupt EXIF data") arrives as an
#: exception only where warnings are errors (the test suite), and means the same there.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError,
    TypeError, struct.error, ZeroDivisionError, UserWarning,
)

#: Pillow modes stored as they are, per stored format.
_KEPT_PNG_MODES = frozenset({"1", "L", "RGB", "I;16"})
_KEPT_JPEG_MODES = frozenset({"L", "RGB"})
#: Formats whose every frame is a page; the others import their primary image.
_MULTI_FRAME: frozenset[FileFormat] = frozenset({"tiff", "webp"})
_PNG_IHDR_DEPTH = 24
_PPM_ROUNDING = 0.0254 / 2 + 1e-9
_MIN_DPI, _MAX_DPI = 10.0, 100_000.0


# -- opening -----------------------------------------------------------------------------------

@contextmanager
def open_checked(source: bytes | Path, fmt: FileFormat, max_pixels: int,
                 max_decoded: int | None = None) -> Iterator[Image.Image]:
    """Open ``source`` lazily with only ``fmt``'s plugin; refuse bombs (413) and unreadable
    headers (422). The first frame's pixel count (and decoded bytes, with ``max_decoded``)
    is checked; later frames by the caller."""
    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    except OSError as exc:
        raise ImportInvalid(f"cannot read the file: {exc}", field="data") from exc
    try:
        try:
            image = Image.open(stream, formats=[PIL_FORMAT[fmt]])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels(None, max_pixels) from exc
        except DECODE_ERRORS as exc:
            raise ImportInvalid(f"not a readable {fmt.upper()} file: {exc}",
                                field="data") from exc
        with image:
            check_pixels(image, max_pixels, max_decoded=max_decoded)
            yield image
    finally:
        stream.close()


def check_pixels(image: Image.Image, max_pixels: int, frame: int | None = None, *,
                 max_decoded: int | None = None) -> None:
    """Refuse a frame with no pixels (422), more than ``max_pixels`` (413) or, with
    ``max_decoded``, whose import would hold more decoded bytes (413), before decoding."""
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImportInvalid("the image has no pixels", field="data", frame=frame)
    if width * height > max_pixels:
        raise _too_many_pixels(image.size, max_pixels, frame)
    if max_decoded is not None:
        needed = work_bytes(width, height, image.mode, converted=_converts(image))
        if needed > max_decoded:
            raise ImportTooLarge(
                f"the image ({width}x{height} pixels, mode {image.mode}) needs {needed} bytes "
                f"decoded, more than the {max_decoded} allowed", limit="decoded_bytes",
                maximum=max_decoded, needed=needed, frame=frame)


def _converts(image: Image.Image) -> bool:
    """Whether :func:`to_storable` makes a converted copy of this (not yet decoded) image."""
    return image.mode not in _KEPT_PNG_MODES or (
        image.info.get("transparency") is not None and image.mode in ("L", "RGB"))


def _too_many_pixels(size: tuple[int, int] | None, max_pixels: int,
                     frame: int | None = None) -> ImportTooLarge:
    what = f"{size[0]}x{size[1]} pixels" if size else "too many pixels"
    return ImportTooLarge(
        f"the image has {what}, more than the {max_pixels} allowed (decompression bomb "
        "protection)", limit="pixels", maximum=max_pixels, frame=frame)


def load_checked(image: Image.Image, frame: int) -> None:
    """Decode every pixel of the current frame: a truncated or damaged one is 422."""
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImportTooLarge(f"frame {frame + 1} is too large to decode safely",
                             limit="pixels", frame=frame) from exc
    except DECODE_ERRORS as exc:
        raise ImportInvalid(f"frame {frame + 1} is truncated or damaged: {exc}",
                            field="data", frame=frame) from exc


def count_frames(image: Image.Image, max_frames: int) -> int:
    """How many frames ``image`` has, walking frame headers only; more than ``max_frames``
    is 413 (checked without walking further, so a loop of a million IFDs costs nothing)."""
    if not getattr(image, "is_animated", False):
        return 1
    count = 1
    try:
        while True:
            try:
                image.seek(count)
            except EOFError:
                break
            count += 1
            if count > max_frames:
                raise ImportTooLarge(f"the file has more than {max_frames} frames",
                                     limit="frames", maximum=max_frames)
    except DECODE_ERRORS as exc:
        raise ImportInvalid(f"frame {count + 1} is damaged: {exc}", field="data",
                            frame=count) from exc
    finally:
        image.seek(0)
    return count


# -- converting --------------------------------------------------------------------------------

def image_dpi(image: Image.Image) -> float | None:
    """The horizontal resolution the file records, or None when absent or implausible.

    PNG and BMP store pixels per metre, so 300 dpi reads back as 300.0118: values within that
    rounding of an integer snap to it. The buffer keeps one dpi per page; a file with
    different horizontal and vertical resolutions (fax: 204 x 98) keeps the horizontal one.
    """
    raw = image.info.get("dpi")
    try:
        x, y = float(raw[0]), float(raw[1])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return None
    if not math.isfinite(x) or not _MIN_DPI <= x <= _MAX_DPI:
        return None
    if math.isfinite(y) and abs(x - y) > 0.01 * x:
        logger.warning("image has %.1f x %.1f dpi; the page keeps %.1f dpi", x, y, x)
    nearest = round(x)
    return float(nearest) if abs(x - nearest) <= _PPM_ROUNDING else x


def _on_white(image: Image.Image, target: Literal["L", "RGB"]) -> Image.Image:
    """Composite an image with alpha onto white (how a page with transparency is seen)."""
    with_alpha = image.convert("LA" if target == "L" else "RGBA")
    out = Image.new(target, image.size, 255 if target == "L" else (255, 255, 255))
    out.paste(with_alpha.convert(target), mask=with_alpha.getchannel("A"))
    return out


def _grey_palette(image: Image.Image) -> bool:
    palette = image.getpalette() or []
    return len(palette) % 3 == 0 and all(
        palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3))


def to_storable(image: Image.Image) -> Image.Image:
    """``image`` (decoded) in a Pillow mode the buffer keeps as PNG: 1, L, RGB or I;16.

    Lossless except where the buffer cannot hold the information: alpha (composited on white),
    CMYK/YCbCr/HSV (Pillow's conversion to RGB), 16-bit colour (already 8-bit in Pillow).
    Raises ImportInvalid for layouts with no faithful conversion (float, LAB, 32-bit ints).
    """
    mode = image.mode
    has_key = image.info.get("transparency") is not None
    if mode in _KEPT_PNG_MODES and not (has_key and mode in ("L", "RGB")):
        return image
    if mode in ("L", "RGB"):  # with a transparent colour key
        return _on_white(image, "L" if mode == "L" else "RGB")
    if mode in ("I;16B", "I;16L", "I;16N"):
        return image.convert("I").convert("I;16")  # direct conversion clips to 8 bits
    if mode == "I":
        low, high = image.getextrema()
        if isinstance(low, int | float) and isinstance(high, int | float) and (
                low >= 0 and high <= 0xFFFF):
            return image.convert("I;16")
    if mode in ("P", "PA"):
        if has_key or mode == "PA":
            converted = _on_white(image, "RGB")
            return converted.convert("L") if _grey_palette(image) else converted
        return image.convert("L" if _grey_palette(image) else "RGB")
    if mode in ("LA", "La"):
        return _on_white(image, "L")
    if mode in ("RGBA", "RGBa"):
        return _on_white(image, "RGB")
    if mode in ("RGBX", "CMYK", "YCbCr", "HSV"):
        return image.convert("RGB")
    raise ImportInvalid(f"images with Pillow mode {mode!r} cannot be imported", field="data",
                        mode=mode)


def encode_png(image: Image.Image, dpi: float | None) -> bytes:
    """A PNG of ``image`` (a storable mode) with its resolution and no other metadata."""
    out = io.BytesIO()
    options: dict[str, object] = {"dpi": (dpi, dpi)} if dpi else {}
    image.save(out, format="PNG", **options)
    return out.getvalue()


# -- importing ---------------------------------------------------------------------------------

def _kept_as_is(image: Image.Image, fmt: FileFormat, head: bytes) -> StoredFormat | None:
    """The stored format if the file itself can be the page, else None (convert it)."""
    if fmt == "jpeg" and image.mode in _KEPT_JPEG_MODES:
        return "jpeg"
    if (
        fmt == "png"
        and image.mode in _KEPT_PNG_MODES
        and image.info.get("transparency") is None
        and not (image.mode == "RGB" and head[_PNG_IHDR_DEPTH:_PNG_IHDR_DEPTH + 1] == b"\x10")
    ):
        return "png"
    return None


def _head(source: bytes | Path, size: int = 64) -> bytes:
    if isinstance(source, bytes):
        return source[:size]
    try:
        with source.open("rb") as fh:
            return fh.read(size)
    except OSError as exc:
        raise ImportInvalid(f"cannot read the file: {exc}", field="data") from exc


def _read_all(source: bytes | Path) -> bytes:
    if isinstance(source, bytes):
        return source
    try:
        return source.read_bytes()
    except OSError as exc:
        raise ImportInvalid(f"cannot read the file: {exc}", field="data") from exc


def import_image(
    source: bytes | Path,
    fmt: FileFormat,
    add: AddPage,
    *,
    max_pixels: int,
    max_frames: int,
    max_decoded: int | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> None:
    """Append the pages of an image file (``fmt`` from :func:`detect.detect`) through ``add``.

    Frames are converted and added one at a time, so memory holds one frame; the caller
    deletes what was added if this raises (all-or-nothing). ``on_total(pages)`` is called once
    the frames are counted, ``progress(done, total)`` after each page. ``max_decoded`` caps
    each frame's decoded bytes (budget.work_bytes). Raises ImportInvalid, ImportTooLarge.
    """
    if fmt not in PIL_FORMAT:
        raise ValueError(f"{fmt} is not an image format")
    with open_checked(source, fmt, max_pixels, max_decoded) as image:
        total = count_frames(image, max_frames) if fmt in _MULTI_FRAME else 1
        if on_total is not None:
            on_total(total)
        kept = _kept_as_is(image, fmt, _head(source)) if total == 1 else None
        if kept is not None:
            # The store decodes the file fully once (proving it complete) before keeping it.
            add(_read_all(source), kept, None)
            if progress is not None:
                progress(1, 1)
            return
        for frame in range(total):
            if frame:
                try:
                    image.seek(frame)
                except DECODE_ERRORS as exc:
                    raise ImportInvalid(f"frame {frame + 1} is damaged: {exc}", field="data",
                                        frame=frame) from exc
            check_pixels(image, max_pixels, frame, max_decoded=max_decoded)
            load_checked(image, frame)
            dpi = image_dpi(image)
            storable = to_storable(image)
            add(encode_png(storable, dpi), "png", dpi, storable)
            del storable
            logger.debug("imported frame %d/%d (%s %s)", frame + 1, total, fmt, image.mode)
            if progress is not None:
                progress(frame + 1, total)
