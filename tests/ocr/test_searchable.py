"""Searchable PDF: checked with qpdf, pikepdf (images untouched) and pypdfium2 (text, positions)."""

from __future__ import annotations

import asyncio
import io
import subprocess
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image

from scanlet.buffer import PageStore
from scanlet.codecs.export import export_pages
from scanlet.codecs.options import DocumentMetadata
from scanlet.models import ColorMode, PageInfo
from scanlet.ocr import OcrPage, OcrPool
from scanlet.ocr import searchable as searchable_module
from scanlet.ocr.searchable import (
    make_searchable_pdf,
    write_searchable_pdf,
    write_searchable_pdf_async,
)
from tests.buffer.testdata import NonSeekable
from tests.ocr.conftest import ScannedText
from tests.ocr.pages import DPI, Box, encode

#: How far (pt) the text layer's word boxes may be from where the word was drawn.
TOLERANCE = 4.0


def qpdf_check(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "check.pdf"
    path.write_bytes(data)
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors found" in result.stdout


def page_texts(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    try:
        texts = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        pdf.close()


def word_boxes(data: bytes, page_index: int, words: list[str]) -> dict[str, Box | None]:
    """Each word's box on the page from pypdfium2 (left, bottom, right, top in pt)."""
    pdf = pdfium.PdfDocument(data)
    try:
        page = pdf[page_index]
        textpage = page.get_textpage()
        found: dict[str, Box | None] = {}
        for word in words:
            searcher = textpage.search(word, match_case=True, match_whole_word=True)
            match = searcher.get_next()
            searcher.close()
            if match is None:
                found[word] = None
                continue
            first, count = match
            boxes = [textpage.get_charbox(i) for i in range(first, first + count)]
            found[word] = (min(b[0] for b in boxes), min(b[1] for b in boxes),
                           max(b[2] for b in boxes), max(b[3] for b in boxes))
        textpage.close()
        page.close()
        return found
    finally:
        pdf.close()


def assert_aligned(data: bytes, page_index: int, scan: ScannedText) -> None:
    """Every known word of the page is found where it was drawn (pixel box -> pt)."""
    height_pt = scan.page.image.height * 72 / DPI
    found = word_boxes(data, page_index, scan.words)
    for word in scan.words:
        box = found[word]
        assert box is not None, (word, page_index)
        left, bottom, right, top = box
        x0, y0, x1, y1 = (v * 72 / DPI for v in scan.page.boxes[word])
        drawn_bottom, drawn_top = height_pt - y1, height_pt - y0
        assert abs(left - x0) <= TOLERANCE, (word, box, (x0, y0, x1, y1))
        assert x0 - TOLERANCE <= right <= x1 + TOLERANCE, (word, box, (x0, x1))
        assert abs((bottom + top) / 2 - (drawn_bottom + drawn_top) / 2) <= TOLERANCE, \
            (word, box, (drawn_bottom, drawn_top))


def images(data: bytes) -> list[bytes]:
    """The raw stream of each page's one image."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        raw = []
        for page in pdf.pages:
            found = list(page.get_images().values())
            assert len(found) == 1
            raw.append(found[0].read_raw_bytes())
        return raw


def test_searchable_pdf_of_scanned_pages(pool: OcrPool, store: PageStore,
                                         stored: list[PageInfo], scans: list[ScannedText],
                                         tmp_path: Path) -> None:
    def read(info: PageInfo) -> bytes:
        return store.read_original(info.id, cache=False)

    calls: list[tuple[int, int]] = []
    out = io.BytesIO()
    texts = write_searchable_pdf(pool, stored, read, out, progress=lambda d, t: calls.append(
        (d, t)))
    data = out.getvalue()
    qpdf_check(data, tmp_path)
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]

    # Text: every page has its own words, in page order, from the PDF and from the return.
    extracted = page_texts(data)
    assert len(extracted) == len(scans)
    for index, scan in enumerate(scans):
        others = {w for i, s in enumerate(scans) if i != index for w in s.words}
        assert set(scan.words) <= set(extracted[index].split()), extracted[index]
        assert not others & set(extracted[index].split())
        assert set(scan.words) <= set(texts[index].split())
        assert_aligned(data, index, scan)

    # Images: the same streams as the plain export; JPEG pages are the stored bytes.
    plain = io.BytesIO()
    export_pages(store, [info.id for info in stored], "pdf", plain)
    assert images(data) == images(plain.getvalue())
    for raw, info in zip(images(data), stored, strict=True):
        if info.format == "jpeg":
            assert raw == store.read_original(info.id)
    with pikepdf.open(io.BytesIO(data)) as pdf, \
            pikepdf.open(io.BytesIO(plain.getvalue())) as reference:
        for page, ref in zip(pdf.pages, reference.pages, strict=True):
            assert [float(v) for v in page.mediabox] == [float(v) for v in ref.mediabox]
        assert str(pdf.docinfo["/Producer"]) == str(reference.docinfo["/Producer"])


def test_pdf_a_and_metadata_of_the_export_are_kept(pool: OcrPool, store: PageStore,
                                                   stored: list[PageInfo],
                                                   scans: list[ScannedText],
                                                   tmp_path: Path) -> None:
    [result] = pool.run([OcrPage(scans[0].data, dpi=300)], outputs=["pdf"])
    out = io.BytesIO()
    make_searchable_pdf(stored[:1], lambda i: store.read_original(i.id), [result.pdf], out,
                        pdf_a=True, metadata=DocumentMetadata(title="Harbour report"))
    qpdf_check(out.getvalue(), tmp_path)
    with pikepdf.open(io.BytesIO(out.getvalue())) as pdf:
        assert len(pdf.Root.OutputIntents) == 1
        assert str(pdf.docinfo["/Title"]) == "Harbour report"
        with pdf.open_metadata() as xmp:
            assert xmp["dc:title"] == "Harbour report"
            assert xmp["pdfaid:part"] == "2"
    assert_aligned(out.getvalue(), 0, scans[0])


def test_alignment_does_not_depend_on_the_dpi_tesseract_used(
        pool: OcrPool, store: PageStore, stored: list[PageInfo], scans: list[ScannedText],
        tmp_path: Path) -> None:
    """The text layer is scaled to the image page: a layer made at 150 dpi (a page twice the
    size) still lands on the words."""
    info, scan = stored[1], scans[1]
    [result] = pool.run([OcrPage(scan.data, dpi=150)], outputs=["pdf"])
    assert result.pdf is not None
    with pikepdf.open(io.BytesIO(result.pdf)) as layer:
        width_pt = float(layer.pages[0].mediabox[2]) - float(layer.pages[0].mediabox[0])
    assert width_pt == pytest.approx(scan.page.image.width * 72 / 150, abs=0.01)
    out = io.BytesIO()
    make_searchable_pdf([info], lambda i: store.read_original(i.id), [result.pdf], out)
    qpdf_check(out.getvalue(), tmp_path)
    assert_aligned(out.getvalue(), 0, scan)


def test_large_documents_go_through_scratch_files(
        pool: OcrPool, store: PageStore, stored: list[PageInfo], scans: list[ScannedText],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(searchable_module, "IN_MEMORY_BYTES", 0)
    workdir = tmp_path / "scratch"
    workdir.mkdir()
    opened: list[object] = []
    real_open = pikepdf.open

    def spy(source: object, *args: object, **kwargs: object) -> pikepdf.Pdf:
        opened.append(source)
        return real_open(source, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(searchable_module.pikepdf, "open", spy)
    results = pool.run([OcrPage(s.data, dpi=300) for s in scans], outputs=["pdf"])
    out = io.BytesIO()
    make_searchable_pdf(stored, lambda i: store.read_original(i.id), [r.pdf for r in results],
                        out, workdir=workdir)
    # The image PDF was read from a file in the scratch folder, which is gone now.
    assert [Path(str(p)).parent.parent for p in opened if isinstance(p, str)] == [workdir]
    assert list(workdir.iterdir()) == []
    data = out.getvalue()
    qpdf_check(data, tmp_path)
    for index, scan in enumerate(scans):
        assert_aligned(data, index, scan)


def test_pages_without_a_layer_stay_image_only(pool: OcrPool, store: PageStore,
                                               stored: list[PageInfo],
                                               scans: list[ScannedText]) -> None:
    [result] = pool.run([OcrPage(scans[0].data, dpi=300)], outputs=["pdf"])
    out = io.BytesIO()
    make_searchable_pdf(stored[:2], lambda i: store.read_original(i.id), [result.pdf, None], out)
    texts = page_texts(out.getvalue())
    assert set(scans[0].words) <= set(texts[0].split())
    assert texts[1].strip() == ""
    with pytest.raises(ValueError, match="2 text layers for 1 pages"):
        make_searchable_pdf(stored[:1], lambda i: store.read_original(i.id),
                            [result.pdf, None], io.BytesIO())


def test_async_searchable_pdf(pool: OcrPool, store: PageStore, stored: list[PageInfo],
                              scans: list[ScannedText], tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    out = io.BytesIO()
    texts = asyncio.run(write_searchable_pdf_async(
        pool, stored, lambda i: store.read_original(i.id), out, lang="eng+deu",
        progress=lambda d, t: calls.append((d, t))))
    assert calls[-1] == (4, 4) and len(calls) == 4
    qpdf_check(out.getvalue(), tmp_path)
    for index, scan in enumerate(scans):
        assert set(scan.words) <= set(texts[index].split())
        assert_aligned(out.getvalue(), index, scan)


def test_bilevel_and_16_bit_pages_to_a_non_seekable_destination(
        pool: OcrPool, store: PageStore, scans: list[ScannedText], tmp_path: Path) -> None:
    """Black-and-white (CCITT G4 in the PDF) and 16-bit grey pages, the rarer page kinds;
    written to a socket-like sink."""
    gray = Image.open(io.BytesIO(scans[1].data)).convert("L")
    bilevel = gray.point(lambda v: 255 if v > 128 else 0).convert("1")
    deep = Image.fromarray(np.asarray(gray, dtype=np.uint16) * 257)
    document = store.create_document("kinds").id
    infos = [store.add_image(document, encode(image, "png"), "png", dpi=300)
             for image in (bilevel, deep)]
    assert [(i.bit_depth, i.mode) for i in infos] == [(1, ColorMode.BW), (16, ColorMode.GRAY)]
    sink = NonSeekable()
    texts = write_searchable_pdf(pool, infos, lambda i: store.read_original(i.id), sink.sink)
    data = bytes(sink.buffer)
    qpdf_check(data, tmp_path)
    for index in range(2):
        assert set(scans[1].words) <= set(texts[index].split()), texts[index]
        assert_aligned(data, index, scans[1])
