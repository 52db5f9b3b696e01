"""Page edits as the API accepts them, and :func:`apply_edits`, which runs a list of them on
encoded page bytes.

An edit is a JSON object with an ``op`` (:data:`Edit` is the pydantic discriminated union)::

    {"op": "rotate", "angle": 90}            counter-clockwise degrees; any angle, see below
    {"op": "flip"}                           top <-> bottom
    {"op": "mirror"}                         left <-> right
    {"op": "crop", "box": [l, t, r, b]}      pixels, right/bottom exclusive
    {"op": "fill", "box": [l, t, r, b], "color": "white"}          erase a region
    {"op": "resize", "width": 1240}          pixels (one side keeps the aspect ratio)
    {"op": "dpi", "dpi": 200, "resample": true}
    {"op": "gray"}
    {"op": "bw", "method": "otsu"}           or "threshold" (+ threshold), "adaptive"
    {"op": "invert"}
    {"op": "adjust", "brightness": 10, "contrast": 20}              -100..100 each
    {"op": "despeckle", "size": 3}           largest speck removed, pixels
    {"op": "deskew"}                         reports the angle found
    {"op": "autocrop"}                       crop to the document's border
    {"op": "orient"}                         upright by text orientation (Tesseract OSD)

**Angles** are counter-clockwise degrees (PIL's convention) throughout: rotate 90 turns the page
left; a deskew report of +1.5 means the content leaned 1.5 degrees counter-clockwise and was
turned back by -1.5; an orient report of 90 means the text was turned a quarter counter-
clockwise and the page was turned by -90 (clockwise) to make it upright. Multiples of 90 are
exact; other angles resample and grow the canvas, filling the corners with ``fill``.

**Resolution**: ``resize`` keeps the page's physical size, so the dpi scales with the width
(a 2480 px wide page at 300 dpi resized to 1240 px is 150 dpi); ``dpi`` with ``resample``
resamples to the new resolution, without it only the recorded value changes. Other edits keep
the dpi.

**Output format** (what :func:`apply_edits` returns):

1. A JPEG whose edits are only quarter turns, flips and mirrors is transformed by
   ``jpegtran`` without re-encoding (``report["lossless"]`` True). When its size is not a
   multiple of the JPEG block size that is impossible; it is then re-encoded once with its own
   quantisation tables (same quality) and ``lossless`` is False. No edits: the bytes are
   returned as they are (dpi header set).
2. A black-and-white (bilevel) result is always a 1-bit PNG.
3. Otherwise a JPEG stays a JPEG (encoded at ``quality``; by default with the source's own
   quantisation tables) and a PNG stays a PNG (no generation loss), unless ``output`` asks
   for the other one. ``output="jpeg"`` cannot hold a bilevel result (InvalidSetting).

A 16-bit grey PNG stays 16-bit through exact edits (quarter turns, flip, mirror, crop, fill);
edits that compute new levels work in 8 bits. :class:`EditResult` carries the colour mode and
bit depth read back from the encoded header, ready for the buffer's index.

``report`` is JSON-ready: ``steps`` (one entry per edit with what it found: deskew angle and
confidence, orient angle and confidence, autocrop box, Otsu threshold...), ``lossless`` (no
encoding loss added: PNG output or jpegtran) and ``format_reason``.

Limits: at most :data:`MAX_EDITS` edits; results above the decoder's pixel cap
(``codecs.decode.max_pixels``) are refused; boxes must lie inside the image at the time the
edit runs. Violations raise :class:`scanlet.errors.InvalidSetting` naming the field, e.g.
``edits[2].box``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from PIL import Image, JpegImagePlugin
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from scanlet.codecs.decode import ImageDecodeError, ImageFormat, decoded, inspect, open_image
from scanlet.codecs.dpi import check_page_dpi, with_dpi
from scanlet.errors import InvalidSetting
from scanlet.imaging import jpeg_lossless, ops
from scanlet.imaging.deskew import DEFAULT_MIN_CONFIDENCE as DESKEW_MIN_CONFIDENCE
from scanlet.imaging.deskew import deskew
from scanlet.imaging.orientation import DEFAULT_MIN_CONFIDENCE as ORIENT_MIN_CONFIDENCE
from scanlet.imaging.orientation import rotate_upright
from scanlet.models import ColorMode

logger = logging.getLogger(__name__)

MAX_EDITS = 32
MAX_SIDE = 65_535
#: The largest speck despeckle removes, in pixels (ops.despeckle's bound).
MAX_SPECK = 100
DEFAULT_QUALITY = 90

Level = Annotated[int, Field(ge=0, le=255)]
Color = Literal["white", "black", "auto"] | Level | tuple[Level, Level, Level]
Pixel = Annotated[int, Field(ge=0, le=MAX_SIDE)]
OutputFormat = Literal["auto", "jpeg", "png"]


class _Edit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _BoxEdit(_Edit):
    box: tuple[Pixel, Pixel, Pixel, Pixel] = Field(
        description="[left, top, right, bottom] in pixels, right/bottom exclusive")

    @model_validator(mode="after")
    def _ordered(self) -> _BoxEdit:
        left, top, right, bottom = self.box
        if right <= left or bottom <= top:
            raise ValueError("box must be [left, top, right, bottom] with right > left and "
                             "bottom > top")
        return self


class Rotate(_Edit):
    op: Literal["rotate"]
    angle: float = Field(ge=-360, le=360, description="degrees, counter-clockwise")
    fill: Color = Field("white", description="corner colour for angles not a multiple of 90")


class Flip(_Edit):
    op: Literal["flip"]


class Mirror(_Edit):
    op: Literal["mirror"]


class Crop(_BoxEdit):
    op: Literal["crop"]


class FillRegion(_BoxEdit):
    op: Literal["fill"]
    color: Color = "white"


class Resize(_Edit):
    op: Literal["resize"]
    width: Annotated[int, Field(ge=1, le=MAX_SIDE)] | None = None
    height: Annotated[int, Field(ge=1, le=MAX_SIDE)] | None = None

    @model_validator(mode="after")
    def _one_side(self) -> Resize:
        if self.width is None and self.height is None:
            raise ValueError("give width, height or both")
        return self


class Dpi(_Edit):
    op: Literal["dpi"]
    dpi: float = Field(ge=10, le=4800)
    resample: bool = Field(True, description="resample pixels (false: only the header)")


class Gray(_Edit):
    op: Literal["gray"]


class BlackWhite(_Edit):
    op: Literal["bw"]
    method: ops.BwMethod = "otsu"
    threshold: int = Field(128, ge=0, le=256, description="method 'threshold': darker = black")
    block_size: int | None = Field(None, ge=3, le=1001,
                                   description="method 'adaptive': odd window in pixels "
                                               "(default about 4 mm)")
    offset: int = Field(10, ge=-255, le=255,
                        description="method 'adaptive': levels below the local mean")

    @model_validator(mode="after")
    def _odd(self) -> BlackWhite:
        if self.block_size is not None and self.block_size % 2 == 0:
            raise ValueError("block_size must be odd")
        return self


class Invert(_Edit):
    op: Literal["invert"]


class Adjust(_Edit):
    op: Literal["adjust"]
    brightness: float = Field(0, ge=-100, le=100)
    contrast: float = Field(0, ge=-100, le=100)


class Despeckle(_Edit):
    op: Literal["despeckle"]
    size: int | None = Field(None, ge=1, le=MAX_SPECK,
                             description="largest speck in pixels (default about 0.25 mm)")


class Deskew(_Edit):
    op: Literal["deskew"]
    max_angle: float = Field(10, ge=0.5, le=45)
    fill: Color = "auto"
    min_confidence: float = Field(DESKEW_MIN_CONFIDENCE, ge=0)


class AutoCrop(_Edit):
    op: Literal["autocrop"]
    margin: int = Field(0, ge=0, le=10_000, description="pixels more to cut inside the border")


class Orient(_Edit):
    op: Literal["orient"]
    min_confidence: float = Field(ORIENT_MIN_CONFIDENCE, ge=0)


Edit = Annotated[
    Rotate | Flip | Mirror | Crop | FillRegion | Resize | Dpi | Gray | BlackWhite | Invert
    | Adjust | Despeckle | Deskew | AutoCrop | Orient,
    Field(discriminator="op"),
]
EditList = Annotated[list[Edit], Field(max_length=MAX_EDITS)]
OPS: tuple[str, ...] = ("rotate", "flip", "mirror", "crop", "fill", "resize", "dpi", "gray",
                        "bw", "invert", "adjust", "despeckle", "deskew", "autocrop", "orient")
_EDITS_ADAPTER: TypeAdapter[list[Edit]] = TypeAdapter(EditList)
_TYPE_NAMES = frozenset({"int", "float", "str", "bool", "none"})


@dataclass(frozen=True)
class EditResult:
    """The edited page: encoded bytes and the facts the buffer records about them (read back
    from the encoded header, so they are what any reader will see)."""

    data: bytes
    fmt: ImageFormat
    dpi: float
    width: int
    height: int
    report: dict[str, Any]
    mode: ColorMode
    bit_depth: int


def _result(data: bytes, fmt: ImageFormat, dpi: float, report: dict[str, Any]) -> EditResult:
    """Wrap encoded output; inspecting it also proves it is a page the buffer accepts."""
    facts = inspect(data, fmt)
    return EditResult(data, fmt, float(dpi), facts.width, facts.height, report, facts.mode,
                      facts.bit_depth)


def _loc(parts: Sequence[int | str]) -> str:
    text = "edits"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def parse_edits(raw: Any) -> list[Edit]:
    """Validate a JSON list of edits; InvalidSetting names the first bad field."""
    try:
        return _EDITS_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc: list[int | str] = []
        for part in first["loc"]:
            if isinstance(part, str) and part in OPS:
                continue  # the discriminator's tag, e.g. "rotate"
            if isinstance(part, str) and (not part.isidentifier() or part in _TYPE_NAMES):
                break  # a member of a plain union, e.g. "literal['white',...]" or "int"
            loc.append(part)
        detail: dict[str, Any] = {"field": _loc(loc)}
        if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
            detail["allowed"] = list(OPS)
        elif first["type"] == "too_long":
            detail["allowed"] = f"at most {MAX_EDITS} edits"
        elif "expected" in (first.get("ctx") or {}):
            detail["allowed"] = str(first["ctx"]["expected"])
        raise InvalidSetting(f"{detail['field']}: {first['msg']}", **detail) from exc


# --- running edits ---------------------------------------------------------------------------


@dataclass
class _State:
    image: Image.Image
    dpi: float


def _as_transform(edit: Edit) -> jpeg_lossless.Transform | None:
    """The exact transform an edit is, or None if it is not a quarter turn/flip/mirror."""
    if isinstance(edit, Flip):
        return jpeg_lossless.FLIP
    if isinstance(edit, Mirror):
        return jpeg_lossless.MIRROR
    if isinstance(edit, Rotate):
        turns = ops.quarter_turns(edit.angle)
        return None if turns is None else jpeg_lossless.rotation(turns)
    return None


def _step_rotate(state: _State, edit: Rotate) -> dict[str, Any]:
    state.image = ops.rotate(state.image, edit.angle, fill=edit.fill)
    return {"exact": ops.quarter_turns(edit.angle) is not None}


def _step_resize(state: _State, edit: Resize) -> dict[str, Any]:
    w, h = state.image.size
    if edit.width is not None and edit.height is not None:
        width, height = edit.width, edit.height
    elif edit.width is not None:
        width, height = edit.width, max(1, round(h * edit.width / w))
    else:
        height = edit.height or h
        width = max(1, round(w * height / h))
    state.image = ops.resize(state.image, width, height)
    state.dpi = round(state.dpi * width / w, 3)
    return {"width": width, "height": height, "dpi": state.dpi}


def _step_dpi(state: _State, edit: Dpi) -> dict[str, Any]:
    if edit.resample:
        state.image = ops.scale_to_dpi(state.image, state.dpi, edit.dpi)
    state.dpi = edit.dpi
    return {"resampled": edit.resample}


def _step_bw(state: _State, edit: BlackWhite) -> dict[str, Any]:
    info: dict[str, Any] = {"method": edit.method}
    if edit.method == "otsu":
        info["threshold"] = ops.otsu_threshold(state.image)
        state.image = ops.to_bw(state.image, "threshold", threshold=info["threshold"])
        return info
    block = edit.block_size or (max(3, round(state.dpi / 6)) | 1)
    state.image = ops.to_bw(state.image, edit.method, threshold=edit.threshold,
                            block_size=block, offset=edit.offset)
    if edit.method == "adaptive":
        info["block_size"] = block
    return info


def _step_despeckle(state: _State, edit: Despeckle) -> dict[str, Any]:
    # 0.25 mm by default, within ops.despeckle's bound at any page dpi (50000 dpi: 492 px).
    size = edit.size or min(MAX_SPECK, max(1, round(state.dpi * 0.25 / 25.4)))
    state.image = ops.despeckle(state.image, size)
    return {"size": size}


def _step_deskew(state: _State, edit: Deskew) -> dict[str, Any]:
    state.image, skew, corrected = deskew(state.image, max_angle=edit.max_angle, fill=edit.fill,
                                          min_confidence=edit.min_confidence)
    return {"angle": skew.angle, "confidence": skew.confidence, "corrected": corrected}


def _step_autocrop(state: _State, edit: AutoCrop) -> dict[str, Any]:
    state.image, box = ops.auto_crop(state.image, margin=edit.margin)
    return {"box": list(box) if box else None}


def _step_orient(state: _State, edit: Orient) -> dict[str, Any]:
    state.image, found, rotated = rotate_upright(state.image, state.dpi,
                                                 min_confidence=edit.min_confidence)
    return {"angle": found.angle, "confidence": found.confidence, "rotated": rotated}


def _step_crop(state: _State, edit: Crop) -> dict[str, Any]:
    state.image = ops.crop(state.image, edit.box)
    return {}


def _step_fill(state: _State, edit: FillRegion) -> dict[str, Any]:
    state.image = ops.fill_region(state.image, edit.box, edit.color)
    return {}


def _step_adjust(state: _State, edit: Adjust) -> dict[str, Any]:
    state.image = ops.adjust(state.image, edit.brightness, edit.contrast)
    return {}


def _simple(function: Callable[[Image.Image], Image.Image]) -> Callable[[_State, Any],
                                                                          dict[str, Any]]:
    def step(state: _State, _edit: Any) -> dict[str, Any]:
        state.image = function(state.image)
        return {}
    return step


_STEPS: dict[type[_Edit], Callable[[_State, Any], dict[str, Any]]] = {
    Rotate: _step_rotate,
    Flip: _simple(ops.flip),
    Mirror: _simple(ops.mirror),
    Crop: _step_crop,
    FillRegion: _step_fill,
    Resize: _step_resize,
    Dpi: _step_dpi,
    Gray: _simple(ops.to_grayscale),
    BlackWhite: _step_bw,
    Invert: _simple(ops.invert),
    Adjust: _step_adjust,
    Despeckle: _step_despeckle,
    Deskew: _step_deskew,
    AutoCrop: _step_autocrop,
    Orient: _step_orient,
}


def _run(state: _State, edits: Sequence[Edit]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for index, edit in enumerate(edits):
        try:
            info = _STEPS[type(edit)](state, edit)
        except InvalidSetting as exc:
            name = exc.detail.get("field")
            exc.detail["field"] = f"edits[{index}]" + (f".{name}" if name else "")
            raise
        steps.append({"op": edit.op, **info})
    return steps


# --- encoding --------------------------------------------------------------------------------


def _jpeg_options(source: bytes | None, quality: int | None) -> dict[str, Any]:
    """Encoder settings: ``quality`` if given, else the source JPEG's own tables."""
    if quality is not None:
        return {"quality": quality}
    if source is not None:
        try:
            with open_image(source, "jpeg") as original:
                tables = getattr(original, "quantization", None)
                sampling = JpegImagePlugin.get_sampling(original)
            if tables:
                options: dict[str, Any] = {"qtables": tables}
                if sampling != -1:
                    options["subsampling"] = sampling
                return options
        except ImageDecodeError:
            pass
    return {"quality": DEFAULT_QUALITY}


def _encode(image: Image.Image, fmt: ImageFormat, dpi: float,
            jpeg_options: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image = ops.to_8bit(image)  # JPEG has no 16-bit grey
        options = dict(jpeg_options)
        if image.mode != "RGB":
            options.pop("subsampling", None)
        image.save(buffer, format="JPEG", dpi=(dpi, dpi), optimize=True, **options)
    else:
        image.save(buffer, format="PNG", dpi=(dpi, dpi), compress_level=6)
    return with_dpi(buffer.getvalue(), fmt, dpi)


def _output_format(image: Image.Image, fmt: ImageFormat,
                   output: OutputFormat) -> tuple[ImageFormat, str]:
    if image.mode == "1":
        if output == "jpeg":
            raise InvalidSetting("a black-and-white result cannot be stored as JPEG",
                                 field="output", allowed=["auto", "png"])
        return "png", "black-and-white result: 1-bit PNG"
    if output != "auto":
        return output, f"{output} requested"
    if fmt == "jpeg":
        if image.mode == "I;16":
            return "png", "16-bit result: PNG"
        return "jpeg", "photographic result of a JPEG page: JPEG"
    return "png", "PNG page: PNG (no generation loss)"


def _check_decoded(image: Image.Image) -> Image.Image:
    normalized = ops.normalize_mode(image)
    if normalized is not image:
        image.close()
    return normalized


def apply_edits(data: bytes, fmt: ImageFormat, dpi: float, edits: Sequence[Edit] | Any, *,
                quality: int | None = None, output: OutputFormat = "auto") -> EditResult:
    """Run ``edits`` (models or their JSON form) in order on a page and encode the result.

    ``quality`` (1-95) is the JPEG quality when a JPEG is encoded (never for the lossless
    path); None keeps a JPEG source's own quantisation tables (else 90). See the module
    docstring for the output format rule.
    Raises InvalidSetting for bad edits or parameters, ImageDecodeError for bytes that are not
    an acceptable image of ``fmt``.
    """
    if quality is not None and not 1 <= quality <= 95:
        raise InvalidSetting("quality must be 1-95", field="quality", allowed="1-95")
    if output not in ("auto", "jpeg", "png"):
        raise InvalidSetting(f"unknown output {output!r}", field="output",
                             allowed=["auto", "jpeg", "png"])
    check_page_dpi(dpi)
    raw = ([e.model_dump() if isinstance(e, BaseModel) else e for e in edits]
           if isinstance(edits, list | tuple) else edits)
    parsed = parse_edits(raw)

    transforms = [_as_transform(e) for e in parsed]
    if fmt == "jpeg" and output != "png" and all(t is not None for t in transforms):
        return _lossless_jpeg(data, dpi, parsed,
                              jpeg_lossless.compose(*(t for t in transforms if t is not None)))

    with decoded(data, fmt) as image:  # holds the decoding budget until encoded
        state = _State(_check_decoded(image), float(dpi))
        steps = _run(state, parsed)
        out_fmt, reason = _output_format(state.image, fmt, output)
        encoded = _encode(state.image, out_fmt, state.dpi,
                          _jpeg_options(data if fmt == "jpeg" else None, quality))
        state.image.close()  # the result's pixels too, before the budget is released
    return _result(encoded, out_fmt, state.dpi,
                   {"steps": steps, "lossless": out_fmt == "png", "format_reason": reason})


def _lossless_jpeg(data: bytes, dpi: float, edits: Sequence[Edit],
                   transform: jpeg_lossless.Transform) -> EditResult:
    steps = [{"op": e.op, "exact": True} if isinstance(e, Rotate) else {"op": e.op}
             for e in edits]
    result, lossless = jpeg_lossless.transform_jpeg_or_reencode(data, transform)
    reason = ("quarter turns/flips of a JPEG: jpegtran, no re-encoding" if lossless else
              "JPEG size not a multiple of its block size: re-encoded once with its own tables")
    return _result(with_dpi(result, "jpeg", dpi), "jpeg", dpi,
                   {"steps": steps, "lossless": lossless, "format_reason": reason})
