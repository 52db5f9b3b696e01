"""Document separation: the pure split over page facts, the rule's validation, and whole stacks
of generated pages scanned through the pnm backend and split on each kind of separator."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from scanlet.barcodes import (
    Barcode,
    Box,
    PageFacts,
    PatchCode,
    PatchKind,
    Point,
    SeparationRule,
    is_separator,
    page_facts,
    patch_sheet,
    split_documents,
)
from scanlet.errors import InvalidSetting
from tests.barcodes.conftest import Scanner
from tests.barcodes.pages import A4_150, placed, symbol, text_lines

BOX = Box(left=0, top=0, width=10, height=10)


def code(text: str, fmt: str = "QRCode") -> Barcode:
    return Barcode(text=text, raw_base64="", format=fmt, symbology=fmt,
                   symbology_identifier="]Q1", content_type="text", ec_level="",
                   position=[Point(x=0, y=0)] * 4, box=BOX, orientation=0)


def patch(kind: str) -> PatchCode:
    return PatchCode(kind=PatchKind(kind), box=BOX, orientation=0)


def facts(*pages: str) -> list[PageFacts]:
    """Pages from a compact notation: ``"."`` content, ``"S"`` barcode SEP, ``"T"``/``"2"``
    patch, ``"B"`` blank, ``"x"`` another barcode."""
    made = []
    for page in pages:
        if page == "S":
            made.append(PageFacts(barcodes=[code("SEP")], blank=False))
        elif page == "x":
            made.append(PageFacts(barcodes=[code("INVOICE-7")], blank=False))
        elif page in "T2":
            made.append(PageFacts(patches=[patch(page)], blank=False))
        elif page == "B":
            made.append(PageFacts(blank=True))
        else:
            made.append(PageFacts(blank=False))
    return made


BARCODE_SEP = SeparationRule(kind="barcode", value="SEP")


@pytest.mark.parametrize(("stack", "dropped", "kept"), [
    ("...", [[0, 1, 2]], [[0, 1, 2]]),
    ("", [], []),
    (".S..S.", [[0], [2, 3], [5]], [[0], [1, 2, 3], [4, 5]]),
    ("S..", [[1, 2]], [[0, 1, 2]]),
    ("..S", [[0, 1]], [[0, 1], [2]]),
    (".SS.", [[0], [3]], [[0], [1], [2, 3]]),
    ("SS", [], [[0], [1]]),
    ("x.Sx", [[0, 1], [3]], [[0, 1], [2, 3]]),
])
def test_split_on_barcode_value(stack: str, dropped: list[list[int]],
                                kept: list[list[int]]) -> None:
    pages = facts(*stack)
    assert split_documents(pages, BARCODE_SEP) == dropped
    keep = BARCODE_SEP.model_copy(update={"keep_separators": True})
    assert split_documents(pages, keep) == kept


def test_barcode_value_is_exact_and_pattern_is_searched() -> None:
    pages = [PageFacts(barcodes=[code(text)]) for text in
             ["SEP", "SEP-2", "xSEP", "sep", "DOC 12", "DOC"]]
    assert [is_separator(p, BARCODE_SEP) for p in pages] == [
        True, False, False, False, False, False]
    pattern = SeparationRule(kind="barcode", pattern=r"^DOC \d+$")
    assert [is_separator(p, pattern) for p in pages] == [False] * 4 + [True, False]
    anywhere = SeparationRule(kind="barcode", pattern="SEP")
    assert [is_separator(p, anywhere) for p in pages] == [True, True, True, False, False, False]
    any_barcode = SeparationRule(kind="barcode")
    assert all(is_separator(p, any_barcode) for p in pages)
    assert not is_separator(PageFacts(), any_barcode)


def test_barcode_formats_restrict_and_include_family_members() -> None:
    rule = SeparationRule(kind="barcode", value="SEP", formats=["qr code"])
    assert rule.formats == ["QRCode"]
    assert is_separator(PageFacts(barcodes=[code("SEP", "QRCode")]), rule)
    assert is_separator(PageFacts(barcodes=[code("SEP", "MicroQRCode")]), rule)
    assert not is_separator(PageFacts(barcodes=[code("SEP", "Code128")]), rule)
    # One of several barcodes on the page is enough.
    assert is_separator(PageFacts(barcodes=[code("SEP", "Code128"), code("SEP")]), rule)
    databar = SeparationRule(kind="barcode", formats=["DataBar"])
    assert is_separator(PageFacts(barcodes=[code("(01)1", "DataBarOmni")]), databar)
    compact = SeparationRule(kind="barcode", formats=["CompactPDF417"])
    assert is_separator(PageFacts(barcodes=[code("x", "PDF417")]), compact)
    assert not is_separator(PageFacts(barcodes=[code("x", "QRCode")]), compact)


def test_split_on_patch_codes() -> None:
    pages = facts(".", "T", ".", "2", ".", ".")
    assert split_documents(pages, SeparationRule(kind="patch")) == [[0], [2], [4, 5]]
    only_t = SeparationRule(kind="patch", patches=["t"])
    assert only_t.patches == [PatchKind.PATCH_T]
    assert split_documents(pages, only_t) == [[0], [2, 3, 4, 5]]
    kept = SeparationRule(kind="patch", patches=["2"], keep_separators=True)
    assert split_documents(pages, kept) == [[0, 1, 2], [3, 4, 5]]


def test_split_on_blank_pages() -> None:
    pages = facts(".", "B", ".", ".", "B", "B", ".")
    assert split_documents(pages, SeparationRule(kind="blank")) == [[0], [2, 3], [6]]
    with pytest.raises(ValueError, match="Page 1"):
        split_documents([PageFacts(blank=False), PageFacts()], SeparationRule(kind="blank"))


@pytest.mark.parametrize("data", [
    {"kind": "barcode", "value": "a", "pattern": "b"},
    {"kind": "barcode", "pattern": "(unclosed"},
    {"kind": "barcode", "formats": ["NoSuchFormat"]},
    {"kind": "patch", "value": "SEP"},
    {"kind": "blank", "formats": ["QRCode"]},
    {"kind": "patch", "patches": ["5"]},
    {"kind": "patch", "patches": []},
    {"kind": "ocr"},
    {"kind": "blank", "keep": True},
])
def test_rule_validation(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SeparationRule.model_validate(data)


def test_page_facts_computes_only_what_the_rule_needs(scanner: Scanner) -> None:
    page = patch_sheet("T", 150)
    placed(page, symbol("QRCode", "SEP", 4), 500, 800)
    scanned = scanner(page, dpi=150)
    calls: list[Image.Image] = []

    def blank(image: Image.Image) -> bool:
        calls.append(image)
        return False

    by_barcode = page_facts(scanned, BARCODE_SEP, is_blank=blank)
    assert [b.text for b in by_barcode.barcodes] == ["SEP"]
    assert by_barcode.patches == [] and by_barcode.blank is None
    by_patch = page_facts(scanned, SeparationRule(kind="patch"), is_blank=blank)
    assert [p.kind for p in by_patch.patches] == [PatchKind.PATCH_T]
    assert by_patch.barcodes == [] and by_patch.blank is None
    assert calls == []
    by_blank = page_facts(scanned, SeparationRule(kind="blank"), is_blank=blank)
    assert by_blank.blank is False and calls == [scanned]
    with pytest.raises(InvalidSetting):
        page_facts(scanned, SeparationRule(kind="blank"))
    # Formats of the rule are the formats read.
    assert page_facts(scanned, BARCODE_SEP.model_copy(
        update={"formats": ["Code128"]})).barcodes == []


def mostly_white(image: Image.Image) -> bool:
    """A stand-in blank test (the real one lives in scanlet.imaging.blank)."""
    return float((np.asarray(image.convert("L")) < 128).mean()) < 0.001


def content_page(number: int) -> Image.Image:
    """A document page: text and an invoice barcode that is not a separator."""
    page = Image.new("L", A4_150, 255)
    text_lines(page, 400, 20, 150)
    placed(page, symbol("Code128", f"INVOICE-{number}", 3), 100, 100)
    return page


def separator(kind: str) -> Image.Image:
    if kind == "barcode":
        page = Image.new("L", A4_150, 255)
        text_lines(page, 900, 2, 150)
        placed(page, symbol("QRCode", "SCANLET-SEPARATOR", 8), 450, 300)
        return page
    if kind == "patch":
        return patch_sheet("T", 150)
    return Image.new("L", A4_150, 255)


@pytest.mark.parametrize("kind", ["barcode", "patch", "blank"])
def test_scanned_stack_is_split(scanner: Scanner, kind: str) -> None:
    # Documents of 2, 1 and 3 pages; separators before the 2nd and 3rd, and one at the end.
    layout = ["0", "1", "sep", "2", "sep", "3", "4", "5", "sep"]
    stack = [scanner(separator(kind) if item == "sep" else content_page(int(item)), dpi=150)
             for item in layout]
    extra = {"value": "SCANLET-SEPARATOR"} if kind == "barcode" else {}
    rule = SeparationRule.model_validate({"kind": kind, **extra})
    pages = [page_facts(image, rule, is_blank=mostly_white) for image in stack]
    assert split_documents(pages, rule) == [[0, 1], [3], [5, 6, 7]]
    keep = rule.model_copy(update={"keep_separators": True})
    assert split_documents(pages, keep) == [[0, 1], [2, 3], [4, 5, 6, 7], [8]]
    # The invoice barcodes on content pages are read, yet separate nothing.
    if kind == "barcode":
        assert [b.text for b in pages[0].barcodes] == ["INVOICE-0"]
        any_code = SeparationRule(kind="barcode")
        assert len(split_documents(pages, any_code)) == 0
