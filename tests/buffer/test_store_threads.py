"""Thread-safety smoke test: concurrent adds, reads, renders, moves and deletes."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest

from scanlet.buffer import PageStore
from scanlet.config import Home
from scanlet.errors import InvalidSetting, PageNotFound
from tests.buffer.testdata import KEY, ScanFactory, make_jpeg


@pytest.mark.timeout(60)
def test_concurrent_use(home: Home, scanned: ScanFactory) -> None:
    store = PageStore(home, KEY, ram_cache_bytes=64 * 1024)
    docs = [store.create_document(f"d{i}").id for i in range(2)]
    handovers = [scanned() for _ in range(40)]
    images = [make_jpeg(seed=i) for i in range(7)]
    errors: list[BaseException] = []
    added: list[str] = []
    deleted: list[str] = []
    stop = threading.Event()

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # reported below
                errors.append(exc)
                stop.set()
        return run

    def adder(offset: int) -> Callable[[], None]:
        def work() -> None:
            for n, page in enumerate(handovers[offset::2]):
                added.append(store.add_page(docs[n % 2], page).id)
                added.append(store.add_image(docs[n % 2], images[n % 7], "jpeg").id)
        return work

    def reader() -> None:
        rng = random.Random(threading.get_ident())
        while not stop.is_set():
            for doc in docs:
                for page in store.list_pages(doc):
                    try:
                        store.read_original(page.id)
                        store.render(page.id, width=rng.choice((16, 32)))
                    except PageNotFound:
                        pass  # deleted meanwhile
            store.list_documents()

    def mover() -> None:
        rng = random.Random(7)
        while not stop.is_set():
            doc = rng.choice(docs)
            pages = [p.id for p in store.list_pages(doc)]
            if len(pages) < 3:
                continue
            try:
                store.move_pages(doc, rng.sample(pages, 2), 0)
                if rng.random() < 0.2:
                    victim = rng.choice(pages)
                    store.delete_pages([victim])
                    deleted.append(victim)
            except (PageNotFound, InvalidSetting):
                pass  # the page set changed between list and move: expected

    threads = [threading.Thread(target=guarded(adder(0))), threading.Thread(target=guarded(
        adder(1)))]
    background = [threading.Thread(target=guarded(reader)) for _ in range(2)]
    background.append(threading.Thread(target=guarded(mover)))
    for thread in threads + background:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    for thread in background:
        thread.join()
    assert not errors, errors
    listed = [p for doc in docs for p in store.list_pages(doc)]
    assert sorted(p.id for p in listed) == sorted(set(added) - set(deleted))
    for doc in docs:
        assert [p.index for p in store.list_pages(doc)] == list(
            range(store.get_document(doc).page_count))
    for page in listed:
        store.read_original(page.id)
    assert store.ram_cache.size <= 64 * 1024
    assert len(list(home.pages.iterdir())) == len(listed)
    store.close()
