"""Hand-overs whose writer declared a digest: trusted facts, checked on every read."""

from __future__ import annotations

import hashlib

import pytest

from scanlet.buffer import PageStore
from scanlet.errors import PageCorrupt
from tests.buffer.testdata import ScanFactory, make_jpeg


def test_declared_page_is_stored_and_reads_back(store: PageStore, scanned: ScanFactory) -> None:
    data = make_jpeg(seed=3)
    page = scanned(data)
    page = page.model_copy(update={"sha256": hashlib.sha256(data).hexdigest()})
    document = store.create_document()
    info = store.add_page(document.id, page)
    assert (info.width, info.height, info.bytes) == (page.width, page.height, len(data))
    assert store.read_original(info.id) == data


def test_declared_size_must_match_the_file(store: PageStore, scanned: ScanFactory) -> None:
    data = make_jpeg(seed=4)
    page = scanned(data).model_copy(update={"sha256": hashlib.sha256(data).hexdigest(),
                                            "bytes": len(data) + 1})
    document = store.create_document()
    with pytest.raises(PageCorrupt):
        store.add_page(document.id, page)
    assert store.list_pages(document.id) == []


def test_wrong_declared_digest_is_caught_on_read(store: PageStore,
                                                 scanned: ScanFactory) -> None:
    page = scanned(make_jpeg(seed=5)).model_copy(update={"sha256": "0" * 64})
    document = store.create_document()
    info = store.add_page(document.id, page)
    with pytest.raises(PageCorrupt):
        store.read_original(info.id, cache=False)
