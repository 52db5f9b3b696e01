"""Preview backfill: pages that arrived without a preview get one in the background."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from scanlet.buffer import PageStore
from scanlet.buffer.backfill import PreviewBackfill
from scanlet.buffer.renditions import PREVIEW_PARAMS, tag_for
from scanlet.codecs import render as rendering
from scanlet.config import Home
from tests.buffer.testdata import KEY, ScanFactory, decoded, make_jpeg


@pytest.fixture
def document(store: PageStore, home: Home) -> str:
    # The helper process reads the install's key file, as the service's own store does.
    home.cache_key.parent.mkdir(parents=True, exist_ok=True)
    home.cache_key.write_bytes(KEY)
    return store.create_document("backfill").id


def preview_files(home: Home, page_id: str, digest: str) -> list[Path]:
    return [p for p in home.thumbnails.iterdir()
            if p.name.startswith(f"{page_id}.{tag_for(digest, PREVIEW_PARAMS)}")]


def test_pages_without_a_preview_get_one(store: PageStore, document: str, home: Home,
                                         scanned: ScanFactory,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    data = make_jpeg(1800, 2400)
    pages = [store.add_page(document, scanned(data)) for _ in range(3)]
    digest = hashlib.sha256(data).hexdigest()
    assert all(preview_files(home, p.id, digest) == [] for p in pages)  # handed over bare
    backfill = PreviewBackfill(home, KEY)
    try:
        for page in pages:
            backfill.submit(page.id)
        assert backfill.idle(timeout=30)
        assert backfill.made == 3
        assert all(len(preview_files(home, p.id, digest)) == 1 for p in pages)
        store.ram_cache.clear()
        monkeypatch.setattr(rendering, "decode_preview", None)  # the original is not needed
        assert decoded(store.render(pages[0].id, width=585, height=513).data).size == \
            (385, 513)
    finally:
        backfill.close()


def test_deleted_pages_are_skipped_and_the_helper_runs_at_the_lowest_priority(
        store: PageStore, document: str, home: Home, scanned: ScanFactory) -> None:
    page = store.add_page(document, scanned(make_jpeg(1800, 2400)))
    gone = store.add_page(document, scanned(make_jpeg(1800, 2400, seed=3)))
    store.delete_pages([gone.id])
    backfill = PreviewBackfill(home, KEY, idle_exit=0.5)
    try:
        backfill.submit(gone.id)
        backfill.submit(page.id)
        assert backfill.idle(timeout=30)
        assert (backfill.made, backfill.skipped) == (1, 1)
        helper = psutil.Process(backfill.pid)
        assert helper.nice() == 19 and helper.ppid() == os.getpid()
        helper.wait(timeout=10)  # idle for idle_exit seconds: it goes away by itself
        again = store.add_page(document, scanned(make_jpeg(1800, 2400, seed=5)))
        backfill.submit(again.id)  # and comes back on demand
        assert backfill.idle(timeout=30) and backfill.made == 2
        assert backfill.pid != helper.pid
    finally:
        backfill.close()
    assert not psutil.pid_exists(backfill.pid) or \
        psutil.Process(backfill.pid).status() == psutil.STATUS_ZOMBIE
