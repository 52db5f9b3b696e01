"""PDF/A-2b: Scanlet's own PDF/A export and make_pdfa on other PDFs.

No veraPDF here. Checked: the identification, the output intent and its ICC profile, Info and
XMP agreement, the trailer ID, qpdf --check, pikepdf reopening the file, and pikepdf's own
PDF/A validator (an allowlist built from the veraPDF rules), which must also *reject* files
that are not PDF/A so a pass means something.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

from scanlet.buffer import PageStore
from scanlet.codecs import pdfa
from scanlet.codecs.export import export_pages
from scanlet.codecs.metadata import parse_pdf_date
from scanlet.codecs.options import DocumentMetadata, ExportOptions
from scanlet.errors import ExportError, InvalidSetting
from scanlet.models import PageInfo
from tests.buffer.testdata import make_jpeg, make_png
from tests.codecs.test_export_pdf import qpdf_check, read_xmp

validator = pytest.importorskip("pikepdf.pdfa", reason="pikepdf[pdfa] extras missing")

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def verdict(data: bytes) -> list[str]:
    """Findings of pikepdf's PDF/A-2b validator (empty: approved)."""
    report = validator.validate_written(io.BytesIO(data), "2b")
    findings = [f"{f.rule}: {f.message}" for f in report.findings]
    assert report.passed == (not findings)
    return findings


@pytest.fixture
def pages(store: PageStore, document: str) -> list[PageInfo]:
    return [
        store.add_image(document, make_jpeg(120, 90), "jpeg", dpi=300),
        store.add_image(document, make_png(200, 100, mode="1"), "png", dpi=200),
        store.add_image(document, make_png(90, 60, mode="L"), "png", dpi=150),
        store.add_image(document, make_png(64, 48, mode="I;16"), "png", dpi=72),
        store.add_image(document, make_jpeg(80, 80, mode="L"), "jpeg", dpi=100),
    ]


def export(store: PageStore, pages: list[PageInfo], **options: object) -> bytes:
    out = io.BytesIO()
    export_pages(store, [p.id for p in pages], "pdf", out,
                 options=ExportOptions(**options))
    return out.getvalue()


def assert_pdfa(data: bytes, tmp_path: Path) -> None:
    qpdf_check(data, tmp_path)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert not pdf.is_encrypted
        ids = pdf.trailer.ID
        assert len(ids) == 2 and len(bytes(ids[0])) == 16
        with read_xmp(pdf) as xmp:
            assert xmp["pdfaid:part"] == "2" and xmp["pdfaid:conformance"] == "B"
        assert "/Filter" not in pdf.Root.Metadata  # PDF/A: metadata stream unfiltered
        (intent,) = pdf.Root.OutputIntents
        assert intent.S == pikepdf.Name.GTS_PDFA1
        profile = intent.DestOutputProfile
        assert int(profile.N) == 3
        pdfa.check_icc(profile.read_bytes())
        assert_info_matches_xmp(pdf)
    assert verdict(data) == []


def assert_info_matches_xmp(pdf: pikepdf.Pdf) -> None:
    info = pdf.docinfo
    with read_xmp(pdf) as xmp:
        pairs = [("/Title", "dc:title"), ("/Subject", "dc:description"),
                 ("/Keywords", "pdf:Keywords"), ("/Producer", "pdf:Producer"),
                 ("/Creator", "xmp:CreatorTool")]
        for key, prop in pairs:
            assert (str(info[key]) if key in info else None) == xmp.get(prop), key
        if "/Author" in info:
            assert xmp["dc:creator"] == [str(info["/Author"])]
        for key, prop in (("/CreationDate", "xmp:CreateDate"), ("/ModDate", "xmp:ModifyDate")):
            assert parse_pdf_date(str(info[key])) == datetime.fromisoformat(xmp[prop])


def test_plain_export_is_not_pdfa(store: PageStore, pages: list[PageInfo]) -> None:
    findings = verdict(export(store, pages))
    assert any("OutputIntent" in f for f in findings)
    assert any("pdfaid" in f for f in findings)


def test_pdfa_export(store: PageStore, pages: list[PageInfo], tmp_path: Path) -> None:
    meta = DocumentMetadata(title="Archive — 2024", author="Ana", subject="Scans",
                            keywords=["a", "b"],
                            creation_date=datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC))
    data = export(store, pages, pdf_a=True, metadata=meta)
    assert_pdfa(data, tmp_path)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert str(pdf.docinfo["/Title"]) == "Archive — 2024"
        assert pdf.pages[0].obj.Resources.XObject.Im0.read_raw_bytes() == \
            store.read_original(pages[0].id)  # PDF/A does not re-encode JPEG pages


def test_pdfa_refused_for_other_formats(store: PageStore, pages: list[PageInfo]) -> None:
    out = io.BytesIO()
    with pytest.raises(InvalidSetting, match="PDF/A"):
        export_pages(store, [pages[0].id], "tiff", out, options=ExportOptions(pdf_a=True))
    assert out.getvalue() == b""


def test_make_pdfa_on_a_plain_export(store: PageStore, pages: list[PageInfo],
                                     tmp_path: Path) -> None:
    source = export(store, pages, metadata=DocumentMetadata(title="Kept", author="Old"))
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(source)) as pdf:
        pdfa.make_pdfa(pdf, DocumentMetadata(author="New", keywords=["x"]))
        pdfa.make_pdfa(pdf)  # idempotent
        pdfa.save_pdfa(pdf, out)
    assert_pdfa(out.getvalue(), tmp_path)
    with pikepdf.open(io.BytesIO(out.getvalue())) as pdf:
        assert str(pdf.docinfo["/Title"]) == "Kept"  # from the document
        assert str(pdf.docinfo["/Author"]) == "New"  # overridden
        assert str(pdf.docinfo["/Keywords"]) == "x"


def text_pdf(path: Path, *, embed: bool) -> None:
    """A page with visible and invisible (OCR-style, render mode 3) text."""
    fpdf = pytest.importorskip("fpdf")
    doc = fpdf.FPDF()
    doc.add_page()
    if embed:
        doc.add_font("DejaVu", fname=str(FONT))
        doc.set_font("DejaVu", size=14)
    else:
        doc.set_font("Helvetica", size=14)
    doc.cell(text="Searchable text, visible")
    doc.text_mode = fpdf.TextMode.INVISIBLE
    doc.cell(text="and invisible")
    with pikepdf.open(io.BytesIO(doc.output())) as pdf:
        # fpdf2 adds an /OpenAction destination: allowed in PDF/A, but pikepdf's allowlist
        # validator does not know it, and it is not what this test is about.
        del pdf.Root.OpenAction
        pdf.save(path)


@pytest.mark.skipif(not FONT.exists(), reason="DejaVu Sans is not installed")
def test_make_pdfa_file_with_embedded_font(tmp_path: Path) -> None:
    source = tmp_path / "text.pdf"
    text_pdf(source, embed=True)
    assert verdict(source.read_bytes()) != []
    target = tmp_path / "text-a.pdf"
    pdfa.make_pdfa_file(source, target, DocumentMetadata(title="Text"))
    assert_pdfa(target.read_bytes(), tmp_path)


def test_make_pdfa_refuses_what_it_cannot_fix(tmp_path: Path) -> None:
    source = tmp_path / "standard-font.pdf"
    text_pdf(source, embed=False)
    with pikepdf.open(source) as pdf:
        before = pdf.Root.keys()
        with pytest.raises(ExportError, match="not embedded") as caught:
            pdfa.make_pdfa(pdf)
        assert pdf.Root.keys() == before  # unchanged
    assert any("Helvetica" in p for p in caught.value.detail["problems"])
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.Root.Names = pikepdf.Dictionary(JavaScript=pikepdf.Dictionary())
        with pytest.raises(ExportError, match="JavaScript"):
            pdfa.make_pdfa(pdf)


def test_make_pdfa_fixes_interpolation(store: PageStore, pages: list[PageInfo],
                                       tmp_path: Path) -> None:
    with pikepdf.open(io.BytesIO(export(store, pages[:1]))) as pdf:
        image = pdf.pages[0].obj.Resources.XObject.Im0
        image.Interpolate = True
        out = io.BytesIO()
        pdfa.make_pdfa(pdf)
        pdfa.save_pdfa(pdf, out)
    assert_pdfa(out.getvalue(), tmp_path)


def test_srgb_profile_is_a_valid_output_profile() -> None:
    profile = pdfa.srgb_profile()
    pdfa.check_icc(profile)
    assert profile[8] in (2, 4) and profile[12:16] == b"mntr" and profile[16:20] == b"RGB "
    bad = bytearray(profile)
    bad[8] = 5
    with pytest.raises(ValueError, match="version"):
        pdfa.check_icc(bytes(bad))
    with pytest.raises(ValueError, match="components"):
        pdfa.check_icc(profile, components=4)
    with pytest.raises(ValueError, match="not an ICC"):
        pdfa.check_icc(b"\0" * 200)


def test_lzw_streams_are_written_as_flate(tmp_path: Path) -> None:
    # libtiff's LZW strip is PDF's LZWDecode data (EarlyChange 1): PDF/A forbids LZW.
    picture = Image.fromarray((np.arange(64 * 48) % 251).reshape(48, 64).astype(np.uint8))
    tiff = io.BytesIO()
    picture.save(tiff, "TIFF", compression="tiff_lzw", tiffinfo={278: 48})
    with Image.open(tiff) as strip:
        offset, length = strip.tag_v2[273][0], strip.tag_v2[279][0]  # type: ignore[attr-defined]
    with pikepdf.new() as pdf:
        page = pdf.add_blank_page(page_size=(64, 48))
        image = pdf.make_stream(
            tiff.getvalue()[offset : offset + length], Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image, Width=64, Height=48, BitsPerComponent=8,
            ColorSpace=pikepdf.Name.DeviceGray, Filter=pikepdf.Name.LZWDecode)
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
        page.Contents = pdf.make_stream(b"q 64 0 0 48 0 0 cm /Im0 Do Q")
        assert np.array_equal(np.asarray(pikepdf.PdfImage(image).as_pil_image()),
                              np.asarray(picture))
        out = io.BytesIO()
        pdfa.make_pdfa(pdf)
        pdfa.save_pdfa(pdf, out)
    assert_pdfa(out.getvalue(), tmp_path)
    with pikepdf.open(io.BytesIO(out.getvalue())) as pdf:
        written = pdf.pages[0].Resources.XObject.Im0
        assert isinstance(written, pikepdf.Stream)
        assert written.Filter == pikepdf.Name.FlateDecode
        assert np.array_equal(np.asarray(pikepdf.PdfImage(written).as_pil_image()),
                              np.asarray(picture))
