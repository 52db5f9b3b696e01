"""PDF export, checked with qpdf --check, pikepdf and pypdfium2 (pdfium's own decoders)."""

from __future__ import annotations

import io
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image, ImageCms

from scanlet.buffer import PageStore
from scanlet.codecs.export import export_pages
from scanlet.codecs.options import DocumentMetadata, ExportOptions
from scanlet.errors import InvalidSetting
from scanlet.models import PageInfo
from tests.buffer.testdata import NonSeekable, decoded, image_of, make_jpeg, make_png


def qpdf_check(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "check.pdf"
    path.write_bytes(data)
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors found" in result.stdout


def image_of_page(page: pikepdf.Page) -> pikepdf.Stream:
    xobjects = list(page.obj.Resources.XObject.values())
    assert len(xobjects) == 1 and isinstance(xobjects[0], pikepdf.Stream)
    return xobjects[0]


def size_pt(page: pikepdf.Page) -> tuple[float, float]:
    box = [float(v) for v in page.mediabox]
    return box[2] - box[0], box[3] - box[1]


def read_xmp(pdf: pikepdf.Pdf) -> pikepdf.models.PdfMetadata:
    """The XMP packet, read only (pikepdf's defaults would rewrite it and the Info on exit)."""
    return pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False)


def pdfium_images(data: bytes) -> list[Image.Image]:
    """Every page's image as pdfium decodes it (no rendering, no resampling)."""
    document = pypdfium2.PdfDocument(data)
    try:
        images = []
        for page in document:
            objects = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))
            assert len(objects) == 1
            images.append(objects[0].get_bitmap(render=False).to_pil().copy())
        return images
    finally:
        document.close()


def export(store: PageStore, pages: list[PageInfo], **options: object) -> bytes:
    out = io.BytesIO()
    opts = ExportOptions(**options)
    assert export_pages(store, [p.id for p in pages], "pdf", out, options=opts) == \
        "application/pdf"
    return out.getvalue()


@pytest.fixture
def mixed(store: PageStore, document: str) -> list[PageInfo]:
    return [
        store.add_image(document, make_jpeg(120, 90, dpi=300), "jpeg", dpi=300),
        store.add_image(document, make_png(200, 100, mode="1"), "png", dpi=200),
        store.add_image(document, make_png(90, 60, mode="L"), "png", dpi=150),
        store.add_image(document, make_png(64, 48, mode="I;16"), "png", dpi=72),
        store.add_image(document, make_jpeg(80, 80, mode="L"), "jpeg", dpi=100),
        store.add_image(document, make_png(50, 40, mode="RGB"), "png", dpi=96),
    ]


def test_mixed_pages(store: PageStore, mixed: list[PageInfo], tmp_path: Path) -> None:
    data = export(store, mixed)
    qpdf_check(data, tmp_path)
    assert data.startswith(b"%PDF-1.5")  # 16-bit samples need PDF 1.5
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == len(mixed)
        expectations = [
            ("/DCTDecode", 8, "/DeviceRGB"), ("/CCITTFaxDecode", 1, "/DeviceGray"),
            ("/FlateDecode", 8, "/DeviceGray"), ("/FlateDecode", 16, "/DeviceGray"),
            ("/DCTDecode", 8, "/DeviceGray"), ("/FlateDecode", 8, "/DeviceRGB"),
        ]
        for page, info, (filt, bits, space) in zip(pdf.pages, mixed, expectations, strict=True):
            image = image_of_page(page)
            assert str(image.Filter) == filt
            assert int(image.BitsPerComponent) == bits
            assert str(image.ColorSpace) == space
            assert (int(image.Width), int(image.Height)) == (info.width, info.height)
            width_pt, height_pt = size_pt(page)
            assert width_pt == pytest.approx(info.width / info.dpi * 72, abs=0.01)
            assert height_pt == pytest.approx(info.height / info.dpi * 72, abs=0.01)
        # JPEG pages are embedded byte for byte.
        for index in (0, 4):
            raw = image_of_page(pdf.pages[index]).read_raw_bytes()
            assert raw == store.read_original(mixed[index].id)
        assert image_of_page(pdf.pages[1]).DecodeParms.K == -1  # Group 4, not Group 3
        assert "Scanlet" in str(pdf.docinfo["/Producer"])


def test_lossless_pages_decode_pixel_exact(store: PageStore, mixed: list[PageInfo]) -> None:
    data = export(store, mixed)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for page, info in zip(pdf.pages, mixed, strict=True):
            got = pikepdf.PdfImage(image_of_page(page)).as_pil_image()
            want = decoded(store.read_original(info.id))
            assert got.size == want.size
            if info.format == "png":
                assert np.array_equal(np.asarray(got), np.asarray(want)), info.mode
    # pdfium decodes the Group 4 page on its own: black stays black, white stays white.
    bilevel = pdfium_images(data)[1]
    black_white = np.asarray(decoded(store.read_original(mixed[1].id)).convert("L"))
    assert np.array_equal(np.asarray(bilevel.convert("L")), black_white)


def test_a4_page_size(store: PageStore, document: str, a4_jpeg: bytes, tmp_path: Path) -> None:
    page = store.add_image(document, a4_jpeg, "jpeg")
    assert page.dpi == 300
    data = export(store, [page])
    qpdf_check(data, tmp_path)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        width_pt, height_pt = size_pt(pdf.pages[0])
        assert abs(width_pt - 595) <= 1 and abs(height_pt - 842) <= 1
        assert image_of_page(pdf.pages[0]).read_raw_bytes() == a4_jpeg


def test_index_dpi_wins_over_file_header(store: PageStore, document: str) -> None:
    page = store.add_image(document, make_jpeg(300, 300, dpi=72), "jpeg", dpi=150)
    with pikepdf.open(io.BytesIO(export(store, [page]))) as pdf:
        assert size_pt(pdf.pages[0]) == pytest.approx((144, 144), abs=0.01)


def test_embedded_icc_profile_kept(store: PageStore, document: str, tmp_path: Path) -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image_of(60, 40).save(out, "JPEG", quality=90, icc_profile=profile, dpi=(300, 300))
    pages = [store.add_image(document, out.getvalue(), "jpeg") for _ in range(2)]
    data = export(store, pages)
    qpdf_check(data, tmp_path)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        spaces = [image_of_page(page).ColorSpace for page in pdf.pages]
        assert all(str(space[0]) == "/ICCBased" for space in spaces)
        assert spaces[0][1].read_bytes() == profile and int(spaces[0][1].N) == 3
        assert spaces[0][1].objgen == spaces[1][1].objgen  # stored once
        assert image_of_page(pdf.pages[0]).read_raw_bytes() == out.getvalue()


def test_metadata_in_info_and_xmp(store: PageStore, mixed: list[PageInfo]) -> None:
    created = datetime(2024, 2, 29, 13, 45, 7, tzinfo=UTC)
    meta = DocumentMetadata(title="Relevé (2024) — été", author="Zoë Ünal",
                            subject="Invoices & <receipts>", keywords=["tax", "2024"],
                            creation_date=created)
    data = export(store, mixed[:1], metadata=meta)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        info = pdf.docinfo
        assert str(info["/Title"]) == meta.title
        assert str(info["/Author"]) == meta.author
        assert str(info["/Subject"]) == meta.subject
        assert str(info["/Keywords"]) == "tax, 2024"
        with read_xmp(pdf) as xmp:
            assert xmp["dc:title"] == meta.title
            assert xmp["dc:creator"] == [meta.author]
            assert xmp["dc:description"] == meta.subject
            assert xmp["pdf:Keywords"] == "tax, 2024"
            assert xmp["dc:subject"] == {"tax", "2024"}
            assert xmp["pdf:Producer"] == str(info["/Producer"])
            assert datetime.fromisoformat(xmp["xmp:CreateDate"]) == created
            assert "pdfaid:part" not in xmp
    text = data.decode("latin-1")
    assert "/CreationDate" in text


def test_streams_to_a_non_seekable_sink_in_order(store: PageStore, document: str,
                                                  tmp_path: Path) -> None:
    originals = [make_jpeg(100, 100, seed=i) for i in range(5)]
    ids = [store.add_image(document, data, "jpeg", dpi=100 + 10 * i).id
           for i, data in enumerate(originals)]
    ids.append(store.add_image(document, make_png(50, 50, mode="1"), "png", dpi=50).id)
    order = list(reversed(ids))
    sink = NonSeekable()
    progress: list[tuple[int, int]] = []
    written: list[int] = []

    def report(done: int, total: int) -> None:
        progress.append((done, total))
        written.append(len(sink.buffer))

    export_pages(store, order, "pdf", sink.sink, report)
    assert list(store.temp_dir.iterdir()) == []  # no scratch files
    assert written == sorted(written) and written[0] > 0  # pages leave as they are made
    data = bytes(sink.buffer)
    qpdf_check(data, tmp_path)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 6
        for page, page_id in zip(pdf.pages, order, strict=True):
            info = store.get_page(page_id)
            assert size_pt(page)[0] == pytest.approx(info.width / info.dpi * 72, abs=0.01)
            if info.format == "jpeg":
                assert image_of_page(page).read_raw_bytes() == store.read_original(page_id)
    assert progress == [(n, 6) for n in range(1, 7)]


def test_aborted_export_stops_reading(store: PageStore, document: str) -> None:
    ids = [store.add_image(document, make_jpeg(seed=i), "jpeg").id for i in range(4)]
    reads: list[str] = []
    real = store.read_original

    def counting(page_id: str, *, cache: bool = True) -> bytes:
        reads.append(page_id)
        return real(page_id, cache=cache)

    store.read_original = counting  # type: ignore[method-assign]

    def cancel(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_pages(store, ids, "pdf", io.BytesIO(), cancel)
    assert reads == ids[:2]
    assert list(store.temp_dir.iterdir()) == []


def test_oversized_page_refused_before_writing(store: PageStore, document: str) -> None:
    pages = [store.add_image(document, make_jpeg(), "jpeg"),
             store.add_image(document, make_jpeg(3000, 20), "jpeg", dpi=10)]  # 300 inches
    out = io.BytesIO()
    with pytest.raises(InvalidSetting, match="200 inches"):
        export_pages(store, [p.id for p in pages], "pdf", out)
    assert out.getvalue() == b""


def test_low_bit_depth_png_is_decoded_and_deflated(store: PageStore, document: str) -> None:
    out = io.BytesIO()
    image_of(40, 30, mode="L").save(out, "PNG", bits=4, dpi=(300, 300))
    assert out.getvalue()[24] == 4  # a 4-bit grey PNG: the PNG data cannot be reused
    page = store.add_image(document, out.getvalue(), "png")
    with pikepdf.open(io.BytesIO(export(store, [page]))) as pdf:
        image = image_of_page(pdf.pages[0])
        assert str(image.Filter) == "/FlateDecode" and int(image.BitsPerComponent) == 8
        assert "/DecodeParms" not in image
        got = pikepdf.PdfImage(image).as_pil_image()
        assert np.array_equal(np.asarray(got), np.asarray(decoded(out.getvalue())))
