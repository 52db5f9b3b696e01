"""Barcode reading: every format zxing-cpp writes is read back from a page scanned through the
real SANE pnm backend, with the right text and format and a position inside its drawn box."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import zxingcpp
from PIL import Image
from pydantic import ValidationError

from scanlet.barcodes import (
    Barcode,
    BarcodeOptions,
    Box,
    barcode_formats,
    read_barcodes,
    read_pages,
    validate_formats,
)
from scanlet.errors import InvalidSetting
from tests.barcodes.conftest import Scanned, Scanner
from tests.barcodes.pages import (
    A4_150,
    A4_300,
    NOT_READABLE,
    SAMPLES,
    Sample,
    placed,
    symbol,
    text_lines,
)

MARGIN = 4  # pixels a reported corner may lie outside the drawn symbol (quiet zone included)


def inside(barcode: Barcode, box: Box, margin: int = MARGIN) -> bool:
    """Every corner of ``barcode`` lies inside ``box`` (grown by ``margin``)."""
    return all(box.contains(point, margin) for point in barcode.position)


def test_samples_cover_every_format_zxing_writes() -> None:
    creatable = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.AllCreatable)
    writable = {f.name for f in zxingcpp.barcode_formats_list(creatable)}
    sampled = {sample.format for sample in SAMPLES}
    assert writable - set(NOT_READABLE) == sampled
    assert len(sampled) == len(SAMPLES)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.format)
def test_every_written_format_is_read_back(
        sample: Sample, sample_scans: dict[str, tuple[Sample, Scanned]]) -> None:
    _, scanned = sample_scans[sample.format]
    box = scanned.boxes[sample.format]
    region = None
    if sample.alone:  # read just its cell; positions still come back in page pixels
        cell = scanned.page.cells[sample.format]
        region = (cell.left, cell.top, cell.width, cell.height)
    found = read_barcodes(scanned.image, formats=[sample.read_filter or sample.format],
                          region=region)
    here = [b for b in found if inside(b, box)]
    assert len(here) == 1, (box, found)
    barcode = here[0]
    assert barcode.text == sample.text
    assert barcode.format == sample.read_as
    assert barcode.orientation == sample.orientation
    assert len(barcode.position) == 4
    assert barcode.box.left >= box.left - MARGIN and barcode.box.top >= box.top - MARGIN
    assert barcode.box.left + barcode.box.width <= box.left + box.width + MARGIN
    assert barcode.symbology in barcode_formats()
    assert barcode.symbology_identifier.startswith("]")


def test_whole_page_without_a_filter_finds_each_symbol_once(grid_scans: list[Scanned]) -> None:
    for scanned in grid_scans:
        found = read_barcodes(scanned.image)
        expected = [s for s in SAMPLES if s.format in scanned.boxes and not s.alone]
        assert len(found) == len(expected)
        for sample in expected:
            here = [b for b in found if inside(b, scanned.boxes[sample.format])]
            assert len(here) == 1, sample


def test_full_a4_300_dpi_colour_page(scanner: Scanner) -> None:
    page = Image.new("RGB", A4_300, "white")
    text_lines(page, 1500, 12, 300)
    symbols = {
        "QRCode": ("https://scanlet.example/doc/1", 8),
        "Code128": ("INVOICE-2026-0042", 4),
        "DataMatrix": ("Scanlet DataMatrix page", 8),
        "PDF417": ("Scanlet PDF417 on A4", 4),
        "EAN13": ("4006381333931", 5),
    }
    boxes = {}
    for index, (fmt, (content, scale)) in enumerate(symbols.items()):
        left, top = 150 + (index % 2) * 1200, 150 + (index // 2) * 450
        boxes[fmt] = placed(page, symbol(fmt, content, scale).convert("RGB"), left, top)
    scanned = scanner(page, gray=False, dpi=300)
    assert scanned.size == A4_300 and scanned.mode == "RGB"

    found = read_barcodes(scanned)
    assert sorted(b.format for b in found) == sorted(symbols)
    for barcode in found:
        assert barcode.text == symbols[barcode.format][0]
        assert inside(barcode, boxes[barcode.format])
    filtered = read_barcodes(scanned, formats=["QRCode", "EAN13"])
    assert sorted(b.format for b in filtered) == ["EAN13", "QRCode"]


@pytest.mark.parametrize(("turn", "orientation"), [(90, 270), (-90, 90), (180, 180)])
@pytest.mark.parametrize("fmt", ["Code128", "QRCode", "DataMatrix"])
def test_rotated_symbols_report_their_orientation(scanner: Scanner, fmt: str, turn: int,
                                                  orientation: int) -> None:
    page = Image.new("L", A4_150, 255)
    box = placed(page, symbol(fmt, f"turned {turn}", 3), 300, 400, rotate=turn)
    scanned = scanner(page, dpi=150)
    found = read_barcodes(scanned, formats=[fmt])
    assert [b.text for b in found] == [f"turned {turn}"]
    assert found[0].orientation == orientation
    assert inside(found[0], box)


def test_try_harder_off_skips_turned_linear_codes(scanner: Scanner) -> None:
    page = Image.new("L", A4_150, 255)
    placed(page, symbol("Code128", "upright", 3), 100, 100)
    placed(page, symbol("Code128", "sideways", 3), 700, 600, rotate=90)
    scanned = scanner(page, dpi=150)
    assert sorted(b.text for b in read_barcodes(scanned)) == ["sideways", "upright"]
    assert [b.text for b in read_barcodes(scanned, try_harder=False)] == ["upright"]


@pytest.fixture(scope="module")
def two_codes(scanner: Scanner) -> tuple[Image.Image, Box, Box]:
    page = Image.new("L", A4_150, 255)
    qr = placed(page, symbol("QRCode", "top left", 4), 100, 100)
    dm = placed(page, symbol("DataMatrix", "bottom right", 6), 800, 1300)
    return scanner(page, dpi=150), qr, dm


def test_region_reads_only_inside_and_reports_page_positions(
        two_codes: tuple[Image.Image, Box, Box]) -> None:
    scanned, qr, dm = two_codes
    found = read_barcodes(scanned, region=(dm.left - 50, dm.top - 50, dm.width + 100,
                                           dm.height + 100))
    assert [b.text for b in found] == ["bottom right"]
    assert inside(found[0], dm)
    # Same symbol, same page positions as a whole-page read (the binarizer's blocks fall
    # differently on the crop, hence a pixel or two).
    whole = [b for b in read_barcodes(scanned) if b.text == "bottom right"]
    for a, b in zip(whole[0].position, found[0].position, strict=True):
        assert abs(a.x - b.x) <= 2 and abs(a.y - b.y) <= 2
    # A region partly outside the page is clipped to it.
    clipped = read_barcodes(scanned, region=(-100, -100, qr.left + qr.width + 150,
                                             qr.top + qr.height + 150))
    assert [b.text for b in clipped] == ["top left"]
    assert inside(clipped[0], qr)


@pytest.mark.parametrize("region", [(5000, 10, 100, 100), (10, 10, 0, 100), (10, 10, 50, -5),
                                    (-500, -500, 100, 100)])
def test_region_without_page_pixels_is_refused(two_codes: tuple[Image.Image, Box, Box],
                                               region: tuple[int, int, int, int]) -> None:
    with pytest.raises(InvalidSetting) as error:
        read_barcodes(two_codes[0], region=region)
    assert error.value.detail["field"] == "region"
    assert error.value.code == "invalid_setting"


def test_unknown_format_is_refused_with_the_allowed_names() -> None:
    page = Image.new("L", (100, 100), 255)
    with pytest.raises(InvalidSetting) as error:
        read_barcodes(page, formats=["QRCode", "Bogus"])
    assert "Bogus" in error.value.message
    assert error.value.detail["field"] == "formats"
    assert error.value.detail["allowed"] == barcode_formats()
    with pytest.raises(InvalidSetting):
        read_barcodes(page, formats=[])


def test_format_names_are_zxing_cpps() -> None:
    names = barcode_formats()
    all_readable = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.AllReadable)
    readable = {f.name for f in zxingcpp.barcode_formats_list(all_readable)}
    assert readable <= set(names)
    assert {"All", "AllLinear", "AllMatrix"} <= set(names)
    assert validate_formats(["qr code", "EAN-13", "datamatrix", "QRCode"]) == [
        "QRCode", "EAN13", "DataMatrix"]
    assert validate_formats(None) is None


def test_group_filter_reads_its_members(two_codes: tuple[Image.Image, Box, Box]) -> None:
    assert sorted(b.format for b in read_barcodes(two_codes[0], formats=["AllMatrix"])) == [
        "DataMatrix", "QRCode"]
    assert read_barcodes(two_codes[0], formats=["AllLinear"]) == []


def test_same_results_as_zxing_cpp_directly(grid_scans: list[Scanned]) -> None:
    image = grid_scans[1].image.convert("RGB")
    ours = read_barcodes(image)
    direct = zxingcpp.read_barcodes(image.convert("L"))
    assert len(ours) == len(direct) > 10
    for mine, theirs in zip(ours, direct, strict=True):
        assert mine.text == theirs.text
        assert mine.format == theirs.format.name
        assert mine.raw == theirs.bytes
        assert (mine.position[0].x, mine.position[0].y) == (theirs.position.top_left.x,
                                                            theirs.position.top_left.y)
        assert (mine.position[2].x, mine.position[2].y) == (theirs.position.bottom_right.x,
                                                            theirs.position.bottom_right.y)


def test_raw_bytes_and_details(scanner: Scanner) -> None:
    page = Image.new("L", (600, 600), 255)
    data = b"\x00\x01\xfe\xffscan"
    made = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level="H")
    page.paste(Image.fromarray(np.asarray(made.to_image(scale=5))), (100, 100))
    found = read_barcodes(scanner(page, dpi=150))
    assert len(found) == 1
    barcode = found[0]
    assert barcode.raw == data
    assert barcode.content_type == "binary"
    assert barcode.ec_level == "H"
    assert barcode.extra["ECLevel"] == "H"
    assert "Version" in barcode.extra
    again = Barcode.model_validate_json(barcode.model_dump_json())
    assert again == barcode


@pytest.mark.parametrize("mode", ["1", "L", "RGB", "RGBA", "I;16", "P"])
def test_any_page_mode_is_read(two_codes: tuple[Image.Image, Box, Box], mode: str) -> None:
    gray = two_codes[0]
    if mode == "I;16":
        image = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)
        assert image.mode == "I;16"
    else:
        image = gray.convert(mode)
    assert sorted(b.text for b in read_barcodes(image)) == ["bottom right", "top left"]


def test_options_model_checks_formats_up_front(two_codes: tuple[Image.Image, Box, Box]) -> None:
    with pytest.raises(ValidationError, match="Bogus"):
        BarcodeOptions(formats=["Bogus"])
    options = BarcodeOptions.model_validate({"formats": ["data matrix"], "try_harder": False})
    assert options.formats == ["DataMatrix"]
    assert [b.text for b in options.read(two_codes[0])] == ["bottom right"]


def test_read_pages_checks_settings_before_reading(
        two_codes: tuple[Image.Image, Box, Box]) -> None:
    opened: list[int] = []

    def pages() -> Iterator[Image.Image]:
        for n in range(2):
            opened.append(n)
            yield two_codes[0]

    with pytest.raises(InvalidSetting):
        read_pages(pages(), formats=["nope"])
    assert opened == []
    per_page = read_pages(pages(), formats=["QRCode"])
    assert [[b.text for b in page] for page in per_page] == [["top left"], ["top left"]]
