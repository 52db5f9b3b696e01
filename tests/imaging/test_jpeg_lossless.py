"""Lossless JPEG turns with jpegtran: the group algebra, exactness, the fallback."""

from __future__ import annotations

import io
import itertools
import shutil

import numpy as np
import pytest
from PIL import Image

from scanlet.codecs.decode import ImageDecodeError
from scanlet.imaging import jpeg_lossless as jl
from tests.imaging.conftest import encode

pytestmark = pytest.mark.skipif(shutil.which("jpegtran") is None,
                                reason="jpegtran (libjpeg-turbo-progs) is not installed")

ELEMENTS = [jl.IDENTITY, jl.MIRROR, jl.FLIP, jl.ROTATE_CCW_90, jl.ROTATE_180, jl.ROTATE_CW_90,
            jl.TRANSPOSE, jl.TRANSVERSE]


@pytest.fixture(scope="module")
def page(text_scan: Image.Image) -> Image.Image:
    """A crop of a scanned page with a colour patch: 1008 x 752, a multiple of 16."""
    rgb = text_scan.convert("RGB").crop((200, 250, 1208, 1002))
    rgb.paste((200, 30, 30), (700, 500, 900, 650))
    return rgb


def decoded(data: bytes) -> np.ndarray:
    """The decoded samples, colour JPEGs as YCbCr (no colour conversion to round twice)."""
    with Image.open(io.BytesIO(data)) as image:
        if image.mode == "RGB":
            image.draft("YCbCr", image.size)
        return np.asarray(image)


def test_compose_matches_pillow_for_every_pair() -> None:
    image = Image.fromarray(np.arange(35, dtype=np.uint8).reshape(5, 7))
    for first, second in itertools.product(ELEMENTS, ELEMENTS):
        step_by_step = jl.pil_transpose(jl.pil_transpose(image, first), second)
        at_once = jl.pil_transpose(image, jl.compose(first, second))
        assert np.array_equal(np.asarray(step_by_step), np.asarray(at_once))
    assert jl.compose(*[jl.rotation(1)] * 4) == jl.IDENTITY
    assert jl.rotation(1) == jl.ROTATE_CCW_90
    assert np.array_equal(np.asarray(jl.pil_transpose(image, jl.ROTATE_CCW_90)),
                          np.rot90(np.asarray(image)))


@pytest.mark.parametrize("subsampling", [0, 2])
def test_four_quarter_turns_give_back_the_same_coefficients(page: Image.Image,
                                                            subsampling: int) -> None:
    original = encode(page, "jpeg", quality=85, subsampling=subsampling)
    data = original
    for _ in range(4):
        data = jl.transform_jpeg(data, jl.ROTATE_CCW_90)
    # Re-encoding four times would drift; block moves come back exactly.
    assert np.array_equal(decoded(data), decoded(original))


@pytest.mark.parametrize("transform", ELEMENTS[1:])
def test_each_transform_matches_the_decoded_turn(page: Image.Image,
                                                 transform: jl.Transform) -> None:
    # 4:4:4, so the decoder's chroma upsampling (not mirror-symmetric) plays no part.
    original = encode(page, "jpeg", quality=85, subsampling=0)
    turned = jl.transform_jpeg(original, transform)
    samples = Image.fromarray(decoded(original), "YCbCr")
    expected = np.asarray(jl.pil_transpose(samples, transform)).astype(int)
    got = decoded(turned).astype(int)
    assert got.shape == expected.shape
    # The coefficients are the same; only the decoder's rounding differs (by at most 1).
    assert np.abs(got - expected).max() <= 1
    assert np.mean(got != expected) < 0.01


def test_grayscale_jpeg(page: Image.Image) -> None:
    original = encode(page.convert("L"), "jpeg", quality=75)
    turned, lossless = jl.transform_jpeg_or_reencode(original, jl.ROTATE_180)
    assert lossless
    back = jl.transform_jpeg(turned, jl.ROTATE_180)
    assert np.array_equal(decoded(back), decoded(original))


def test_partial_blocks_are_not_perfect_and_fall_back(page: Image.Image) -> None:
    odd = encode(page.crop((0, 0, 1003, 749)), "jpeg", quality=85)
    with pytest.raises(jl.NotPerfect):
        jl.transform_jpeg(odd, jl.ROTATE_180)
    data, lossless = jl.transform_jpeg_or_reencode(odd, jl.ROTATE_180)
    assert not lossless
    expected = np.rot90(decoded(odd), 2).astype(int)
    got = decoded(data).astype(int)
    assert got.shape == expected.shape
    assert np.abs(got - expected).mean() < 2.0  # one generation at the source's quality
    with Image.open(io.BytesIO(data)) as reencoded, \
            Image.open(io.BytesIO(odd)) as source:
        assert reencoded.quantization == source.quantization  # type: ignore[attr-defined]


def test_identity_returns_the_bytes(page: Image.Image) -> None:
    original = encode(page, "jpeg")
    assert jl.transform_jpeg(original, jl.IDENTITY) is original


def test_non_jpeg_bytes_are_refused(page: Image.Image) -> None:
    with pytest.raises(ImageDecodeError):
        jl.transform_jpeg(encode(page, "png"), jl.ROTATE_180)
    with pytest.raises(ImageDecodeError):
        jl.transform_jpeg(b"\xff\xd8\xff\xe0 not really", jl.ROTATE_180)
