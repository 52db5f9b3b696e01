"""Edits as the API sends them: validation, the output-format rule, lossless JPEG turns,
resolution bookkeeping and the report."""

from __future__ import annotations

import io
import shutil
import typing

import numpy as np
import pytest
from PIL import Image

from scanlet.codecs.decode import ImageDecodeError, inspect
from scanlet.errors import InvalidSetting
from scanlet.imaging import edits as E
from scanlet.imaging import jpeg_lossless as jl
from scanlet.imaging.edits import apply_edits, parse_edits
from scanlet.models import ColorMode
from tests.imaging.conftest import encode

needs_jpegtran = pytest.mark.skipif(shutil.which("jpegtran") is None,
                                    reason="jpegtran (libjpeg-turbo-progs) is not installed")


@pytest.fixture(scope="module")
def photo(text_scan: Image.Image) -> Image.Image:
    """A colour crop of a scanned page, 1008 x 752 (a multiple of the JPEG block size)."""
    rgb = text_scan.convert("RGB").crop((200, 250, 1208, 1002))
    rgb.paste((30, 90, 200), (600, 400, 900, 700))
    return rgb


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


def dpi_of(data: bytes, fmt: str) -> float:
    facts = inspect(data, fmt)  # type: ignore[arg-type]
    assert facts.dpi is not None
    return facts.dpi


# --- validation ------------------------------------------------------------------------------


def test_docstring_examples_parse_and_ops_are_complete() -> None:
    examples = [
        {"op": "rotate", "angle": 90}, {"op": "flip"}, {"op": "mirror"},
        {"op": "crop", "box": [1, 2, 30, 40]},
        {"op": "fill", "box": [1, 2, 30, 40], "color": "white"},
        {"op": "resize", "width": 1240}, {"op": "dpi", "dpi": 200, "resample": True},
        {"op": "gray"}, {"op": "bw", "method": "otsu"}, {"op": "invert"},
        {"op": "adjust", "brightness": 10, "contrast": 20}, {"op": "despeckle", "size": 3},
        {"op": "deskew"}, {"op": "autocrop"}, {"op": "orient"},
    ]
    parsed = parse_edits(examples)
    assert [e.op for e in parsed] == list(E.OPS)
    union = typing.get_args(typing.get_args(E.Edit)[0])
    assert {typing.get_args(m.model_fields["op"].annotation)[0] for m in union} == set(E.OPS)
    fill = parse_edits([{"op": "fill", "box": [0, 0, 1, 1], "color": [1, 2, 3]}])[0]
    assert isinstance(fill, E.FillRegion) and fill.color == (1, 2, 3)


@pytest.mark.parametrize(("raw", "field"), [
    ([{"op": "sharpen"}], "edits[0]"),
    ([{"angle": 90}], "edits[0]"),
    ([{"op": "flip"}, {"op": "rotate", "angle": 400}], "edits[1].angle"),
    ([{"op": "rotate", "angle": 90, "extra": 1}], "edits[0].extra"),
    ([{"op": "crop", "box": [10, 10, 5, 20]}], "edits[0]"),
    ([{"op": "crop", "box": [0, 0, 5]}], "edits[0].box[3]"),
    ([{"op": "bw", "method": "magic"}], "edits[0].method"),
    ([{"op": "bw", "method": "adaptive", "block_size": 50}], "edits[0]"),
    ([{"op": "resize"}], "edits[0]"),
    ([{"op": "adjust", "contrast": 300}], "edits[0].contrast"),
    ([{"op": "fill", "box": [0, 0, 1, 1], "color": 256}], "edits[0].color"),
    ([{"op": "invert"}] * (E.MAX_EDITS + 1), "edits"),
    ({"op": "flip"}, "edits"),
])
def test_bad_edits_name_the_field(raw: object, field: str) -> None:
    with pytest.raises(InvalidSetting) as info:
        parse_edits(raw)
    assert info.value.detail["field"] == field
    assert info.value.code == "invalid_setting"


def test_unknown_op_lists_the_allowed_ones() -> None:
    with pytest.raises(InvalidSetting) as info:
        parse_edits([{"op": "sharpen"}])
    assert info.value.detail["allowed"] == list(E.OPS)


def test_box_is_checked_against_the_image_when_the_edit_runs(photo: Image.Image) -> None:
    data = encode(photo, "png")
    box = [0, 0, 1000, 700]  # fits the landscape page, not after a quarter turn
    assert apply_edits(data, "png", 300, [{"op": "crop", "box": box}]).width == 1000
    with pytest.raises(InvalidSetting) as info:
        apply_edits(data, "png", 300, [{"op": "rotate", "angle": 90}, {"op": "crop",
                                                                        "box": box}])
    assert info.value.detail["field"] == "edits[1].box"


def test_bad_arguments(photo: Image.Image) -> None:
    data = encode(photo, "png")
    for kwargs in ({"quality": 0}, {"quality": 100}, {"output": "gif"}):
        with pytest.raises(InvalidSetting):
            apply_edits(data, "png", 300, [], **kwargs)
    with pytest.raises(InvalidSetting):
        apply_edits(data, "png", 0, [])
    with pytest.raises(ImageDecodeError):
        apply_edits(data, "jpeg", 300, [{"op": "invert"}])


# --- output format ---------------------------------------------------------------------------


@needs_jpegtran
def test_jpeg_turns_are_lossless_and_combined(photo: Image.Image) -> None:
    source = encode(photo, "jpeg", quality=80)
    result = apply_edits(source, "jpeg", 300, [{"op": "rotate", "angle": 90},
                                               {"op": "mirror"}, {"op": "rotate", "angle": 180}])
    assert result.report["lossless"] is True
    assert (result.fmt, result.mode, result.bit_depth) == ("jpeg", ColorMode.COLOR, 8)
    assert (result.width, result.height) == (752, 1008)
    combined = jl.compose(jl.ROTATE_CCW_90, jl.MIRROR, jl.ROTATE_180)
    assert np.array_equal(pixels(result.data), pixels(jl.transform_jpeg(source, combined)))
    expected = np.rot90(np.rot90(pixels(source))[:, ::-1], 2).astype(int)
    assert np.abs(pixels(result.data).astype(int) - expected).mean() < 0.5
    assert dpi_of(result.data, "jpeg") == 300
    assert [s["op"] for s in result.report["steps"]] == ["rotate", "mirror", "rotate"]


@needs_jpegtran
def test_jpeg_turn_of_odd_size_is_reencoded_and_says_so(photo: Image.Image) -> None:
    source = encode(photo.crop((0, 0, 1001, 750)), "jpeg", quality=80)
    result = apply_edits(source, "jpeg", 300, [{"op": "rotate", "angle": 90}])
    assert result.report["lossless"] is False
    assert (result.width, result.height) == (750, 1001)
    expected = np.rot90(pixels(source)).astype(int)
    assert np.abs(pixels(result.data).astype(int) - expected).mean() < 2


def test_no_edits_passes_jpeg_bytes_through(photo: Image.Image) -> None:
    source = encode(photo, "jpeg", quality=80, dpi=(300, 300))
    result = apply_edits(source, "jpeg", 300, [])
    assert result.data == source and result.report["lossless"] is True
    relabelled = apply_edits(source, "jpeg", 200, [])
    assert dpi_of(relabelled.data, "jpeg") == 200
    assert np.array_equal(pixels(relabelled.data), pixels(source))


def test_bilevel_results_are_1bit_png(photo: Image.Image) -> None:
    for fmt in ("jpeg", "png"):
        source = encode(photo, fmt)
        for method in ("threshold", "otsu", "adaptive"):
            result = apply_edits(source, fmt, 300, [{"op": "bw", "method": method}])
            assert result.fmt == "png"
            facts = inspect(result.data, "png")
            assert (facts.pil_mode, facts.bit_depth) == ("1", 1)
            assert (result.mode, result.bit_depth) == (ColorMode.BW, 1)
            assert result.data[24] == 1  # IHDR bit depth
    with pytest.raises(InvalidSetting) as info:
        apply_edits(encode(photo, "png"), "png", 300, [{"op": "bw"}], output="jpeg")
    assert info.value.detail["field"] == "output"


def test_otsu_report_and_result(photo: Image.Image) -> None:
    result = apply_edits(encode(photo, "png"), "png", 300, [{"op": "bw", "method": "otsu"}])
    threshold = result.report["steps"][0]["threshold"]
    gray = np.asarray(photo.convert("L"))
    assert np.array_equal(pixels(result.data), gray >= threshold)


def test_photographic_results_keep_their_format(photo: Image.Image) -> None:
    jpeg = encode(photo, "jpeg", quality=60)
    png = encode(photo, "png")
    edit = [{"op": "adjust", "brightness": 10}]
    from_jpeg = apply_edits(jpeg, "jpeg", 300, edit)
    assert from_jpeg.fmt == "jpeg" and from_jpeg.report["lossless"] is False
    with Image.open(io.BytesIO(from_jpeg.data)) as a, Image.open(io.BytesIO(jpeg)) as b:
        assert a.quantization == b.quantization  # type: ignore[attr-defined]
    from_png = apply_edits(png, "png", 300, edit)
    assert from_png.fmt == "png" and from_png.report["lossless"] is True
    expected = np.asarray(photo).astype(int) + 26
    assert np.array_equal(pixels(from_png.data), np.clip(expected, 0, 255))
    small = apply_edits(png, "png", 300, edit, output="jpeg", quality=30)
    large = apply_edits(png, "png", 300, edit, output="jpeg", quality=95)
    assert small.fmt == large.fmt == "jpeg"
    assert len(small.data) < len(large.data) / 2


def test_png_turns_are_exact(photo: Image.Image) -> None:
    result = apply_edits(encode(photo, "png"), "png", 300, [{"op": "rotate", "angle": -90},
                                                             {"op": "flip"}])
    assert np.array_equal(pixels(result.data), np.rot90(np.asarray(photo), -1)[::-1])


def test_sixteen_bit_gray_stays_sixteen_bit_for_exact_edits() -> None:
    rng = np.random.default_rng(0)
    deep = Image.fromarray(rng.integers(0, 65536, (40, 60), dtype=np.uint16))
    data = encode(deep, "png")
    turned = apply_edits(data, "png", 300, [{"op": "rotate", "angle": 90}, {"op": "crop",
                                                                            "box": [0, 0, 20,
                                                                                    30]}])
    assert inspect(turned.data, "png").bit_depth == 16
    assert (turned.mode, turned.bit_depth) == (ColorMode.GRAY, 16)
    assert np.array_equal(pixels(turned.data), np.rot90(np.asarray(deep))[:30, :20])
    adjusted = apply_edits(data, "png", 300, [{"op": "adjust", "contrast": 10}])
    assert inspect(adjusted.data, "png").bit_depth == 8
    as_jpeg = apply_edits(data, "png", 300, [{"op": "flip"}], output="jpeg")
    assert (as_jpeg.fmt, as_jpeg.mode, as_jpeg.bit_depth) == ("jpeg", ColorMode.GRAY, 8)


# --- resolution ------------------------------------------------------------------------------


def test_resize_keeps_the_physical_size(photo: Image.Image) -> None:
    result = apply_edits(encode(photo, "png"), "png", 300, [{"op": "resize", "width": 504}])
    assert (result.width, result.height) == (504, 376)
    assert result.dpi == 150
    assert dpi_of(result.data, "png") == 150


def test_dpi_with_and_without_resampling(photo: Image.Image) -> None:
    data = encode(photo, "png")
    relabel = apply_edits(data, "png", 300, [{"op": "dpi", "dpi": 600, "resample": False}])
    assert (relabel.width, relabel.height, relabel.dpi) == (1008, 752, 600)
    assert np.array_equal(pixels(relabel.data), np.asarray(photo))
    resampled = apply_edits(data, "png", 300, [{"op": "dpi", "dpi": 150}])
    assert (resampled.width, resampled.height, resampled.dpi) == (504, 376, 150)
    assert dpi_of(resampled.data, "png") == 150


# --- analysis edits --------------------------------------------------------------------------


def test_deskew_reports_the_angle(skewed_scans: dict[float, Image.Image]) -> None:
    source = encode(skewed_scans[-3.2], "png")
    result = apply_edits(source, "png", 300, [{"op": "deskew"}, {"op": "gray"}])
    step = result.report["steps"][0]
    assert step["op"] == "deskew" and step["corrected"] is True
    assert step["angle"] == pytest.approx(-3.2, abs=0.3)
    assert (result.width, result.height) == skewed_scans[-3.2].size


def test_fill_invert_despeckle_autocrop_steps(photo: Image.Image) -> None:
    result = apply_edits(encode(photo, "png"), "png", 300, [
        {"op": "fill", "box": [0, 0, 10, 10], "color": "black"},
        {"op": "invert"},
        {"op": "despeckle"},
        {"op": "autocrop"},
    ])
    out = pixels(result.data)
    assert np.all(out[:10, :10] == 255)  # black fill, then inverted
    steps = result.report["steps"]
    assert steps[2] == {"op": "despeckle", "size": 3}  # 0.25 mm at 300 dpi
    assert steps[3] == {"op": "autocrop", "box": None}


@pytest.mark.parametrize("dpi", [0.5, 9600.0, 50_000.0])
def test_every_dpi_a_page_can_have_is_editable(dpi: float) -> None:
    """A page keeps any dpi up to 100000 (what image files record); edits used to refuse
    anything outside 10-4800, so such a page could not even be given another dpi. The
    default despeckle size (0.25 mm) stays within its 100 px bound at any dpi."""
    page = encode(Image.new("L", (40, 30), 255), "png")
    for edit in ({"op": "rotate", "angle": 90}, {"op": "despeckle"},
                 {"op": "bw", "method": "adaptive"}, {"op": "dpi", "dpi": 300, "resample": False}):
        result = apply_edits(page, "png", dpi, [edit])
        assert result.dpi == (300 if edit["op"] == "dpi" else dpi), edit


@pytest.mark.parametrize("dpi", [0.0, -1.0, float("inf"), float("nan"), 100_001.0])
def test_a_dpi_no_page_can_have_is_refused(dpi: float) -> None:
    with pytest.raises(InvalidSetting, match="dpi must be a positive number"):
        apply_edits(encode(Image.new("L", (4, 4), 255), "png"), "png", dpi,
                    [{"op": "flip"}])
