"""JPEG/PNG export: single images, ZIPs of several, dpi everywhere, no needless re-encoding."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from scanlet.buffer import PageStore
from scanlet.codecs.export import export_pages
from scanlet.codecs.raster import member_names
from tests.buffer.testdata import NonSeekable, decoded, make_jpeg, make_png


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
