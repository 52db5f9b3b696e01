"""Importing PDFs: single-image pages come out without loss, other pages are rasterised."""

from __future__ import annotations

import io
import math
from pathlib import Path

import img2pdf
import numpy as np
import pikepdf
import pypdfium2
import pytest
from PIL import Image

from scanlet.buffer import PageStore
from scanlet.importing import DEFAULT_DPI, import_file
from scanlet.importing.errors import (
    ImportInvalid,
    ImportTooLarge,
    ImportUnsupportedFormat,
    PdfPasswordRequired,
)
from scanlet.models import ColorMode
from tests.importing.makers import (
    COLOUR_CONTENT,
    GREY_CONTENT,
    decoded,
    encode,
    encrypted,
    image_page,
    jpeg_xobject,
    pixels,
    sample_image,
    save,
    vector_pdf,
)

A4_PT = (595.276, 841.89)


def _scratch_is_clean(store: PageStore) -> bool:
    return not any(store.temp_dir.iterdir()) if store.temp_dir.exists() else True


# -- single-image pages: extracted without loss ------------------------------------------------


def test_img2pdf_pages_come_back_without_loss(store: PageStore, document: str) -> None:
    jpeg = encode(sample_image(seed=1), "JPEG", quality=85, dpi=(150, 150))
    grey_jpeg = encode(sample_image(mode="L", seed=2), "JPEG", quality=85, dpi=(300, 300))
    g4 = encode(sample_image(mode="1", seed=3), "TIFF", compression="group4", dpi=(300, 300))
    palette = encode(sample_image(seed=4).quantize(32), "PNG", dpi=(200, 200))
    grey_png = encode(sample_image(mode="L", seed=5), "PNG", dpi=(100, 100))
    pdf = img2pdf.convert([jpeg, grey_jpeg, g4, palette, grey_png])
    progress: list[tuple[int, int]] = []
    pages = import_file(store, document, pdf, progress=lambda *a: progress.append(a))

    assert progress == [(i, 5) for i in range(1, 6)]
    assert [(p.format, p.dpi) for p in pages] == [
        ("jpeg", 150.0), ("jpeg", 300.0), ("png", 300.0), ("png", 200.0), ("png", 100.0)]
    assert store.read_original(pages[0].id) == jpeg
    assert store.read_original(pages[1].id) == grey_jpeg
    assert [p.mode for p in pages[2:]] == [ColorMode.BW, ColorMode.COLOR, ColorMode.GRAY]
    assert pages[2].bit_depth == 1
    for page, source in zip(pages[2:], (g4, palette, grey_png), strict=True):
        original = decoded(source)
        expected = original.convert("RGB") if original.mode == "P" else original
        assert np.array_equal(pixels(decoded(store.read_original(page.id))), pixels(expected))
    assert _scratch_is_clean(store)


def test_extracted_bilevel_page_matches_pdfium_render(store: PageStore, document: str) -> None:
    """An independent decoder agrees on the extracted pixels (and on BlackIs1 polarity)."""
    blocks = np.kron(np.random.default_rng(7).integers(0, 2, (20, 15)), np.ones((16, 16)))
    bilevel = Image.fromarray((blocks * 255).astype(np.uint8)).convert("1")  # 240 x 320
    g4 = encode(bilevel, "TIFF", compression="group4", dpi=(100, 100))
    pdf = img2pdf.convert(g4)
    [page] = import_file(store, document, pdf)
    extracted = pixels(decoded(store.read_original(page.id)).convert("L"))
    rendered = pypdfium2.PdfDocument(pdf)[0].render(scale=100 / 72, grayscale=True).to_pil()
    rendered = rendered.crop((0, 0, 240, 320))  # pdfium rounds the page size up
    assert np.array_equal(extracted, pixels(bilevel.convert("L")))
    assert np.mean(np.abs(extracted.astype(int) - pixels(rendered).astype(int))) < 8


def test_invisible_ocr_text_does_not_prevent_extraction(store: PageStore,
                                                        document: str) -> None:
    jpeg = encode(sample_image(), "JPEG", quality=90)
    pdf = pikepdf.new()
    invisible = b"BT 3 Tr /F1 12 Tf 10 10 Td (searchable words) Tj ET"
    image_page(pdf, jpeg_xobject(pdf, jpeg, "/DeviceRGB"), 120, 160, extra=invisible)
    image_page(pdf, jpeg_xobject(pdf, jpeg, "/DeviceRGB"), 120, 160,
               extra=invisible.replace(b"3 Tr", b"0 Tr"))
    first, second = import_file(store, document, save(pdf), dpi=144)
    assert store.read_original(first.id) == jpeg
    assert first.dpi == 144.0  # 240 px over 120 pt (5/3 in) = 144 dpi, the image's own
    # Visible text over the image: rasterised at the chosen dpi instead.
    assert (second.format, second.dpi) == ("jpeg", 144.0)
    assert store.read_original(second.id) != jpeg
    assert (second.width, second.height) == (240, 320)


def test_rotated_page_is_extracted_as_seen(store: PageStore, document: str) -> None:
    jpeg = encode(sample_image(), "JPEG", quality=90)
    pdf = pikepdf.new()
    image_page(pdf, jpeg_xobject(pdf, jpeg, "/DeviceRGB"), 120, 160, rotate=90)
    data = save(pdf)
    [page] = import_file(store, document, data)
    stored = decoded(store.read_original(page.id))
    assert (page.format, stored.size) == ("png", (320, 240))
    rendered = pypdfium2.PdfDocument(data)[0].render(scale=2).to_pil().convert("RGB")
    assert rendered.size == (320, 240)
    assert np.mean(np.abs(pixels(stored).astype(int) - pixels(rendered).astype(int))) < 12


def test_cmyk_jpeg_page_is_rasterised_not_extracted(store: PageStore, document: str) -> None:
    cmyk = encode(sample_image().convert("CMYK"), "JPEG", quality=90)
    pdf = pikepdf.new()
    image_page(pdf, jpeg_xobject(pdf, cmyk, "/DeviceCMYK"), 120, 160)
    [page] = import_file(store, document, save(pdf), dpi=72)
    assert (page.format, page.mode, page.dpi) == ("jpeg", ColorMode.COLOR, 72.0)
    assert (page.width, page.height) == (120, 160)  # the page size at 72 dpi, not the image's


# -- rasterised pages ----------------------------------------------------------------------------


@pytest.mark.parametrize("dpi", [None, 100.0, 300.0])
def test_vector_page_is_rasterised_at_the_chosen_dpi(store: PageStore, document: str,
                                                     dpi: float | None) -> None:
    data = vector_pdf([(*A4_PT, COLOUR_CONTENT)])
    [page] = import_file(store, document, data, dpi=dpi)
    used = dpi or DEFAULT_DPI
    assert DEFAULT_DPI == 200.0
    expected = (math.ceil(A4_PT[0] * used / 72), math.ceil(A4_PT[1] * used / 72))
    assert (page.width, page.height, page.dpi) == (*expected, used)
    stored = decoded(store.read_original(page.id))
    assert (page.format, stored.mode, page.mode) == ("jpeg", "RGB", ColorMode.COLOR)
    # The red rectangle (72..272 pt across, 400..500 pt up) is red in the render.
    x, y = int(172 * used / 72), int((A4_PT[1] - 450) * used / 72)
    red, green, blue = stored.getpixel((x, y))  # type: ignore[misc]
    assert red > 200 and green < 60 and blue < 60


def test_black_and_white_render_is_stored_grey(store: PageStore, document: str) -> None:
    [page] = import_file(store, document, vector_pdf([(*A4_PT, GREY_CONTENT)]), dpi=100)
    stored = decoded(store.read_original(page.id))
    assert (stored.mode, page.mode) == ("L", ColorMode.GRAY)
    assert pixels(stored).min() < 50  # the text and line are there
    assert np.median(pixels(stored)) > 250  # on a white page


def test_pages_keep_their_order_across_kinds(store: PageStore, document: str) -> None:
    jpeg = encode(sample_image(), "JPEG")
    pdf = pikepdf.open(io.BytesIO(vector_pdf([(200, 100, GREY_CONTENT)])))
    image_page(pdf, jpeg_xobject(pdf, jpeg, "/DeviceRGB"), 120, 160)
    other = pikepdf.open(io.BytesIO(vector_pdf([(300, 100, COLOUR_CONTENT)])))
    pdf.pages.append(other.pages[0])
    pages = import_file(store, document, save(pdf), dpi=72)
    assert [(p.width, p.height) for p in pages] == [(200, 100), (240, 320), (300, 100)]
    assert store.read_original(pages[1].id) == jpeg
    assert [p.index for p in store.list_pages(document)] == [0, 1, 2]


# -- passwords ----------------------------------------------------------------------------------


def test_encrypted_pdf_needs_its_password(store: PageStore, document: str) -> None:
    jpeg = encode(sample_image(), "JPEG")
    data = encrypted(img2pdf.convert(jpeg), "s3cret")
    with pytest.raises(PdfPasswordRequired) as missing:
        import_file(store, document, data)
    assert (missing.value.code, missing.value.http_status) == ("pdf_password_required", 422)
    assert missing.value.detail["password_given"] is False
    with pytest.raises(PdfPasswordRequired) as wrong:
        import_file(store, document, data, password="guess")
    assert wrong.value.detail["password_given"] is True
    assert store.list_pages(document) == []
    [page] = import_file(store, document, data, password="s3cret")
    assert store.read_original(page.id) == jpeg


def test_encrypted_vector_pdf_is_rendered_with_the_password(store: PageStore,
                                                            document: str) -> None:
    data = encrypted(vector_pdf([(144, 72, COLOUR_CONTENT)]), "pw")
    [page] = import_file(store, document, data, password="pw", dpi=100)
    assert (page.width, page.height) == (200, 100)


# -- refused ------------------------------------------------------------------------------------


def test_huge_page_is_refused_before_rendering(store: PageStore, document: str) -> None:
    """A 200 x 200 inch page at 300 dpi would be 60000 x 60000 pixels (10.8 GB)."""
    data = vector_pdf([(200 * 72, 200 * 72, GREY_CONTENT)])
    with pytest.raises(ImportTooLarge) as caught:
        import_file(store, document, data, dpi=300)
    assert (caught.value.code, caught.value.http_status) == ("import_too_large", 413)
    assert caught.value.detail["limit"] == "pixels"
    assert store.list_pages(document) == []
    assert _scratch_is_clean(store)


def test_a_failing_last_page_removes_the_earlier_ones(store: PageStore, document: str) -> None:
    data = vector_pdf([(144, 144, GREY_CONTENT), (144, 144, COLOUR_CONTENT),
                       (200 * 72, 200 * 72, GREY_CONTENT)])
    counts: list[int] = []
    with pytest.raises(ImportTooLarge):
        import_file(store, document, data, dpi=300,
                    progress=lambda done, total: counts.append(len(store.list_pages(document))))
    assert counts == [1, 2]
    assert store.list_pages(document) == []


def test_image_page_over_the_pixel_cap_is_refused(store: PageStore, document: str) -> None:
    pdf = img2pdf.convert(encode(sample_image(400, 300), "JPEG"))
    with pytest.raises(ImportTooLarge) as caught:
        import_file(store, document, pdf, max_pixels=100_000)
    assert caught.value.detail["limit"] == "pixels"


def test_text_file_named_pdf_is_unsupported(store: PageStore, document: str,
                                            tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_text("Quarterly report\nNot really a PDF.\n")
    with pytest.raises(ImportUnsupportedFormat):
        import_file(store, document, path)


@pytest.mark.parametrize("data", [
    b"%PDF-1.7\n" + b"garbage " * 100,
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
])
def test_corrupt_pdf_is_invalid(store: PageStore, document: str, data: bytes) -> None:
    with pytest.raises(ImportInvalid) as caught:
        import_file(store, document, data)
    assert (caught.value.code, caught.value.http_status) == ("import_invalid", 422)
    assert store.list_pages(document) == []
    assert _scratch_is_clean(store)


def test_truncated_pdf_is_imported_or_refused_never_half(store: PageStore,
                                                         document: str) -> None:
    data = vector_pdf([(144, 144, GREY_CONTENT)] * 3)
    try:
        pages = import_file(store, document, data[: len(data) * 2 // 3])
    except ImportInvalid:
        pages = []
    assert [p.id for p in store.list_pages(document)] == [p.id for p in pages]
