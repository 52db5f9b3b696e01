"""Pure image operations on PIL images: geometry, tone, binarisation, cleanup, auto-crop.

Every function takes an image and returns a new one (inputs are never changed). They work on
the pixel layouts the buffer keeps (``codecs.decode.ACCEPTED_MODES``): ``"1"`` (bilevel),
``"L"``, ``"RGB"`` and ``"I;16"`` (16-bit grey). Exact geometry (quarter turns, flip, mirror,
crop, fill) keeps every layout as it is; operations that compute new pixel values work on
8 bits, so a 16-bit page is reduced to 8 bits first (:func:`to_8bit`), and a bilevel page is
resampled in grey and thresholded back to bilevel, so a black-and-white page stays one.

Conventions:

- Angles are degrees, **positive = counter-clockwise**, as in ``PIL.Image.rotate``.
- Boxes are ``(left, top, right, bottom)`` in pixels, right/bottom exclusive (PIL's ``crop``).
- Bad parameters raise :class:`scanlet.errors.InvalidSetting` naming the field.
- Fill colours (:data:`Fill`): ``"white"``, ``"black"``, ``"auto"`` (the page's background,
  see :func:`estimate_background`), a grey level 0-255 or an ``(r, g, b)`` triple.

OpenCV and numpy do the pixel work (Otsu, adaptive threshold, connected components, area
resampling); Pillow does the exact transposes and the arbitrary-angle rotation.
"""

from __future__ import annotations

import logging
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from scanlet.codecs.decode import max_pixels
from scanlet.codecs.render import grey_8bit_by_bands
from scanlet.errors import InvalidSetting

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]
Fill = Literal["white", "black", "auto"] | int | tuple[int, int, int]
BwMethod = Literal["threshold", "otsu", "adaptive"]

#: Pixel layouts the operations accept (the buffer's own; see the module docstring).
MODES = ("1", "L", "RGB", "I;16")

_QUARTER_TURNS = {
    1: Image.Transpose.ROTATE_90,
    2: Image.Transpose.ROTATE_180,
    3: Image.Transpose.ROTATE_270,
}
_RIGHT_ANGLE_TOLERANCE = 1e-9


# --- modes -----------------------------------------------------------------------------------


def normalize_mode(image: Image.Image) -> Image.Image:
    """``image`` in one of :data:`MODES`: palette and alpha images are flattened on white.

    Scanner pages already are; this guards imports (a palette PNG, an RGBA screenshot).
    """
    if image.mode in MODES:
        return image
    if image.mode in ("I;16B", "I;16L", "I"):
        array = np.asarray(image).astype(np.int64)
        return Image.fromarray(np.clip(array, 0, 65535).astype(np.uint16))
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(base, rgba)
        return flat.convert("L" if image.mode == "LA" else "RGB")
    if image.mode == "P":
        return image.convert("RGB")
    return image.convert("L" if image.mode in ("F", "L") else "RGB")


def to_8bit(image: Image.Image) -> Image.Image:
    """16-bit grey reduced to 8-bit grey (high byte, rounded); other modes unchanged."""
    if image.mode != "I;16":
        return image
    return grey_8bit_by_bands(image, lambda band: ((band + 128) // 257).clip(0, 255))


def gray_array(image: Image.Image) -> npt.NDArray[np.uint8]:
    """The page as an 8-bit grey numpy array (ITU-R 601 luma for colour, 0/255 for bilevel)."""
    image = to_8bit(image)
    if image.mode != "L":
        image = image.convert("L")
    return np.asarray(image, dtype=np.uint8)


def shrink(gray: npt.NDArray[np.uint8], scale: float) -> npt.NDArray[np.uint8]:
    """A grey array reduced by ``scale`` (< 1) with area averaging; unchanged if scale >= 1."""
    if scale >= 1.0:
        return gray
    h, w = gray.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _from_bool(white: npt.NDArray[np.bool_]) -> Image.Image:
    """A bilevel image from a boolean array (True = white)."""
    return Image.fromarray(np.ascontiguousarray(white))


def _rebinarize(gray: Image.Image) -> Image.Image:
    """Back to bilevel after resampling a bilevel page in grey (midpoint threshold)."""
    return _from_bool(np.asarray(gray) >= 128)


# --- colours ---------------------------------------------------------------------------------


def estimate_background(image: Image.Image) -> int | tuple[int, int, int]:
    """The page's background colour: the median of a small thumbnail, per channel.

    On a document (mostly paper) this is the paper's tone, so corners filled with it after a
    rotation blend in. Returned as a grey level for single-channel images, RGB otherwise.
    """
    small = to_8bit(image)
    if small.mode == "1":
        small = small.convert("L")
    small = small.reduce(max(1, max(small.size) // 256))  # block averages, no full-size copy
    array = np.asarray(small)
    if array.ndim == 2:
        return int(np.median(array))
    med = np.median(array.reshape(-1, array.shape[2]), axis=0)
    return (int(med[0]), int(med[1]), int(med[2]))


def fill_value(image: Image.Image, fill: Fill) -> int | tuple[int, int, int]:
    """``fill`` as a pixel value for ``image``'s mode (grey levels scale to 16 bits, bilevel
    takes the nearer of black and white)."""
    rgb: tuple[int, int, int]
    if fill == "auto":
        found = estimate_background(image)
        rgb = found if isinstance(found, tuple) else (found, found, found)
    elif fill == "white":
        rgb = (255, 255, 255)
    elif fill == "black":
        rgb = (0, 0, 0)
    elif isinstance(fill, int):
        rgb = (fill, fill, fill)
    else:
        rgb = fill
    if any(not 0 <= c <= 255 for c in rgb):
        raise InvalidSetting(f"fill colour {fill!r} is out of range", field="fill",
                             allowed="0-255 per channel")
    if image.mode == "RGB":
        return rgb
    level = round(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])
    if image.mode == "1":
        return 1 if level >= 128 else 0
    if image.mode == "I;16":
        return level * 257
    return level


# --- geometry --------------------------------------------------------------------------------


def quarter_turns(angle: float) -> int | None:
    """``angle`` as counter-clockwise quarter turns 0-3 when it is a multiple of 90, else None."""
    turns = angle / 90.0
    nearest = round(turns)
    if abs(turns - nearest) > _RIGHT_ANGLE_TOLERANCE:
        return None
    return nearest % 4


def check_pixels(width: int, height: int, field: str) -> None:
    """Refuse a result larger than the decoder would accept (it could not be read back)."""
    if width < 1 or height < 1:
        raise InvalidSetting(f"the result would have no pixels ({width}x{height})", field=field)
    if width * height > max_pixels():
        raise InvalidSetting(
            f"the result would be {width}x{height} pixels, more than the {max_pixels()} allowed",
            field=field, allowed=f"at most {max_pixels()} pixels")


def rotate(image: Image.Image, angle: float, *, fill: Fill = "white",
           expand: bool = True) -> Image.Image:
    """Rotate counter-clockwise by ``angle`` degrees.

    Multiples of 90 are exact transposes (no pixel changes value, any mode). Other angles are
    resampled bicubically (OpenCV, several times faster than Pillow's); with ``expand`` the
    canvas grows to keep every pixel, otherwise it keeps its size (deskew); uncovered corners
    get ``fill``.
    """
    turns = quarter_turns(angle)
    if turns is not None:
        return image.copy() if turns == 0 else image.transpose(_QUARTER_TURNS[turns])
    w, h = image.size
    rad = np.deg2rad(angle)
    cos, sin = abs(float(np.cos(rad))), abs(float(np.sin(rad)))
    out_w, out_h = (round(w * cos + h * sin), round(w * sin + h * cos)) if expand else (w, h)
    check_pixels(out_w, out_h, "angle")
    bilevel = image.mode == "1"
    work = to_8bit(image.convert("L") if bilevel else image)
    color = fill_value(work, fill)
    # OpenCV's positive angles are counter-clockwise too (y pointing down); pixel centres
    # are at integer coordinates, so the image centre is ((w - 1) / 2, (h - 1) / 2).
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
    matrix[0, 2] += (out_w - w) / 2.0
    matrix[1, 2] += (out_h - h) / 2.0
    border = tuple(float(c) for c in color) if isinstance(color, tuple) else float(color)
    array = cv2.warpAffine(np.asarray(work), matrix, (out_w, out_h), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    out = Image.fromarray(np.asarray(array, dtype=np.uint8))
    return _rebinarize(out) if bilevel else out


def flip(image: Image.Image) -> Image.Image:
    """Upside down (top <-> bottom), exact."""
    return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)


def mirror(image: Image.Image) -> Image.Image:
    """Left <-> right, exact."""
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def check_box(image: Image.Image, box: Box, field: str = "box") -> Box:
    """``box`` if it is a non-empty rectangle inside ``image``, else InvalidSetting."""
    left, top, right, bottom = (int(v) for v in box)
    w, h = image.size
    if not (0 <= left < right <= w and 0 <= top < bottom <= h):
        raise InvalidSetting(
            f"box {[left, top, right, bottom]} is not a non-empty rectangle inside the "
            f"{w}x{h} image",
            field=field, allowed=f"0 <= left < right <= {w}, 0 <= top < bottom <= {h}")
    return (left, top, right, bottom)


def crop(image: Image.Image, box: Box) -> Image.Image:
    """The pixels inside ``box`` (exact)."""
    return image.crop(check_box(image, box))


def fill_region(image: Image.Image, box: Box, fill: Fill = "white") -> Image.Image:
    """``box`` painted with ``fill`` (erase a region: a stamp, a hole, a finger)."""
    box = check_box(image, box)
    out = image.copy()
    out.paste(fill_value(image, fill), box)
    return out


def resize(image: Image.Image, width: int, height: int) -> Image.Image:
    """Resample to ``width`` x ``height`` pixels.

    Shrinking averages areas (OpenCV ``INTER_AREA``: no aliasing on text and halftones);
    enlarging is bicubic. Bilevel pages are resampled in grey and thresholded back.
    """
    check_pixels(width, height, "size")
    if (width, height) == image.size:
        return image.copy()
    bilevel = image.mode == "1"
    work = to_8bit(image.convert("L") if bilevel else image)
    shrinking = width * height < work.width * work.height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    array = cv2.resize(np.asarray(work), (width, height), interpolation=interpolation)
    out = Image.fromarray(array)
    return _rebinarize(out) if bilevel else out


def scale_to_dpi(image: Image.Image, dpi_from: float, dpi_to: float) -> Image.Image:
    """Resample so the same physical size has ``dpi_to`` pixels per inch instead of
    ``dpi_from``."""
    if dpi_from <= 0 or dpi_to <= 0:
        raise InvalidSetting("dpi must be positive", field="dpi")
    factor = dpi_to / dpi_from
    width = max(1, round(image.width * factor))
    height = max(1, round(image.height * factor))
    return resize(image, width, height)


# --- tone ------------------------------------------------------------------------------------


def to_grayscale(image: Image.Image) -> Image.Image:
    """8-bit grey (ITU-R 601 luma); bilevel becomes 0/255 grey; 16-bit grey stays 16-bit."""
    if image.mode in ("L", "I;16"):
        return image.copy()
    return image.convert("L")


def otsu_threshold(image: Image.Image) -> int:
    """Otsu's global threshold of the page's grey levels (pixels below it are ink)."""
    value, _ = cv2.threshold(gray_array(image), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return int(value) + 1


def to_bw(image: Image.Image, method: BwMethod = "otsu", *, threshold: int = 128,
          block_size: int = 51, offset: int = 10) -> Image.Image:
    """Black and white (bilevel, mode ``"1"``).

    - ``threshold``: pixels darker than ``threshold`` (0-256) become black.
    - ``otsu``: the threshold is chosen by Otsu's method (:func:`otsu_threshold`).
    - ``adaptive``: a pixel is black when it is more than ``offset`` levels darker than the
      mean of its ``block_size`` x ``block_size`` neighbourhood (odd, >= 3): handles shadows
      and uneven lighting that defeat a global threshold.
    """
    gray = gray_array(image)
    if method == "adaptive":
        if block_size < 3 or block_size % 2 == 0:
            raise InvalidSetting("block_size must be an odd number of pixels, at least 3",
                                 field="block_size", allowed="odd integer >= 3")
        out = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY,
                                    block_size, offset)
        return _from_bool(out > 0)
    if method == "otsu":
        threshold = otsu_threshold(image)
    elif method != "threshold":
        raise InvalidSetting(f"unknown method {method!r}", field="method",
                             allowed=["threshold", "otsu", "adaptive"])
    if not 0 <= threshold <= 256:
        raise InvalidSetting("threshold must be 0-256", field="threshold", allowed="0-256")
    return _from_bool(gray >= threshold)


def invert(image: Image.Image) -> Image.Image:
    """Negative: black <-> white (any mode, exact)."""
    if image.mode == "1":
        return _from_bool(~np.asarray(image))
    if image.mode == "I;16":
        return Image.fromarray(65535 - np.asarray(image).astype(np.uint16))
    return ImageOps.invert(image)


def adjust(image: Image.Image, brightness: float = 0.0, contrast: float = 0.0) -> Image.Image:
    """Brightness and contrast, each -100..100 (0 = unchanged).

    Contrast scales levels around mid-grey by ``(100 + c) / 100`` when lowering (-100 = flat
    grey) and ``100 / (100 - c)`` when raising (100 = a hard threshold at mid-grey);
    brightness then shifts every level by ``brightness`` percent of full scale. A bilevel page
    becomes grey.
    """
    for name, value in (("brightness", brightness), ("contrast", contrast)):
        if not -100 <= value <= 100:
            raise InvalidSetting(f"{name} must be -100..100", field=name, allowed="-100..100")
    work = to_8bit(image.convert("L") if image.mode == "1" else image)
    factor = (100.0 + contrast) / 100.0 if contrast <= 0 else 100.0 / max(100.0 - contrast, 1e-3)
    levels = np.arange(256, dtype=np.float64)
    lut = (levels - 127.5) * factor + 127.5 + brightness * 2.55
    table = np.clip(np.floor(lut + 0.5), 0, 255).astype(np.uint8)  # halves round up
    return Image.fromarray(cv2.LUT(np.asarray(work), table))


# --- cleanup ---------------------------------------------------------------------------------


def small_components(ink: npt.NDArray[np.bool_], max_size: int) -> npt.NDArray[np.bool_]:
    """The pixels of 8-connected ``ink`` components that fit in ``max_size`` x ``max_size``."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8),
                                                               connectivity=8)
    small = (stats[:, cv2.CC_STAT_WIDTH] <= max_size) & (stats[:, cv2.CC_STAT_HEIGHT] <= max_size)
    small[0] = False  # label 0 is the background
    if count <= 1 or not small.any():
        return np.zeros_like(ink)
    mask: npt.NDArray[np.bool_] = small[labels]
    return mask


def despeckle(image: Image.Image, max_size: int = 3) -> Image.Image:
    """Remove dark specks (dust, toner, noise) up to ``max_size`` x ``max_size`` pixels.

    Specks are the small connected components of the ink (bilevel: black pixels; otherwise
    pixels darker than Otsu's threshold). Bilevel specks turn white; in grey and colour they
    are painted with the brightest level of their neighbourhood (a grey-level dilation), i.e.
    the paper around them. Text strokes, being larger, are left exactly as they were, unlike a
    median filter that would soften them.
    """
    if not 1 <= max_size <= 100:
        raise InvalidSetting("max_size must be 1-100 pixels", field="size", allowed="1-100")
    if image.mode == "1":
        white = np.asarray(image)
        return _from_bool(white | small_components(~white, max_size))
    work = to_8bit(image)
    gray = gray_array(work)
    ink = gray < otsu_threshold(work)
    specks = small_components(ink, max_size)
    if not specks.any():
        return work.copy()
    array = np.asarray(work)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * max_size + 3, 2 * max_size + 3))
    paper = cv2.dilate(array, kernel)
    out = array.copy()
    out[specks] = paper[specks]
    return Image.fromarray(out)


# --- document border -------------------------------------------------------------------------


def find_document_box(image: Image.Image, *, min_area: float = 0.05,
                      min_contrast: int = 24) -> Box | None:
    """The bounding box of the document lying on a scanner background of another tone.

    The background tone is the median of the four corner patches' medians, so a page pushed
    into one corner of the glass (the usual flatbed placement) still leaves three background
    corners. Pixels that differ from it by more than half the page/background contrast are
    the page; the largest such region (after a small opening that drops dust) gives the box.
    Each edge is then placed exactly at full resolution (the outermost row or column that is
    mostly page), so no background line is left. None when there
    is no border to remove: too little contrast, a region under ``min_area`` of the image, or
    one that already fills it.
    """
    gray = gray_array(image)
    h, w = gray.shape
    scale = min(1.0, 1000.0 / max(h, w))
    small = shrink(gray, scale)
    sh, sw = small.shape
    patch = max(2, min(sh, sw) // 40)
    corners = [small[:patch, :patch], small[:patch, -patch:], small[-patch:, :patch],
               small[-patch:, -patch:]]
    background = float(np.median([np.median(c) for c in corners]))
    centre = small[sh // 4: sh - sh // 4, sw // 4: sw - sw // 4]
    paper = float(np.median(centre))
    if abs(paper - background) < min_contrast:
        return None
    page = np.abs(small.astype(np.int16) - background) > abs(paper - background) / 2
    page = cv2.morphologyEx(page.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(page, connectivity=8)
    if count <= 1:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, bw, bh = (int(v) for v in stats[best, :4])
    if bw * bh < min_area * sw * sh:
        return None
    # Refine each edge at full resolution: the first/last row or column, near the rough edge,
    # that is mostly page.
    threshold = abs(paper - background) / 2
    reach = int(np.ceil(2 / scale))
    rough = (x / scale, y / scale, (x + bw) / scale, (y + bh) / scale)
    left, top, right, bottom = (round(v) for v in rough)
    rows = slice(min(h - 1, top + reach), max(top + reach + 1, bottom - reach))
    cols = slice(min(w - 1, left + reach), max(left + reach + 1, right - reach))
    left, right = _refine_edges(gray[rows, :], background, threshold, left, right, reach, axis=0)
    top, bottom = _refine_edges(gray[:, cols], background, threshold, top, bottom, reach,
                                axis=1)
    if (left, top, right, bottom) == (0, 0, w, h) or right <= left or bottom <= top:
        return None
    return (left, top, right, bottom)


def _refine_edges(band: npt.NDArray[np.uint8], background: float, threshold: float,
                  low: int, high: int, reach: int, axis: int) -> tuple[int, int]:
    """Exact ``[low, high)`` of the page along one direction of ``band``: the outermost lines
    within ``reach`` of the rough edges where most pixels differ from the background."""
    is_page = np.abs(band.astype(np.int16) - background) > threshold
    share = is_page.mean(axis=axis)
    size = share.shape[0]
    lo_range = np.arange(max(0, low - reach), min(size, low + reach + 1))
    hi_range = np.arange(max(0, high - reach - 1), min(size, high + reach))
    lo_hits = lo_range[share[lo_range] > 0.5]
    hi_hits = hi_range[share[hi_range] > 0.5]
    new_low = int(lo_hits[0]) if len(lo_hits) else low
    new_high = int(hi_hits[-1]) + 1 if len(hi_hits) else high
    return new_low, new_high


def auto_crop(image: Image.Image, *, margin: int = 0) -> tuple[Image.Image, Box | None]:
    """Crop to the document's border (:func:`find_document_box`), ``margin`` more pixels
    inwards; returns the image unchanged and None when no border is found."""
    box = find_document_box(image)
    if box is None:
        return image.copy(), None
    left, top, right, bottom = box
    inner = (left + margin, top + margin, right - margin, bottom - margin)
    if inner[2] <= inner[0] or inner[3] <= inner[1]:
        raise InvalidSetting("margin is larger than half the document", field="margin")
    return image.crop(inner), inner
