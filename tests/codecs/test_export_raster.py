"""JPEG/PNG/BMP/WebP export: single images, ZIPs of several, dpi everywhere, no needless
re-encoding."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from scanlet.buffer import PageStore
from scanlet.codecs import raster
from scanlet.codecs.export import export_pages
from scanlet.codecs.options import DocumentMetadata, ExportOptions
from scanlet.codecs.raster import member_names
from scanlet.config import Home
from scanlet.crypto import write_encrypted
from scanlet.errors import InvalidSetting
from scanlet.models import ColorMode, ScannedPage, Source
from tests.buffer.testdata import KEY, NonSeekable, decoded, make_jpeg, make_png


def test_single_jpeg_is_passed_through(store: PageStore, document: str) -> None:
    original = make_jpeg(120, 90, dpi=72)
    page = store.add_image(document, original, "jpeg", dpi=300)
    out = io.BytesIO()
    assert export_pages(store, [page.id], "jpeg", out) == "image/jpeg"
    data = out.getvalue()
    assert len(data) == len(original)  # only the JFIF density changed
    assert sum(a != b for a, b in zip(data, original, strict=True)) <= 5
    image = decoded(data)
    assert image.info["dpi"] == (300, 300)
    assert np.array_equal(np.asarray(image), np.asarray(decoded(original)))


def test_single_png_from_jpeg_is_lossless(store: PageStore, document: str) -> None:
    page = store.add_image(document, make_jpeg(120, 90), "jpeg", dpi=200)
    out = io.BytesIO()
    assert export_pages(store, [page.id], "png", out) == "image/png"
    image = decoded(out.getvalue())
    assert image.format == "PNG" and image.info["dpi"] == pytest.approx((200, 200), abs=0.02)
    assert np.array_equal(np.asarray(image),
                          np.asarray(decoded(store.read_original(page.id))))


@pytest.mark.parametrize("mode", ["1", "I;16", "RGB"])
def test_png_pages_as_jpeg(store: PageStore, document: str, mode: str) -> None:
    page = store.add_image(document, make_png(64, 32, mode=mode), "png", dpi=150)
    out = io.BytesIO()
    export_pages(store, [page.id], "jpeg", out, quality=80)
    image = decoded(out.getvalue())
    assert image.format == "JPEG" and image.size == (64, 32)
    assert image.mode == ("RGB" if mode == "RGB" else "L")
    assert image.info["dpi"] == (150, 150)


def test_several_pages_make_a_zip(store: PageStore, document: str) -> None:
    pages = [store.add_image(document, make_jpeg(60, 40, seed=i), "jpeg", dpi=100 + i).id
             for i in range(3)]
    pages.append(store.add_image(document, make_png(30, 20, mode="1"), "png", dpi=400).id)
    sink = NonSeekable()
    progress: list[tuple[int, int]] = []
    assert export_pages(store, pages, "jpeg", sink.sink,
                        lambda d, t: progress.append((d, t))) == "application/zip"
    with zipfile.ZipFile(io.BytesIO(bytes(sink.buffer))) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["page-001.jpg", "page-002.jpg", "page-003.jpg",
                                      "page-004.jpg"]
        for name, page_id in zip(archive.namelist(), pages, strict=True):
            image = decoded(archive.read(name))
            info = store.get_page(page_id)
            assert image.format == "JPEG" and image.size == (info.width, info.height)
            assert image.info["dpi"] == (info.dpi, info.dpi)
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_png_zip(store: PageStore, document: str) -> None:
    pages = [store.add_image(document, make_png(40, 30, seed=i), "png", dpi=300).id
             for i in range(2)]
    out = io.BytesIO()
    assert export_pages(store, pages, "png", out) == "application/zip"
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["page-001.png", "page-002.png"]
        for name, page_id in zip(archive.namelist(), pages, strict=True):
            got = decoded(archive.read(name))
            assert np.array_equal(np.asarray(got),
                                  np.asarray(decoded(store.read_original(page_id))))


def test_member_names_grow_past_999() -> None:
    names = member_names(1000, "png")
    assert names[0] == "page-0001.png" and names[-1] == "page-1000.png"
    assert member_names(2, "jpeg") == ["page-001.jpg", "page-002.jpg"]


def test_scanned_jpeg_page_is_byte_identical(store: PageStore, document: str,
                                            home: Home) -> None:
    # A page as the scan worker hands it over: a JPEG whose JFIF header says its dpi.
    original = make_jpeg(240, 180, dpi=300, seed=4)
    path = home.incoming / "scan.enc"
    write_encrypted(path, KEY, original, fsync=False)
    page = store.add_page(document, ScannedPage(
        path=str(path), format="jpeg", width=240, height=180, dpi=300, bit_depth=8,
        mode=ColorMode.COLOR, bytes=len(original), source=Source.FLATBED))
    for options in (None, ExportOptions(quality=20, progressive=True)):
        out = io.BytesIO()
        export_pages(store, [page.id], "jpeg", out, options=options)
        assert out.getvalue() == original  # not a byte changed, whatever the quality


def test_reencoded_jpeg(store: PageStore, document: str) -> None:
    page = store.add_image(document, make_jpeg(256, 192), "jpeg", dpi=200)

    def export(**options: object) -> bytes:
        out = io.BytesIO()
        export_pages(store, [page.id], "jpeg", out,
                     options=ExportOptions(reencode_jpeg=True, **options))
        return out.getvalue()

    progressive = decoded(export(progressive=True))
    assert progressive.info.get("progressive") and progressive.info["dpi"] == (200, 200)
    assert not decoded(export()).info.get("progressive")
    assert len(export(quality=20)) < len(export(quality=95))


@pytest.mark.parametrize("mode", ["1", "L", "RGB", "I;16"])
def test_bmp(store: PageStore, document: str, mode: str) -> None:
    stored = make_png(61, 33, mode=mode)
    page = store.add_image(document, stored, "png", dpi=150)
    out = io.BytesIO()
    assert export_pages(store, [page.id], "bmp", out) == "image/bmp"
    image = decoded(out.getvalue())
    assert image.format == "BMP" and image.size == (61, 33)
    assert image.info["dpi"] == pytest.approx((150, 150), abs=0.05)
    original = decoded(stored)
    if mode == "I;16":  # BMP has no 16-bit grey: the high byte is kept
        original = Image.fromarray((np.asarray(original) >> 8).astype(np.uint8))
    assert np.array_equal(np.asarray(image.convert(original.mode)), np.asarray(original))


@pytest.mark.parametrize("mode", ["1", "L", "RGB"])
def test_webp_lossless(store: PageStore, document: str, mode: str) -> None:
    stored = make_png(64, 40, mode=mode) if mode != "RGB" else make_jpeg(64, 40)
    page = store.add_image(document, stored, "png" if mode != "RGB" else "jpeg", dpi=300)
    out = io.BytesIO()
    assert export_pages(store, [page.id], "webp", out,
                        options=ExportOptions(webp_lossless=True)) == "image/webp"
    image = decoded(out.getvalue())
    assert image.format == "WEBP" and image.size == (64, 40)
    want = decoded(stored).convert("RGB")  # WebP stores grey as RGB
    assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(want))
    exif = image.getexif()
    assert float(exif[0x011A]) == 300 and exif[0x0128] == 2  # dpi, in inches


def test_webp_lossy_quality(store: PageStore, document: str) -> None:
    page = store.add_image(document, make_jpeg(200, 150), "jpeg", dpi=240)

    def export(quality: int) -> bytes:
        out = io.BytesIO()
        export_pages(store, [page.id], "webp", out, options=ExportOptions(quality=quality))
        return out.getvalue()

    low, high = export(10), export(95)
    assert len(low) < len(high)
    original = np.asarray(decoded(store.read_original(page.id)), dtype=float)
    error = np.abs(np.asarray(decoded(high).convert("RGB"), dtype=float) - original)
    assert error.mean() < 10
    assert float(decoded(low).getexif()[0x011A]) == 240


def test_webp_size_limit(store: PageStore, document: str,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raster, "WEBP_MAX_SIDE", 100)
    pages = [store.add_image(document, make_jpeg(100, 50), "jpeg").id,
             store.add_image(document, make_jpeg(50, 101), "jpeg").id]
    out = io.BytesIO()
    export_pages(store, pages[:1], "webp", out)
    refused = io.BytesIO()
    with pytest.raises(InvalidSetting, match="page 2 is 50x101"):
        export_pages(store, pages, "webp", refused)
    assert refused.getvalue() == b""


def test_bmp_and_webp_zips(store: PageStore, document: str) -> None:
    pages = [store.add_image(document, make_jpeg(30, 20, seed=i), "jpeg").id for i in range(2)]
    for fmt, ext in (("bmp", "bmp"), ("webp", "webp")):
        out = io.BytesIO()
        assert export_pages(store, pages, fmt, out) == "application/zip"  # type: ignore[arg-type]
        with zipfile.ZipFile(out) as archive:
            assert archive.namelist() == [f"page-001.{ext}", f"page-002.{ext}"]
            assert all(decoded(archive.read(n)).size == (30, 20) for n in archive.namelist())


@pytest.mark.parametrize("fmt", ["jpeg", "png", "bmp", "webp"])
def test_metadata_refused_where_it_cannot_be_kept(store: PageStore, document: str,
                                                  fmt: str) -> None:
    page = store.add_image(document, make_jpeg(), "jpeg").id
    out = io.BytesIO()
    with pytest.raises(InvalidSetting, match="metadata"):
        export_pages(store, [page], fmt, out,  # type: ignore[arg-type]
                     options=ExportOptions(metadata=DocumentMetadata(title="x")))
    assert out.getvalue() == b""
