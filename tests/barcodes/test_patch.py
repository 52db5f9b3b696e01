"""Kodak patch codes: each kind is drawn, scanned through the pnm backend and recognised; pages
without one (barcodes, text, blank) give none."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from scanlet.barcodes import PatchKind, draw_patch, find_patches, patch_sheet
from scanlet.barcodes.patch import parse_kind
from scanlet.errors import InvalidSetting
from tests.barcodes.conftest import Scanned, Scanner
from tests.barcodes.pages import A4_150, A4_300, placed, symbol, text_lines

#: Kodak A-61599: bar order from the leading edge (W = 0.20 in, N = 0.08 in, spaces 0.08 in).
KODAK = {"1": "WWNN", "2": "WNNW", "3": "WNWN", "4": "NWWN", "6": "NNWW", "T": "NWNW"}


def runs(profile: np.ndarray) -> list[tuple[bool, int]]:
    """(is_black, length) runs of a 1-D profile."""
    black = profile < 128
    edges = np.flatnonzero(np.diff(black.astype(np.int8))) + 1
    bounds = [0, *edges.tolist(), len(black)]
    return [(bool(black[a]), b - a) for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize("dpi", [150, 300, 600])
@pytest.mark.parametrize("kind", list(KODAK))
def test_drawn_patch_has_kodak_geometry(kind: str, dpi: int) -> None:
    image = draw_patch(kind, dpi, length=2.0, quiet=0.25)
    assert image.width == pytest.approx(2.5 * dpi, abs=1)
    column = np.asarray(image)[:, image.width // 2]
    bars = runs(column)
    assert [b for b, _ in bars] == [False, True, False, True, False, True, False, True, False]
    widths = [n for _, n in bars[1:-1]]
    expected = []
    for i, symbol_ in enumerate(KODAK[kind]):
        expected.append(0.20 * dpi if symbol_ == "W" else 0.08 * dpi)
        if i < 3:
            expected.append(0.08 * dpi)
    assert widths == pytest.approx(expected, abs=1)
    # The bars run along the top edge, the full length.
    row = np.asarray(image)[bars[0][1] + 2, :]
    black, length = runs(row)[1]
    assert black and length == pytest.approx(2.0 * dpi, abs=1)


@pytest.mark.parametrize("kind", list(KODAK))
def test_each_patch_sheet_is_recognised_at_150_dpi(scanner: Scanner, kind: str) -> None:
    sheet = patch_sheet(kind, 150)
    assert sheet.size == A4_150
    scanned = scanner(sheet, dpi=150)
    found = find_patches(scanned)
    assert [p.kind.value for p in found] == [kind]
    box = found[0].box
    assert box.top == pytest.approx(75, abs=3)  # 0.5 in below the top edge
    assert box.height == pytest.approx(0.8 * 150, abs=4)
    assert box.width == pytest.approx(A4_150[0] - 150, abs=6)
    assert found[0].orientation == 0


@pytest.mark.parametrize("kind", ["T", "3"])
def test_patch_sheet_at_300_dpi_in_colour(scanner: Scanner, kind: str) -> None:
    scanned = scanner(patch_sheet(kind, 300).convert("RGB"), gray=False, dpi=300)
    assert scanned.size == A4_300
    assert [p.kind.value for p in find_patches(scanned)] == [kind]


@pytest.mark.parametrize("kind", ["1", "T", "3", "6"])
def test_end_fed_patch_is_read_right_to_left(scanner: Scanner, kind: str) -> None:
    # Turned a quarter clockwise: the leading (top) edge is now on the right.
    sideways = patch_sheet(kind, 150).rotate(-90, expand=True)
    found = find_patches(scanner(sideways, dpi=150))
    assert [(p.kind.value, p.orientation) for p in found] == [(kind, 90)]


def test_upside_down_sheet_reads_backwards(scanner: Scanner) -> None:
    # Documented limit: Patch 3 backwards is Patch T, Patch 1 backwards is Patch 6.
    assert [p.kind for p in find_patches(scanner(patch_sheet("3", 150).rotate(180)))] == [
        PatchKind.PATCH_T]
    assert [p.kind for p in find_patches(scanner(patch_sheet("1", 150).rotate(180)))] == [
        PatchKind.PATCH_6]
    assert [p.kind for p in find_patches(scanner(patch_sheet("2", 150).rotate(180)))] == [
        PatchKind.PATCH_2]


@pytest.mark.parametrize("angle", [-2.5, 1.5])
def test_skewed_sheet(scanner: Scanner, angle: float) -> None:
    skewed = patch_sheet("2", 150).rotate(angle, resample=Image.Resampling.BICUBIC,
                                          fillcolor=255)
    assert [p.kind.value for p in find_patches(scanner(skewed, dpi=150))] == ["2"]


def test_small_patches_among_text_and_barcodes(scanner: Scanner) -> None:
    page = Image.new("L", A4_300, 255)
    text_lines(page, 1800, 10, 300)
    placed(page, symbol("ITF", "12345678901234", 8), 200, 2800)
    placed(page, symbol("Code128", "NOT A PATCH", 6), 1300, 2800)
    boxes = {kind: placed(page, draw_patch(kind, 300, length=1.0), 100 + i * 390, 200)
             for i, kind in enumerate(["T", "2", "4"])}
    boxes["6"] = placed(page, draw_patch("6", 300, length=1.0), 1400, 900)
    found = find_patches(scanner(page, dpi=300))
    assert sorted(p.kind.value for p in found) == ["2", "4", "6", "T"]
    for patch in found:
        drawn = boxes[patch.kind.value]
        quiet = round(0.25 * 300)  # draw_patch's white margin
        assert patch.box.left == pytest.approx(drawn.left + quiet, abs=4)
        assert patch.box.top == pytest.approx(drawn.top + quiet, abs=4)
        assert patch.box.width == pytest.approx(drawn.width - 2 * quiet, abs=8)
        assert patch.box.height == pytest.approx(drawn.height - 2 * quiet, abs=8)


def test_no_patch_on_barcode_text_or_blank_pages(scanner: Scanner,
                                                 grid_scans: list[Scanned]) -> None:
    for scanned in grid_scans:
        assert find_patches(scanned.image) == []
    page = Image.new("L", A4_150, 255)
    text_lines(page, 100, 40, 150)
    assert find_patches(scanner(page, dpi=150)) == []
    assert find_patches(Image.new("L", A4_150, 255)) == []
    # Bars of the wrong widths: four equal narrow bars, and a heavy ITF barcode.
    fake = Image.new("L", A4_150, 255)
    for n in range(4):
        fake.paste(0, (100, 100 + n * 24, 700, 112 + n * 24))
    placed(fake, symbol("ITF", "1234", 10), 100, 600)
    # A Patch T with a fifth bar after it (no quiet zone) is a stripe pattern, not a patch.
    fake.paste(draw_patch("T", 150, length=3.0, quiet=0), (100, 1200))
    fake.paste(0, (100, 1200 + 120 + 12, 550, 1200 + 120 + 24))
    assert find_patches(scanner(fake, dpi=150)) == []


def test_without_dpi_information(scanner: Scanner) -> None:
    scanned = scanner(patch_sheet("4", 150), dpi=150)
    bare = Image.frombytes("L", scanned.size, scanned.tobytes())
    assert "dpi" not in bare.info
    assert [p.kind.value for p in find_patches(bare)] == ["4"]
    # A wrong dpi makes the bars the wrong physical size, so nothing is found.
    assert find_patches(bare, dpi=600) == []


def test_patch_names() -> None:
    assert parse_kind("t") is PatchKind.PATCH_T
    assert parse_kind("Patch T") is PatchKind.PATCH_T
    assert parse_kind("patch_2") is PatchKind.PATCH_2
    assert parse_kind(PatchKind.PATCH_6) is PatchKind.PATCH_6
    with pytest.raises(InvalidSetting) as error:
        parse_kind("5")
    assert error.value.detail["allowed"] == ["1", "2", "3", "4", "6", "T"]
    with pytest.raises(InvalidSetting):
        draw_patch("7")
