"""export_pages' contract: validation before writing, error translation, cache hygiene."""

from __future__ import annotations

import io

import pytest

from scanlet.buffer import PageStore
from scanlet.codecs.export import export_pages, media_type
from scanlet.codecs.options import ExportOptions
from scanlet.config import Home
from scanlet.errors import ExportError, InvalidSetting, PageCorrupt, PageNotFound
from tests.buffer.testdata import make_jpeg, make_png


def test_validation_happens_before_writing(store: PageStore, document: str) -> None:
    page = store.add_image(document, make_jpeg(), "jpeg").id
    out = io.BytesIO()
    with pytest.raises(InvalidSetting):
        export_pages(store, [], "pdf", out)
    with pytest.raises(InvalidSetting):
        export_pages(store, [page], "gif", out)  # type: ignore[arg-type]
    with pytest.raises(InvalidSetting):
        export_pages(store, [page], "jpeg", out, quality=0)
    with pytest.raises(InvalidSetting, match="twice"):
        export_pages(store, [page], "jpeg", out, quality=50, options=ExportOptions(quality=60))
    with pytest.raises(PageNotFound):
        export_pages(store, [page, "ghost"], "pdf", out)
    assert out.getvalue() == b""


def test_corrupt_page(store: PageStore, document: str, home: Home) -> None:
    page = store.add_image(document, make_jpeg(), "jpeg").id
    store.ram_cache.clear()
    (home.pages / f"{page}.slc").write_bytes(b"SLC1" + b"\0" * 40)
    with pytest.raises(PageCorrupt):
        export_pages(store, [page], "tiff", io.BytesIO())


def test_foreign_failures_become_export_error(store: PageStore, document: str) -> None:
    page = store.add_image(document, make_jpeg(), "jpeg").id

    class Broken(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:  # type: ignore[override]
            raise OSError("disk full")

    for fmt in ("pdf", "tiff", "jpeg"):
        with pytest.raises(ExportError, match="disk full"):
            export_pages(store, [page], fmt, Broken())  # type: ignore[arg-type]


def test_export_does_not_fill_the_ram_cache(store: PageStore, document: str) -> None:
    pages = [store.add_image(document, make_jpeg(seed=i), "jpeg").id for i in range(3)]
    store.ram_cache.clear()
    export_pages(store, pages, "pdf", io.BytesIO())
    assert store.ram_cache.size == 0


def test_media_types() -> None:
    assert media_type("pdf", 3) == "application/pdf"
    assert media_type("tiff", 1) == "image/tiff"
    assert media_type("jpeg", 1) == "image/jpeg"
    assert media_type("png", 2) == "application/zip"
    assert media_type("bmp", 1) == "image/bmp"
    assert media_type("webp", 1) == "image/webp"


def test_quality_alone_still_works(store: PageStore, document: str) -> None:
    page = store.add_image(document, make_png(64, 64), "png").id
    sizes = []
    for quality in (10, 95):
        out = io.BytesIO()
        export_pages(store, [page], "jpeg", out, quality=quality)
        sizes.append(len(out.getvalue()))
    same = io.BytesIO()
    export_pages(store, [page], "jpeg", same, quality=95, options=ExportOptions(quality=95))
    assert sizes[0] < sizes[1] == len(same.getvalue())
