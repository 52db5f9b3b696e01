"""Blank-page detection on scanned pages: 20 near-blank sheets against 20 sheets with a few
lines of text, separated without error at the default sensitivity."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from scanlet.errors import InvalidSetting
from scanlet.imaging.blank import (
    DEFAULT_SENSITIVITY,
    blank_score,
    check_page,
    is_blank,
    threshold_for,
)
from tests.imaging.conftest import BLANK_SET_SIZE, Scanned, Scanner, encode
from tests.imaging.pages import font, near_blank_page


def test_default_setting_separates_blank_from_sparse_text(
        blank_pages: list[Scanned], sparse_pages: list[Scanned]) -> None:
    assert len(blank_pages) == len(sparse_pages) == BLANK_SET_SIZE
    assert {dpi for _, dpi in blank_pages} == {dpi for _, dpi in sparse_pages} == {150, 300}
    blank = [is_blank(page, dpi) for page, dpi in blank_pages]
    text = [is_blank(page, dpi) for page, dpi in sparse_pages]
    wrong = [i for i, r in enumerate(blank) if not r.blank]
    wrong += [BLANK_SET_SIZE + i for i, r in enumerate(text) if r.blank]
    assert wrong == [], ([r.score for r in blank], [r.score for r in text])
    # Not a lucky split: the default threshold has room on both sides.
    threshold = threshold_for(DEFAULT_SENSITIVITY)
    assert max(r.score for r in blank) < threshold / 3
    assert min(r.score for r in text) > threshold * 3


def test_defects_are_discarded_not_ignored(blank_pages: list[Scanned]) -> None:
    """The blank set really has specks and holes, and the score reports them as removed."""
    details = [blank_score(page, dpi) for page, dpi in blank_pages]
    assert all(d.specks > 0 for d in details)
    assert sum(d.holes for d in details) > 0


def test_sensitivity_moves_the_decision(sparse_pages: list[Scanned]) -> None:
    page, dpi = sparse_pages[0]
    score = blank_score(page, dpi).score
    assert not is_blank(page, dpi).blank
    for sensitivity in (0, 60, 75, 90, 100):
        expected = score < threshold_for(sensitivity)
        assert is_blank(page, dpi, sensitivity=sensitivity).blank is expected
    assert is_blank(page, dpi, sensitivity=100).blank  # 3 %: a few lines are "blank" there
    thresholds = [threshold_for(s) for s in (0, 25, 50, 75, 100)]
    assert thresholds == sorted(thresholds)
    assert threshold_for(50) == pytest.approx(0.03)
    assert threshold_for(75) == pytest.approx(0.3)
    with pytest.raises(InvalidSetting) as info:
        is_blank(page, dpi, sensitivity=101)
    assert info.value.detail["field"] == "sensitivity"


def test_solid_content_counts(scan: Scanner) -> None:
    """A filled box (wider than a text stroke) and a photo are content."""
    base = near_blank_page(4, 150)
    box = base.copy()
    ImageDraw.Draw(box).rectangle((500, 750, 735, 925), fill=30)
    rng = np.random.default_rng(5)
    photo = np.asarray(base).copy()
    small = Image.fromarray(rng.integers(40, 200, (30, 40), dtype=np.uint8))
    photo[700:1000, 400:800] = np.asarray(small.resize((400, 300), Image.Resampling.BICUBIC))
    for image in (box, Image.fromarray(photo)):
        result = is_blank(scan(image, dpi=150), 150)
        assert not result.blank
        assert result.score > 1.0


def test_same_page_scores_alike_at_150_and_300_dpi(scan: Scanner) -> None:
    text = near_blank_page(6)
    draw = ImageDraw.Draw(text)
    draw.text((300, 1200), "Two short lines of text on a page,", fill=0, font=font(42))
    draw.text((300, 1300), "enough to be kept at any resolution.", fill=0, font=font(42))
    full = blank_score(scan(text), 300)
    half = blank_score(scan(text.resize((1240, 1754), Image.Resampling.BOX), dpi=150), 150)
    assert half.score == pytest.approx(full.score, rel=0.35)
    assert full.score > threshold_for(DEFAULT_SENSITIVITY)
    assert blank_score(text, 300) == blank_score(text.copy(), 300)  # deterministic


def test_check_page_on_encoded_bytes(blank_pages: list[Scanned],
                                     sparse_pages: list[Scanned]) -> None:
    """JPEG pages (judged at a reduced decode scale) and PNG pages get the pixels' answer."""
    for (page, dpi), expected in ((blank_pages[0], True), (sparse_pages[0], False),
                                  (blank_pages[1], True), (sparse_pages[1], False)):
        jpeg = encode(page.convert("RGB"), "jpeg", quality=80)
        png = encode(page, "png")
        for data, fmt in ((jpeg, "jpeg"), (png, "png")):
            result = check_page(data, fmt, dpi)  # type: ignore[arg-type]
            assert result.blank is expected, (fmt, dpi, result)
            assert result.score == pytest.approx(blank_score(page, dpi).score, abs=0.05)


def test_bilevel_and_colour_pages(sparse_pages: list[Scanned],
                                  blank_pages: list[Scanned]) -> None:
    text, dpi = sparse_pages[2]
    assert not is_blank(text.convert("RGB"), dpi).blank
    assert not is_blank(text.point(lambda v: 255 if v > 128 else 0).convert("1"), dpi).blank
    page, dpi = blank_pages[2]
    assert is_blank(page.convert("RGB"), dpi).blank


def test_bad_dpi_is_refused() -> None:
    with pytest.raises(InvalidSetting):
        blank_score(Image.new("L", (100, 100), 255), dpi=0)


@pytest.mark.parametrize(("size", "dpi"), [((1, 4000), 300), ((4000, 1), 300),
                                           ((3, 4000), 600), ((4000, 3), 600), ((1, 1), 4800)])
def test_strip_jpegs_are_refused_not_crashed(size: tuple[int, int], dpi: int) -> None:
    """A JPEG narrower or lower than the reduced-decode factor used to ask Pillow's ``draft``
    for a 0 px side (ZeroDivisionError, a 500 in the API); it is a page too small to judge."""
    data = encode(Image.new("L", size, 255), "jpeg")
    with pytest.raises(InvalidSetting, match="too small"):
        check_page(data, "jpeg", dpi)


def test_narrow_jpeg_is_judged_at_reduced_scale() -> None:
    """A strip wide enough to judge after the reduced decode still gets an answer."""
    page = Image.new("L", (64, 4000), 255)
    ImageDraw.Draw(page).rectangle((20, 1000, 44, 3000), fill=0)
    result = check_page(encode(page, "jpeg"), "jpeg", 600)
    assert not result.blank
    assert check_page(encode(Image.new("L", (64, 4000), 255), "jpeg"), "jpeg", 600).blank


def test_dark_paper_light_marks_count_and_an_even_page_is_blank(
        sparse_pages: list[Scanned], blank_pages: list[Scanned]) -> None:
    """Content is what differs from the paper, whatever the paper's colour: a sheet of one even
    colour (the SANE test backend's black frame) is blank, light text on dark paper is not."""
    for level in (0, 40, 128, 255):
        assert is_blank(Image.new("L", (1240, 1754), level), 150).blank, level
    assert is_blank(Image.new("RGB", (1240, 1754), (0, 0, 0)), 150).blank
    text, dpi = sparse_pages[3]
    inverted = Image.fromarray(255 - np.asarray(text))
    assert not is_blank(inverted, dpi).blank
    assert blank_score(inverted, dpi).score == pytest.approx(blank_score(text, dpi).score,
                                                             rel=0.5)
    page, dpi = blank_pages[3]
    assert is_blank(Image.fromarray(255 - np.asarray(page)), dpi).blank
