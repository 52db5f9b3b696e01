"""Rendering: fitting, format conversion, ETags, the thumbnail cache and the RAM bound."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import JpegImagePlugin

from scanlet.buffer import PageStore
from scanlet.codecs import render as rendering
from scanlet.config import Home
from scanlet.crypto import MAGIC
from scanlet.errors import InvalidSetting
from tests.buffer.testdata import KEY, decoded, make_jpeg, make_png


@pytest.fixture
def page_id(store: PageStore) -> str:
    doc = store.create_document()
    return store.add_image(doc.id, make_jpeg(400, 300, seed=2), "jpeg", dpi=300).id


@pytest.mark.parametrize(("box", "expected"), [
    ((100, 100), (100, 75)),
    ((None, 30), (40, 30)),
    ((200, None), (200, 150)),
    ((1000, 1000), (400, 300)),  # never upscaled
    ((399, 1000), (399, 299)),
])
def test_fits_box_keeping_aspect(store: PageStore, page_id: str,
                                 box: tuple[int | None, int | None],
                                 expected: tuple[int, int]) -> None:
    result = store.render(page_id, width=box[0], height=box[1])
    assert result.media_type == "image/jpeg"
    assert decoded(result.data).size == expected


def test_same_size_same_format_is_the_original(store: PageStore, page_id: str) -> None:
    original = store.read_original(page_id)
    assert store.render(page_id).data == original
    assert store.render(page_id, width=5000, height=5000).data == original


def test_format_conversion_and_dpi(store: PageStore, page_id: str) -> None:
    png = store.render(page_id, fmt="png")
    assert png.media_type == "image/png"
    image = decoded(png.data)
    assert image.format == "PNG" and image.size == (400, 300)
    assert np.array_equal(np.asarray(image), np.asarray(decoded(store.read_original(page_id))))
    small = decoded(store.render(page_id, width=100).data)
    assert small.info["dpi"][0] == pytest.approx(75, abs=0.5)  # physical size kept


def test_bilevel_and_16bit_pages_render(store: PageStore) -> None:
    doc = store.create_document()
    for mode in ("1", "I;16"):
        page = store.add_image(doc.id, make_png(200, 100, mode=mode), "png")
        for fmt in ("jpeg", "png"):
            image = decoded(store.render(page.id, width=50, fmt=fmt).data)
            assert image.size == (50, 25) and image.mode == "L"


def test_etag_stable_and_specific(home: Home) -> None:
    with PageStore(home, KEY) as store:
        doc = store.create_document()
        page = store.add_image(doc.id, make_jpeg(400, 300), "jpeg").id
        twin = store.add_image(doc.id, make_jpeg(400, 300), "jpeg").id  # same content
        other = store.add_image(doc.id, make_jpeg(400, 300, seed=5), "jpeg").id
        tags = {
            "thumb": store.render(page, width=100).etag,
            "thumb_q": store.render(page, width=100, quality=50).etag,
            "png": store.render(page, width=100, fmt="png").etag,
            "orig": store.render(page).etag,
            "other": store.render(other, width=100).etag,
        }
        assert len(set(tags.values())) == len(tags)
        assert all(t.startswith('"') and t.endswith('"') for t in tags.values())
        assert store.render(page, width=100).etag == tags["thumb"]
        assert store.render(twin, width=100).etag == tags["thumb"]  # content-derived
    with PageStore(home, KEY) as reopened:
        assert reopened.render(page, width=100).etag == tags["thumb"]
        assert reopened.render(page).etag == tags["orig"]


def test_thumbnail_cache_hits(store: PageStore, page_id: str, home: Home,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = rendering.render

    def counting(*args: object, **kwargs: object) -> bytes:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rendering, "render", counting)
    first = store.render(page_id, width=64)
    assert len(calls) == 1
    thumbs = list(home.thumbnails.iterdir())
    assert len(thumbs) == 1 and thumbs[0].name.startswith(page_id)
    assert thumbs[0].read_bytes().startswith(MAGIC)  # encrypted at rest
    assert store.render(page_id, width=64) == first  # RAM hit
    store.ram_cache.clear()
    assert store.render(page_id, width=64) == first  # disk hit
    assert len(calls) == 1
    thumbs[0].write_bytes(b"damaged")
    store.ram_cache.clear()
    assert store.render(page_id, width=64).etag == first.etag  # re-rendered
    assert len(calls) == 2


def test_invalid_parameters(store: PageStore, page_id: str) -> None:
    for kwargs in ({"width": 0}, {"height": -1}, {"width": 1.5}, {"width": True},
                   {"fmt": "gif"}, {"quality": 0}, {"quality": 101}):
        with pytest.raises(InvalidSetting):
            store.render(page_id, **kwargs)


def test_ram_cache_is_bounded(home: Home) -> None:
    pages = [make_jpeg(300, 300, seed=i) for i in range(8)]
    bound = 3 * max(len(p) for p in pages)
    with PageStore(home, KEY, ram_cache_bytes=bound) as store:
        doc = store.create_document()
        added = [store.add_image(doc.id, data, "jpeg").id for data in pages]
        assert store.ram_cache.size <= bound
        for page in added * 2:
            store.read_original(page)
            store.render(page, width=40)
            assert store.ram_cache.size <= bound
        assert 0 < len(store.ram_cache) <= 3 + 8  # a few originals plus small thumbs
        store.ram_cache.clear()
        store.read_original(added[0], cache=False)
        assert store.ram_cache.size == 0
    with PageStore(home, KEY, ram_cache_bytes=0) as uncached:
        assert uncached.read_original(added[0]) == pages[0]
        assert uncached.ram_cache.size == 0


def test_jpeg_thumbnail_uses_draft(store: PageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = store.create_document()
    page = store.add_image(doc.id, make_jpeg(800, 600), "jpeg")
    seen: list[tuple[int, int]] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None,
            size: tuple[int, int] | None) -> object:
        result = real_draft(self, mode, size)
        seen.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    store.render(page.id, width=100)
    assert seen and seen[-1][0] <= 200  # decoded at 1/4 scale or smaller, not 800 wide
