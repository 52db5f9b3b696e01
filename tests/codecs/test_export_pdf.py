"""PDF export, checked with qpdf --check and pikepdf."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pikepdf
import pytest

from scanlet.buffer import PageStore
from scanlet.codecs import pdf as pdf_module
from scanlet.codecs.export import export_pages
from tests.buffer.testdata import NonSeekable, make_jpeg, make_png


def qpdf_check(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "check.pdf"
    path.write_bytes(data)
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors found" in result.stdout


def image_of_page(page: pikepdf.Page) -> pikepdf.Object:
    xobjects = list(page.obj.Resources.XObject.values())
    assert len(xobjects) == 1
    return xobjects[0]


def size_pt(page: pikepdf.Page) -> tuple[float, float]:
    box = [float(v) for v in page.mediabox]
    return box[2] - box[0], box[3] - box[1]


def test_mixed_pages(store: PageStore, document: str, tmp_path: Path) -> None:
    jpeg = make_jpeg(120, 90, dpi=300)
    pages = [
        store.add_image(document, jpeg, "jpeg", dpi=300),
        store.add_image(document, make_png(200, 100, mode="1"), "png", dpi=200),
        store.add_image(document, make_png(90, 60, mode="L"), "png", dpi=150),
        store.add_image(document, make_png(64, 48, mode="I;16"), "png", dpi=72),
        store.add_image(document, make_jpeg(80, 80, mode="L"), "jpeg", dpi=100),
    ]
    out = io.BytesIO()
    assert export_pages(store, [p.id for p in pages], "pdf", out) == "application/pdf"
    qpdf_check(out.getvalue(), tmp_path)
    with pikepdf.open(io.BytesIO(out.getvalue())) as pdf:
        assert len(pdf.pages) == 5
        expectations = [
            ("/DCTDecode", 8, "/DeviceRGB"), ("/FlateDecode", 1, "/DeviceGray"),
            ("/FlateDecode", 8, "/DeviceGray"), ("/FlateDecode", 16, "/DeviceGray"),
            ("/DCTDecode", 8, "/DeviceGray"),
        ]
        for page, info, (filt, bits, space) in zip(pdf.pages, pages, expectations, strict=True):
            image = image_of_page(page)
            assert str(image.Filter) == filt
            assert int(image.BitsPerComponent) == bits
            assert str(image.ColorSpace) == space
            assert (int(image.Width), int(image.Height)) == (info.width, info.height)
            width_pt, height_pt = size_pt(page)
            assert width_pt == pytest.approx(info.width / info.dpi * 72, abs=0.01)
            assert height_pt == pytest.approx(info.height / info.dpi * 72, abs=0.01)
        # JPEG pages are embedded byte for byte.
        assert image_of_page(pdf.pages[0]).read_raw_bytes() == jpeg
        assert image_of_page(pdf.pages[4]).read_raw_bytes() == store.read_original(pages[4].id)
        assert "Scanlet" in str(pdf.docinfo["/Producer"])


def test_a4_page_size(store: PageStore, document: str, a4_jpeg: bytes, tmp_path: Path) -> None:
    page = store.add_image(document, a4_jpeg, "jpeg")
    assert page.dpi == 300
    out = io.BytesIO()
    export_pages(store, [page.id], "pdf", out)
    qpdf_check(out.getvalue(), tmp_path)
    with pikepdf.open(io.BytesIO(out.getvalue())) as pdf:
        width_pt, height_pt = size_pt(pdf.pages[0])
        assert abs(width_pt - 595) <= 1 and abs(height_pt - 842) <= 1
        assert image_of_page(pdf.pages[0]).read_raw_bytes() == a4_jpeg


def test_index_dpi_wins_over_file_header(store: PageStore, document: str) -> None:
    page = store.add_image(document, make_jpeg(300, 300, dpi=72), "jpeg", dpi=150)
    out = io.BytesIO()
    export_pages(store, [page.id], "pdf", out)
    with pikepdf.open(io.BytesIO(out.getvalue())) as pdf:
        assert size_pt(pdf.pages[0]) == pytest.approx((144, 144), abs=0.01)


def test_spooled_assembly_keeps_order_and_bytes(
    store: PageStore, document: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf_module, "IN_MEMORY_BYTES", 0)  # force the spool file
    originals = [make_jpeg(100, 100, seed=i) for i in range(5)]
    ids = [store.add_image(document, data, "jpeg", dpi=100 + 10 * i).id
           for i, data in enumerate(originals)]
    ids.append(store.add_image(document, make_png(50, 50, mode="1"), "png", dpi=50).id)
    order = list(reversed(ids))
    sink = NonSeekable()
    progress: list[tuple[int, int]] = []
    scratch: list[list[int]] = []

    def report(done: int, total: int) -> None:
        progress.append((done, total))
        scratch.append([p.stat().st_mode & 0o777 for p in store.temp_dir.iterdir()])

    export_pages(store, order, "pdf", sink.sink, report)
    assert scratch[:-1] == [[0o700]] * 5  # one private scratch folder while running
    assert list(store.temp_dir.iterdir()) == []  # removed when done
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


def test_aborted_export_leaves_no_scratch(
    store: PageStore, document: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf_module, "IN_MEMORY_BYTES", 0)
    ids = [store.add_image(document, make_jpeg(seed=i), "jpeg").id for i in range(3)]

    def cancel(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_pages(store, ids, "pdf", io.BytesIO(), cancel)
    assert list(store.temp_dir.iterdir()) == []
