"""Page previews: their size rule, how they are made, and renditions made from them."""

from __future__ import annotations

import hashlib
import io
import pathlib

import numpy as np
import pytest
from PIL import Image

from scanlet.buffer import PageStore
from scanlet.buffer.files import PAGE_SUFFIX
from scanlet.buffer.renditions import PREVIEW_PARAMS, tag_for
from scanlet.codecs import render as rendering
from scanlet.codecs.render import make_preview, preview_factor, preview_of_image, preview_size
from scanlet.config import Home
from scanlet.crypto import MAGIC
from scanlet.devices.encode import EncodedPage
from scanlet.devices.pipeline import PageStore as WorkerPageStore
from scanlet.models import ColorMode, ScannedPage, Source
from tests.buffer.testdata import KEY, decoded, image_of, make_jpeg, make_png


@pytest.mark.parametrize(("size", "factor"), [
    ((2480, 3507), 4), ((4960, 7016), 8), ((1240, 1754), 2), ((1719, 900), 1),
    ((1720, 10), 2), ((100, 100), 1), ((200_000, 5), 64),
])
def test_preview_factor(size: tuple[int, int], factor: int) -> None:
    assert preview_factor(*size) == factor
    expected = None if factor == 1 else (-(-size[0] // factor), -(-size[1] // factor))
    assert preview_size(*size) == expected
    if expected:
        assert max(expected) >= rendering.PREVIEW_MIN_LONG_SIDE


@pytest.mark.parametrize(("fmt", "mode", "size"), [
    ("jpeg", "RGB", (1723, 2001)), ("jpeg", "L", (3500, 1801)), ("png", "1", (1800, 977)),
    ("png", "I;16", (1750, 1750)), ("png", "RGB", (3441, 1000)),
])
def test_made_previews_have_the_promised_size(fmt: str, mode: str,
                                              size: tuple[int, int]) -> None:
    data = (make_jpeg if fmt == "jpeg" else make_png)(*size, mode=mode)
    preview = make_preview(data, fmt)  # type: ignore[arg-type]
    assert preview is not None
    image = decoded(preview)
    assert image.format == "JPEG" and image.size == preview_size(*size)
    assert image.mode == ("RGB" if mode == "RGB" else "L")
    from_pixels = preview_of_image(decoded(data))
    assert from_pixels is not None and decoded(from_pixels).size == image.size
    assert make_preview(make_jpeg(100, 100), "jpeg") is None


def smooth_jpeg(width: int, height: int) -> bytes:
    """Gradients and a dark bar: a picture whose downscales agree whatever the filter."""
    y, x = np.mgrid[0:height, 0:width]
    picture = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)],
                       axis=2)
    picture[height // 4 : height // 3, width // 8 : width // 2] = 20  # like a line of text
    out = io.BytesIO()
    Image.fromarray(picture.astype(np.uint8), "RGB").save(out, "JPEG", quality=90,
                                                          dpi=(300, 300))
    return out.getvalue()


def test_preview_looks_like_the_page() -> None:
    data = smooth_jpeg(1800, 1200)
    preview = decoded(make_preview(data, "jpeg") or b"")
    page = decoded(data).reduce(2)
    error = np.abs(np.asarray(preview, dtype=float) - np.asarray(page, dtype=float))
    assert error.mean() < 3


def preview_tag(store: PageStore, page_id: str) -> str:
    return tag_for(hashlib.sha256(store.read_original(page_id)).hexdigest(), PREVIEW_PARAMS)


@pytest.fixture
def big_page(store: PageStore, document: str) -> str:
    return store.add_image(document, smooth_jpeg(1800, 2400), "jpeg", dpi=300).id


def test_renditions_come_from_the_preview(store: PageStore, big_page: str, home: Home,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    sources: list[tuple[int, int]] = []
    real = rendering.render

    def spy(data: bytes, *args: object, **kwargs: object) -> bytes:
        sources.append(decoded(data).size)
        return real(data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rendering, "render", spy)
    # Imported: its preview was made from the pixels decoded to check the import.
    assert [p.name for p in home.thumbnails.iterdir()] == [
        f"{big_page}.{preview_tag(store, big_page)}{PAGE_SUFFIX}"]
    kept = store.render(big_page, width=585, height=513)
    assert sources == [(900, 1200)]
    # A page without one (stored by an older version, a failed handover) gets it on its first
    # view, the thumbnail drawn from the preview's pixels: decoded once for both.
    for path in home.thumbnails.iterdir():
        path.unlink()
    store.ram_cache.clear()
    sources.clear()
    first = store.render(big_page, width=585, height=513)
    assert decoded(first.data).size == (385, 513)
    assert sources == []
    assert decoded(kept.data).size == (385, 513)
    files = sorted(p.name for p in home.thumbnails.iterdir())
    assert len(files) == 2 and all(name.startswith(big_page) for name in files)
    assert all(p.read_bytes().startswith(MAGIC) for p in home.thumbnails.iterdir())
    store.ram_cache.clear()
    small = store.render(big_page, width=100)
    assert sources == [(900, 1200)]  # the kept preview, not the 1800x2400 original
    store.render(big_page, width=1000)  # larger than the preview: from the original
    assert sources[-1] == (1800, 2400)
    # With every cache gone, the same renditions have the same bytes.
    store.ram_cache.clear()
    for path in home.thumbnails.iterdir():
        path.unlink()
    assert store.render(big_page, width=585, height=513) == first
    assert store.render(big_page, width=100) == small


def test_thumbnail_from_preview_matches_the_direct_one(store: PageStore,
                                                       big_page: str) -> None:
    original = store.read_original(big_page)
    direct = decoded(rendering.render(original, "jpeg", (300, 400), "png", dpi=50))
    for _ in range(2):  # from the preview's pixels, then from its JPEG
        via_preview = decoded(store.render(big_page, width=300, fmt="png").data)
        error = np.abs(np.asarray(direct, dtype=float) - np.asarray(via_preview, dtype=float))
        assert error.mean() < 2
        store.ram_cache.clear()
        for path in store.home.thumbnails.iterdir():
            if not path.name.startswith(f"{big_page}.{preview_tag(store, big_page)}"):
                path.unlink()


def test_damaged_preview_is_made_again(store: PageStore, big_page: str, home: Home) -> None:
    store.render(big_page, width=200)
    for path in home.thumbnails.iterdir():
        path.write_bytes(b"damaged")
    store.ram_cache.clear()
    assert decoded(store.render(big_page, width=200).data).size == (200, 267)


def test_preview_of_bilevel_page_is_antialiased() -> None:
    image = image_of(1800, 1000, mode="1")
    preview = decoded(preview_of_image(image) or b"")
    assert preview.mode == "L" and len(np.unique(np.asarray(preview))) > 2


def worker_handover(home: Home, data: bytes, preview: bytes | None) -> ScannedPage:
    """The page as the scan worker's writer hands it over, with the preview it made."""
    encoded = EncodedPage(data=data, format="jpeg", width=decoded(data).width,
                          height=decoded(data).height, dpi=300.0, bit_depth=8,
                          mode=ColorMode.COLOR, source=Source.FLATBED, preview=preview)
    return WorkerPageStore(incoming_dir=home.incoming, key=KEY, fsync=False).write(encoded)


def test_a_preview_made_by_the_scan_worker_is_used(store: PageStore, document: str,
                                                   home: Home,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    data = smooth_jpeg(1800, 2400)
    worker_made = preview_of_image(decoded(data))  # as the worker does, from pixels
    assert worker_made is not None
    handed = worker_handover(home, data, worker_made)
    assert handed.preview_path is not None
    assert pathlib.Path(handed.preview_path).read_bytes().startswith(MAGIC)
    page = store.add_page(document, handed)
    assert list(home.incoming.iterdir()) == []  # both files taken over
    monkeypatch.setattr(rendering, "decode_preview", None)  # must not be needed
    assert decoded(store.render(page.id, width=200).data).size == (200, 267)
    assert store._renditions.preview(store._stored(page.id)) == worker_made


def test_a_damaged_handed_over_preview_is_made_again(store: PageStore, document: str,
                                                     home: Home) -> None:
    data = smooth_jpeg(1800, 2400)
    handed = worker_handover(home, data, preview_of_image(decoded(data)))
    assert handed.preview_path is not None
    pathlib.Path(handed.preview_path).write_bytes(b"not encrypted")
    page = store.add_page(document, handed)
    thumb = decoded(store.render(page.id, width=200).data)
    assert thumb.size == (200, 267)
    direct = decoded(rendering.render(data, "jpeg", (200, 267), "png", dpi=33))
    error = np.abs(np.asarray(direct, dtype=float) - np.asarray(thumb, dtype=float))
    assert error.mean() < 3


def test_a_preview_path_outside_incoming_is_left_alone(store: PageStore, document: str,
                                                       home: Home,
                                                       tmp_path: pathlib.Path) -> None:
    data = smooth_jpeg(1800, 2400)
    handed = worker_handover(home, data, None)
    assert handed.preview_path is None
    victim = tmp_path / "users-file.txt"
    victim.write_text("mine")
    page = store.add_page(document, handed.model_copy(update={"preview_path": str(victim)}))
    assert victim.read_text() == "mine"
    assert decoded(store.render(page.id, width=200).data).size == (200, 267)
