"""Barcode reading with zxing-cpp: every format it reads, an optional region and format filter.

:func:`read_barcodes` is a thin wrapper: it turns the page into 8-bit grey (zxing-cpp reads grey
about 20 % faster than RGB, and a format filter makes it up to 10x faster: see
reference/performance-facts.md), crops the region if one was asked for, calls
``zxingcpp.read_barcodes`` once and turns each result into a :class:`Barcode` whose positions are
in page pixels. Nothing else touches the pixels, so the wrapper costs next to nothing on top of
zxing-cpp itself (benchmarks/bench_barcodes.py measures it).

Format names are zxing-cpp's own (``QRCode``, ``EAN13``, ``DataMatrix``, ``AllLinear`` ...);
:func:`barcode_formats` lists the ones this zxing-cpp build reads. Lookups are forgiving
("QR Code", "ean-13" work); results always carry the canonical name. An unknown name is an
:class:`~scanlet.errors.InvalidSetting` with the allowed names, never a silent "read everything".

Needs the zxing-cpp 3 API (``BarcodeFormats``, ``barcode_formats_list``, ``Barcode.symbology``).
What zxing-cpp 3.1 does that callers may not expect (tests/barcodes/pages.py shows each):

- MaxiCode is found only when it is the only thing in the image: read it with a ``region``.
- DataBar (RSS-14, stacked or not): one symbol per pixel row; symbols whose numbers differ
  only in the last digits can be merged into one.
- Without a filter, UPC-A is reported as ``EAN13`` (13 digits) and Telepen Numeric as Telepen
  Alpha; ISBN symbols are always ``EAN13`` (a ``formats=["ISBN"]`` filter finds nothing).
- An upright stacked DataBar Expanded is reported with orientation 180.
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import zxingcpp
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator

from scanlet.codecs.render import grey_8bit_by_bands
from scanlet.errors import InvalidSetting

logger = logging.getLogger(__name__)

#: Group names accepted as a format filter besides the single formats.
_GROUPS = ("All", "AllReadable", "AllLinear", "AllMatrix", "AllGS1", "AllRetail", "AllIndustrial")

#: zxing-cpp options turned off by ``try_harder=False``: upright, dark-on-light, full size only.
_FAST: dict[str, Any] = {"try_rotate": False, "try_downscale": False, "try_invert": False}

Region = tuple[int, int, int, int]
"""A rectangle in page pixels: ``(left, top, width, height)``, like :class:`scanlet.models.Area`."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Point(_Model):
    """A point in page pixels (origin top-left)."""

    x: int
    y: int


class Box(_Model):
    """An axis-aligned rectangle in page pixels."""

    left: int
    top: int
    width: int
    height: int

    def contains(self, point: Point, margin: int = 0) -> bool:
        """Whether ``point`` lies inside this box grown by ``margin`` pixels on every side."""
        return (self.left - margin <= point.x <= self.left + self.width + margin
                and self.top - margin <= point.y <= self.top + self.height + margin)


class Barcode(_Model):
    """One decoded symbol, with where it is on the page."""

    text: str = Field(description="Decoded text (zxing-cpp's human-readable interpretation)")
    raw_base64: str = Field(description="The symbol's raw data bytes, base64")
    format: str = Field(description="zxing-cpp format name, e.g. QRCode, EAN13, Code128")
    symbology: str = Field(description="Family of the format, e.g. EANUPC for EAN13 and UPCA")
    symbology_identifier: str = Field(description="AIM symbology identifier, e.g. ]Q1")
    content_type: str = Field(description="text, binary, mixed, gs1, iso15434 or unknowneci")
    ec_level: str = Field(description="Error correction level, empty where not applicable")
    position: list[Point] = Field(
        description="The symbol's corners in page pixels: its own top-left, top-right, "
        "bottom-right, bottom-left (they turn with the symbol)")
    box: Box = Field(description="Axis-aligned bounding box of the corners")
    orientation: int = Field(ge=0, lt=360,
                             description="Rotation of the symbol, degrees clockwise (0-359)")
    extra: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Symbology details from zxing-cpp (version, mask ...)")

    @property
    def raw(self) -> bytes:
        """The raw data bytes."""
        return base64.b64decode(self.raw_base64)


class BarcodeOptions(_Model):
    """What to read: the settings of :func:`read_barcodes` as data (for jobs and API bodies).

    Unknown formats fail validation here, so a scan job refuses them before it starts.
    """

    formats: list[str] | None = Field(
        None, description="zxing-cpp format names; none means every format (slower)")
    region: Region | None = Field(
        None, description="(left, top, width, height) in page pixels; clipped to the page")
    try_harder: bool = Field(
        True, description="Also look for rotated, inverted and very large symbols")

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: list[str] | None) -> list[str] | None:
        try:
            return validate_formats(value)
        except InvalidSetting as error:
            raise ValueError(error.message) from None

    def read(self, image: Image.Image) -> list[Barcode]:
        """:func:`read_barcodes` with these settings."""
        return read_barcodes(image, formats=self.formats, region=self.region,
                             try_harder=self.try_harder)


@functools.cache
def _known() -> dict[str, zxingcpp.BarcodeFormat]:
    """Canonical name → format, for every group and readable format of this zxing-cpp."""
    known = {name: zxingcpp.BarcodeFormat[name] for name in _GROUPS
             if name in zxingcpp.BarcodeFormat.__members__}
    readable = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.AllReadable)
    for fmt in zxingcpp.barcode_formats_list(readable):
        known[fmt.name] = fmt
    return known


def barcode_formats() -> list[str]:
    """Every format name :func:`read_barcodes` accepts: groups first, then single formats."""
    return list(_known())


def _lookup(name: str) -> zxingcpp.BarcodeFormat:
    known = _known()
    fmt = known.get(name)
    if fmt is None:
        try:
            fmt = zxingcpp.barcode_format_from_str(name)
        except ValueError:
            fmt = None
        if fmt is None or fmt.name not in known:
            raise InvalidSetting(f"Unknown barcode format {name!r}: use one of the names listed "
                                 "in 'allowed'", field="formats", allowed=barcode_formats())
    return fmt


@functools.lru_cache(maxsize=256)
def _resolve(names: tuple[str, ...]) -> tuple[zxingcpp.BarcodeFormat, ...]:
    if not names:
        raise InvalidSetting("The format list is empty: leave it out to read every format",
                             field="formats", allowed=barcode_formats())
    return tuple(dict.fromkeys(_lookup(name) for name in names))


@functools.lru_cache(maxsize=256)
def _filter(names: tuple[str, ...]) -> zxingcpp.BarcodeFormats:
    return zxingcpp.BarcodeFormats(list(_resolve(names)))


def validate_formats(names: Sequence[str] | None) -> list[str] | None:
    """Canonical names for ``names`` (``None`` stays ``None``: every format).

    Raises :class:`InvalidSetting` (``field="formats"``, ``allowed=[...]``) for an unknown
    name or an empty list.
    """
    if names is None:
        return None
    return [fmt.name for fmt in _resolve(tuple(names))]


@functools.lru_cache(maxsize=256)
def expand_formats(names: tuple[str, ...]) -> frozenset[str]:
    """The format names a filter of ``names`` can report: each format, the formats it groups
    (``DataBar`` → ``DataBarOmni`` ...) and its family name (``CompactPDF417`` is reported as
    ``PDF417``)."""
    found: set[str] = set()
    for fmt in _resolve(names):
        members = zxingcpp.barcode_formats_list(zxingcpp.BarcodeFormats(fmt))
        found.update(member.name for member in members)
        if fmt.name not in _GROUPS:
            found.add(fmt.symbology.name)
    return frozenset(found)


def _clip_region(region: Sequence[int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(left, top, width, height)`` clipped to the image, as a PIL box; InvalidSetting if no
    pixel of the image is left."""
    if len(region) != 4:
        raise InvalidSetting("The region needs four numbers: left, top, width, height",
                             field="region")
    left, top, width, height = (int(v) for v in region)
    if width <= 0 or height <= 0:
        raise InvalidSetting(f"The region {tuple(region)} has no area: width and height must be "
                             "positive", field="region")
    box = (max(left, 0), max(top, 0), min(left + width, size[0]), min(top + height, size[1]))
    if box[0] >= box[2] or box[1] >= box[3]:
        raise InvalidSetting(f"The region {tuple(region)} lies outside the "
                             f"{size[0]}x{size[1]} page", field="region",
                             allowed={"width": size[0], "height": size[1]})
    return box


def gray_image(image: Image.Image) -> Image.Image:
    """8-bit grey version of ``image``: itself when it already is, no copy.

    16-bit and 32-bit grey keep their top 8 bits (Pillow's own conversion would clip them).
    """
    mode = image.mode
    if mode == "L":
        return image
    if mode.startswith("I;16"):  # band by band: a float copy would take 8 bytes a pixel
        return grey_8bit_by_bands(image, lambda band: band // 257)
    if mode in ("I", "F"):
        values = np.asarray(image)
        if mode in ("I", "F") and values.size and float(values.max()) <= 255:
            return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))
        return Image.fromarray((np.clip(values, 0, 65535) / 257).astype(np.uint8))
    return image.convert("L")


def _point(p: zxingcpp.Point, dx: int, dy: int) -> Point:
    return Point(x=p.x + dx, y=p.y + dy)


def _extra(value: object) -> dict[str, str | int | float | bool]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, (str, int, float, bool)) else str(v)
            for k, v in value.items()}


def _to_model(found: zxingcpp.Barcode, dx: int, dy: int) -> Barcode:
    pos = found.position
    corners = [_point(p, dx, dy) for p in
               (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)]
    xs = [c.x for c in corners]
    ys = [c.y for c in corners]
    fmt = found.format
    return Barcode(
        text=found.text,
        raw_base64=base64.b64encode(found.bytes).decode("ascii"),
        format=fmt.name,
        symbology=found.symbology.name,
        symbology_identifier=found.symbology_identifier,
        content_type=found.content_type.name.lower(),
        ec_level=found.ec_level,
        position=corners,
        box=Box(left=min(xs), top=min(ys), width=max(xs) - min(xs), height=max(ys) - min(ys)),
        orientation=found.orientation % 360,
        extra=_extra(found.extra),
    )


def read_barcodes(image: Image.Image, *, formats: Sequence[str] | None = None,
                  region: Sequence[int] | None = None,
                  try_harder: bool = True) -> list[Barcode]:
    """Every barcode zxing-cpp finds on ``image``.

    ``formats``: zxing-cpp names (:func:`barcode_formats`); ``None`` reads every format, which
    is several times slower than naming the ones you expect. ``region``: ``(left, top, width,
    height)`` in page pixels, clipped to the page; positions in the results are still page
    pixels. ``try_harder=False`` skips rotated (90°/270°), inverted and downscaled searches:
    faster, for upright dark-on-light symbols of normal size.

    Raises :class:`InvalidSetting` for an unknown format or a region outside the page.
    """
    wanted = _filter(tuple(formats)) if formats is not None else None
    dx = dy = 0
    if region is not None:
        box = _clip_region(region, image.size)
        image = image.crop(box)
        dx, dy = box[0], box[1]
    gray = gray_image(image)
    options = {} if try_harder else _FAST
    if wanted is None:
        found = zxingcpp.read_barcodes(gray, **options)
    else:
        found = zxingcpp.read_barcodes(gray, formats=wanted, **options)
    barcodes = [_to_model(item, dx, dy) for item in found]
    logger.debug("read %d barcode(s) in a %dx%d image", len(barcodes), *image.size)
    return barcodes


def read_pages(images: Iterable[Image.Image], *, formats: Sequence[str] | None = None,
               region: Sequence[int] | None = None,
               try_harder: bool = True) -> list[list[Barcode]]:
    """:func:`read_barcodes` for each page of a document, in order (one list per page).

    The settings are checked before the first page is read.
    """
    checked = validate_formats(formats)
    return [read_barcodes(image, formats=checked, region=region, try_harder=try_harder)
            for image in images]
