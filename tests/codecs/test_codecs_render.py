"""Fitting arithmetic and bit-depth conversion for renditions."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from scanlet.codecs.render import fit_within, render, to_8bit
from tests.buffer.testdata import decoded, make_jpeg


@pytest.mark.parametrize(("size", "box", "expected"), [
    ((2480, 3507), (585, 513), (363, 513)),
    ((2480, 3507), (None, None), (2480, 3507)),
    ((2480, 3507), (5000, None), (2480, 3507)),
    ((100, 1), (10, 10), (10, 1)),
    ((1, 1000), (10, 10), (1, 10)),
    ((3000, 2), (10, 10), (10, 1)),  # never 0 pixels
])
def test_fit_within(size: tuple[int, int], box: tuple[int | None, int | None],
                    expected: tuple[int, int]) -> None:
    assert fit_within(*size, *box) == expected


def test_to_8bit_keeps_the_high_byte() -> None:
    values = np.array([[0, 255, 256, 65535]], dtype=np.uint16)
    image = to_8bit(Image.fromarray(values))
    assert image.mode == "L"
    assert np.asarray(image).tolist() == [[0, 0, 1, 255]]


def test_render_records_scaled_dpi() -> None:
    data = render(make_jpeg(400, 200), "jpeg", (100, 50), "png", dpi=75)
    image = decoded(data)
    assert image.size == (100, 50) and image.info["dpi"] == pytest.approx((75, 75), abs=0.02)
