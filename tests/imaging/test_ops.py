"""Pure image operations: exactness of geometry (pixel for pixel), tone operations against
numpy/OpenCV references, cleanup and border detection on scanned pages."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from scanlet.codecs.decode import max_pixels
from scanlet.errors import InvalidSetting
from scanlet.imaging import ops
from tests.imaging.conftest import Scanner
from tests.imaging.pages import text_page


def sample(mode: str, size: tuple[int, int] = (37, 23), seed: int = 1) -> Image.Image:
    """A random image of ``mode`` with an odd, non-square size (so turns are visible)."""
    rng = np.random.default_rng(seed)
    w, h = size
    if mode == "1":
        return Image.fromarray(rng.random((h, w)) > 0.5)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))


def arr(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


@pytest.mark.parametrize("mode", ops.MODES)
def test_quarter_turns_are_exact(mode: str) -> None:
    image = sample(mode)
    assert image.mode == mode
    turned = image
    for k in range(1, 5):
        turned = ops.rotate(turned, 90)
        assert turned.mode == mode
        assert np.array_equal(arr(turned), np.rot90(arr(image), k))  # counter-clockwise
    assert np.array_equal(arr(ops.rotate(image, -90)), np.rot90(arr(image), -1))
    assert np.array_equal(arr(ops.rotate(image, 180)), np.rot90(arr(image), 2))
    assert np.array_equal(arr(ops.rotate(image, 450)), np.rot90(arr(image), 1))


@pytest.mark.parametrize("mode", ops.MODES)
def test_flip_mirror_crop_fill_are_exact(mode: str) -> None:
    image = sample(mode)
    assert np.array_equal(arr(ops.flip(image)), arr(image)[::-1])
    assert np.array_equal(arr(ops.mirror(image)), arr(image)[:, ::-1])
    assert np.array_equal(arr(ops.crop(image, (3, 2, 20, 11))), arr(image)[2:11, 3:20])
    filled = arr(ops.fill_region(image, (5, 4, 9, 8), "black"))
    assert not filled[4:8, 5:9].any()
    outside = np.ones(filled.shape[:2], bool)
    outside[4:8, 5:9] = False
    assert np.array_equal(filled[outside], arr(image)[outside])


def test_fill_colours_per_mode() -> None:
    assert ops.fill_value(sample("RGB"), (10, 20, 30)) == (10, 20, 30)
    assert ops.fill_value(sample("L"), (255, 0, 0)) == 76  # luma of pure red
    assert ops.fill_value(sample("1"), "white") == 1
    assert ops.fill_value(sample("I;16"), 255) == 65535
    paper = Image.new("L", (50, 50), 231)
    ImageDraw.Draw(paper).text((5, 5), "ab", fill=0)
    assert ops.fill_value(paper, "auto") == 231


@pytest.mark.parametrize("box", [(0, 0, 38, 10), (5, 5, 5, 10), (-1, 0, 4, 4), (0, 10, 4, 9)])
def test_boxes_outside_or_empty_are_refused(box: tuple[int, int, int, int]) -> None:
    with pytest.raises(InvalidSetting) as info:
        ops.crop(sample("L"), box)
    assert info.value.detail["field"] == "box"
    assert "37" in info.value.detail["allowed"]


def test_any_angle_rotation_grows_and_fills() -> None:
    image = Image.new("RGB", (200, 100), (0, 0, 255))
    out = ops.rotate(image, 30, fill=(255, 0, 0))
    cos, sin = np.cos(np.radians(30)), np.sin(np.radians(30))
    assert out.size == (round(200 * cos + 100 * sin), round(200 * sin + 100 * cos))
    assert out.getpixel((0, 0)) == (255, 0, 0)  # a corner outside the original
    assert out.getpixel((out.width // 2, out.height // 2)) == (0, 0, 255)
    same = ops.rotate(image, 30, expand=False)
    assert same.size == image.size


def test_any_angle_rotation_direction() -> None:
    """Positive angles turn counter-clockwise: a mark right of centre moves up."""
    image = Image.new("L", (201, 201), 255)
    ImageDraw.Draw(image).rectangle((170, 95, 180, 105), fill=0)
    out = np.asarray(ops.rotate(image, 45, expand=False))
    ys, xs = np.nonzero(out < 128)
    assert ys.mean() < 80 and xs.mean() > 150


def test_bilevel_stays_bilevel_through_resampling() -> None:
    image = sample("1", (64, 48))
    for out in (ops.rotate(image, 10), ops.resize(image, 32, 24), ops.scale_to_dpi(image, 300,
                                                                                  150)):
        assert out.mode == "1"
    assert ops.scale_to_dpi(image, 300, 150).size == (32, 24)


def test_results_over_the_pixel_cap_are_refused() -> None:
    with pytest.raises(InvalidSetting):
        ops.resize(sample("L"), 100_000, 100_000)
    side = int(max_pixels() ** 0.5)
    assert side * side <= max_pixels()


def test_resize_averages_when_shrinking() -> None:
    stripes = np.zeros((10, 10), np.uint8)
    stripes[:, ::2] = 255
    out = arr(ops.resize(Image.fromarray(stripes), 5, 5))
    assert np.all(np.abs(out.astype(int) - 128) <= 1)  # area average, no aliasing


def test_grayscale_and_invert() -> None:
    rgb = sample("RGB")
    gray = ops.to_grayscale(rgb)
    assert gray.mode == "L"
    expected = np.asarray(rgb.convert("L"))
    assert np.array_equal(arr(gray), expected)
    for mode in ops.MODES:
        image = sample(mode)
        inverted = ops.invert(image)
        assert np.array_equal(arr(ops.invert(inverted)), arr(image))
    assert np.array_equal(arr(ops.invert(sample("L"))), 255 - arr(sample("L")))
    assert np.array_equal(arr(ops.invert(sample("1"))), ~arr(sample("1")))
    assert np.array_equal(arr(ops.invert(sample("I;16"))), 65535 - arr(sample("I;16")))


def test_fixed_threshold_matches_numpy() -> None:
    image = sample("L")
    out = ops.to_bw(image, "threshold", threshold=100)
    assert out.mode == "1"
    assert np.array_equal(arr(out), arr(image) >= 100)


def test_otsu_matches_opencv_and_separates_two_tones() -> None:
    rng = np.random.default_rng(3)
    two = np.where(rng.random((60, 60)) > 0.7, 40, 210).astype(np.uint8)
    noisy = np.clip(two + rng.normal(0, 8, two.shape), 0, 255).astype(np.uint8)
    threshold = ops.otsu_threshold(Image.fromarray(noisy))
    reference, _ = cv2.threshold(noisy, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    assert threshold == int(reference) + 1
    assert 60 < threshold < 190
    out = arr(ops.to_bw(Image.fromarray(noisy), "otsu"))
    assert np.array_equal(out, two > 128)


def test_adaptive_threshold_survives_a_shadow(scan: Scanner) -> None:
    """A shadow darker than the text's paper defeats one global threshold, not a local one."""
    page = np.asarray(text_page(lines=12, seed=3), dtype=np.float32)
    shade = np.linspace(0, 150, page.shape[1], dtype=np.float32)[None, :]
    shadowed = Image.fromarray(np.clip(page - shade * (page > 128), 0, 255).astype(np.uint8))
    scanned = scan(shadowed)
    truth = arr(text_page(lines=12, seed=3)) >= 128
    for method, limit in (("otsu", None), ("adaptive", 0.005)):
        out = arr(ops.to_bw(scanned, method, block_size=51, offset=10))  # type: ignore[arg-type]
        errors = float(np.mean(out != truth))
        if limit is None:
            assert errors > 0.02  # the global threshold blackens the shadowed side
        else:
            assert errors < limit
    with pytest.raises(InvalidSetting):
        ops.to_bw(scanned, "adaptive", block_size=50)


def test_adjust_brightness_and_contrast() -> None:
    ramp = Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (4, 1)))
    assert np.array_equal(arr(ops.adjust(ramp)), arr(ramp))
    brighter = arr(ops.adjust(ramp, brightness=20)).astype(int)
    assert np.all(brighter[:, :200] == arr(ramp)[:, :200].astype(int) + 51)
    flat = arr(ops.adjust(ramp, contrast=-100))
    assert np.all(np.abs(flat.astype(int) - 128) <= 1)
    hard = arr(ops.adjust(ramp, contrast=100))
    assert set(np.unique(hard)) == {0, 255}
    assert np.std(arr(ops.adjust(ramp, contrast=40))) > np.std(arr(ramp))
    with pytest.raises(InvalidSetting):
        ops.adjust(ramp, brightness=101)


def test_despeckle_removes_dust_and_keeps_text(scan: Scanner) -> None:
    clean = text_page(lines=10, seed=5)
    dusty = clean.copy()
    rng = np.random.default_rng(9)
    spots = [(int(x), int(y)) for x, y in zip(rng.integers(100, 2300, 300),
                                               rng.integers(1200, 3300, 300), strict=True)]
    draw = ImageDraw.Draw(dusty)
    for x, y in spots:
        draw.rectangle((x, y, x + 1, y + 1), fill=0)  # 2x2 px specks below the text
    scanned = scan(dusty)
    for image in (scanned, scanned.convert("RGB"), ops.to_bw(scanned, "otsu")):
        out = ops.despeckle(image, 3)
        assert out.mode == image.mode
        gray = ops.gray_array(out)
        assert all(gray[y:y + 2, x:x + 2].min() > 128 for x, y in spots)
        text = arr(clean) < 128
        assert np.array_equal(gray[text] < 128, ops.gray_array(image)[text] < 128)


def test_auto_crop_finds_the_page_on_a_dark_background(scan: Scanner) -> None:
    page = text_page(lines=20, seed=2).resize((2000, 2800))
    for position in ((301, 403), (0, 0)):  # anywhere, or pushed into the glass's corner
        glass = Image.new("L", (2550, 3508), 25)
        glass.paste(page, position)
        cropped, found = ops.auto_crop(scan(glass))
        x, y = position
        assert found == (x, y, x + 2000, y + 2800)
        assert np.array_equal(arr(cropped), arr(page))
    _, inner = ops.auto_crop(glass, margin=10)
    assert inner == (10, 10, 1990, 2790)


def test_auto_crop_leaves_a_full_page_alone(text_scan: Image.Image) -> None:
    out, box = ops.auto_crop(text_scan)
    assert box is None
    assert np.array_equal(arr(out), arr(text_scan))


def test_normalize_mode_flattens_alpha_and_palette() -> None:
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert ops.normalize_mode(rgba).mode == "RGB"
    assert ops.normalize_mode(rgba).getpixel((0, 0)) == (255, 255, 255)
    assert ops.normalize_mode(Image.new("P", (4, 4))).mode == "RGB"
    assert ops.normalize_mode(Image.new("LA", (4, 4), (0, 255))).mode == "L"
    sixteen = sample("I;16")
    assert ops.normalize_mode(sixteen) is sixteen
    eight = ops.to_8bit(sixteen)
    assert eight.mode == "L"
    assert np.array_equal(arr(eight), ((arr(sixteen).astype(int) + 128) // 257).astype(np.uint8))
