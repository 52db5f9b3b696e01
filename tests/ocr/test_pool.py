"""The OCR pool: one single-threaded tesseract per worker, order, progress, cancel, asyncio."""

from __future__ import annotations

import asyncio
import threading
import time

import psutil
import pytest

from scanlet.errors import InvalidSetting
from scanlet.ocr import OcrCancelled, OcrError, OcrPage, OcrPool, OcrResult
from tests.ocr.conftest import Freezer, ScannedText, tesseract_children


class Sampler(threading.Thread):
    """Watches this process's tesseract children: how many at once, their threads and env."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.most_at_once = 0
        self.most_threads = 0
        self.thread_limits: set[str | None] = set()
        self.samples = 0
        self.sampled = threading.Condition()

    def run(self) -> None:
        while not self.stop.is_set():
            running = tesseract_children()
            self.most_at_once = max(self.most_at_once, len(running))
            for proc in running:
                try:
                    self.most_threads = max(self.most_threads, proc.num_threads())
                    environ = proc.environ()
                    # Empty while the kernel is still setting up the exec'ed program (its name
                    # is already "tesseract") or tearing it down; its real env is never empty.
                    if environ:
                        self.thread_limits.add(environ.get("OMP_THREAD_LIMIT"))
                except psutil.NoSuchProcess:
                    continue
            with self.sampled:
                self.samples += 1
                self.sampled.notify_all()
            time.sleep(0.02)

    def wait_for_samples(self, count: int = 2, timeout: float = 30) -> None:
        """Block until ``count`` more samples were taken (``timeout`` guards against a hang):
        what holds meanwhile is in the counts, however slowly this thread is scheduled."""
        with self.sampled:
            wanted = self.samples + count
            assert self.sampled.wait_for(lambda: self.samples >= wanted, timeout)

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join()


def assert_texts(results: list[OcrResult], scans: list[ScannedText]) -> None:
    assert len(results) == len(scans)
    for result, scan in zip(results, scans, strict=True):
        assert result.text is not None
        for word in scan.words:
            assert word in result.text.split(), (word, result.text)


def test_pages_in_order_with_progress_one_tesseract_per_worker(
        pool: OcrPool, scans: list[ScannedText]) -> None:
    calls: list[tuple[int, int, int]] = []
    pages = [OcrPage(scan.data, dpi=300) for scan in scans]

    def hold_two_until_sampled(sampler: Sampler, freezer: Freezer) -> None:
        freezer.wait_full()  # two pages at once, held there until the sampler has seen them
        sampler.wait_for_samples()
        freezer.thaw()

    with Sampler() as sampler, Freezer(2) as freezer:
        holder = threading.Thread(target=hold_two_until_sampled, args=(sampler, freezer))
        holder.start()
        results = pool.run(pages, progress=lambda d, t: calls.append(
            (d, t, threading.get_ident())))
        holder.join()
    assert_texts(results, scans)
    assert [(d, t) for d, t, _ in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert {ident for *_, ident in calls} == {threading.get_ident()}
    assert sampler.most_at_once == pool.workers == 2
    assert sampler.thread_limits == {"1"}
    assert tesseract_children() == []


def test_pages_can_be_loaded_lazily(pool: OcrPool, scans: list[ScannedText]) -> None:
    loaded: list[int] = []

    def loader(index: int) -> bytes:
        loaded.append(index)
        return scans[index].data

    pages = [OcrPage(lambda i=i: loader(i), dpi=300) for i in range(len(scans))]
    assert loaded == []
    results = pool.run(pages, outputs=["text", "hocr"])
    assert sorted(loaded) == [0, 1, 2, 3]
    assert_texts(results, scans)
    assert all(r.hocr is not None and r.pdf is None for r in results)


@pytest.mark.timeout(90)  # a pool that waited for the frozen pages would hang here
def test_cancel_mid_run_kills_tesseracts(pool: OcrPool, dense_png: bytes) -> None:
    cancel = threading.Event()
    calls: list[tuple[int, int]] = []
    sampler = Sampler()
    # Frozen once each has worked a second of CPU (OpenMP would have started threads by then,
    # were it allowed): the pages can then never finish, so only killing them ends the run.
    freezer = Freezer(2, min_cpu=1.0)

    def cancel_while_frozen() -> None:
        freezer.wait_full()
        cancel.set()

    helper = threading.Thread(target=cancel_while_frozen)
    with sampler, freezer:
        helper.start()
        with pytest.raises(OcrCancelled) as caught:
            pool.run([OcrPage(dense_png, dpi=300)] * 4, progress=lambda d, t: calls.append((d, t)),
                     cancel=cancel)
        helper.join()
        assert freezer.gone()
    assert caught.value.code == "ocr_cancelled"
    assert calls == []
    assert tesseract_children() == []
    assert freezer.threads == [1, 1]
    assert freezer.thread_limits == ["1", "1"]
    assert sampler.most_at_once <= 2
    assert sampler.most_threads <= 1
    assert sampler.thread_limits <= {"1"}


@pytest.mark.timeout(90)  # a pool that waited for the frozen dense pages would hang here
def test_progress_raising_aborts_the_run(pool: OcrPool, scans: list[ScannedText],
                                         dense_png: bytes) -> None:
    calls: list[int] = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        raise RuntimeError("client went away")

    pages = [OcrPage(scans[0].data, dpi=300)] + [OcrPage(dense_png, dpi=300)] * 3
    with Freezer(3, image=dense_png) as freezer, \
            pytest.raises(RuntimeError, match="client went away"):
        pool.run(pages, progress=progress)  # the dense pages can never finish
    assert freezer.gone()
    assert calls == [1]
    assert tesseract_children() == []


@pytest.mark.timeout(90)  # a pool that waited for the frozen dense pages would hang here
def test_a_failing_page_stops_the_run(pool: OcrPool, scans: list[ScannedText],
                                      dense_png: bytes) -> None:
    pages = [OcrPage(dense_png, dpi=300), OcrPage(b"not an image"),
             OcrPage(dense_png, dpi=300), OcrPage(scans[0].data, dpi=300)]
    with Freezer(3, image=dense_png) as freezer, pytest.raises(OcrError) as caught:
        pool.run(pages)  # the dense pages can never finish
    assert freezer.gone()
    assert caught.value.code == "ocr_failed"
    assert caught.value.detail["page"] == 1
    assert tesseract_children() == []


def test_bad_language_fails_before_any_work(pool: OcrPool, scans: list[ScannedText]) -> None:
    loaded: list[int] = []

    def loader() -> bytes:
        loaded.append(1)
        return scans[0].data

    with pytest.raises(InvalidSetting) as caught:
        pool.run([OcrPage(loader)], lang="eng+klingon")
    assert caught.value.detail["field"] == "lang"
    assert loaded == []


def test_closed_pool_refuses_work(scans: list[ScannedText]) -> None:
    pool = OcrPool(workers=1)
    pool.close()
    with pytest.raises(OcrCancelled):
        pool.run([OcrPage(scans[0].data)])


@pytest.mark.timeout(90)  # a run_async that blocked the loop would hang here
def test_run_async_keeps_the_loop_responsive(pool: OcrPool, scans: list[ScannedText]) -> None:
    freezer = Freezer(1)

    async def main() -> tuple[list[OcrResult], list[tuple[int, int, int]], int]:
        loop_thread = threading.get_ident()
        calls: list[tuple[int, int, int]] = []
        pages = [OcrPage(scan.data, dpi=300) for scan in scans] * 2
        running = asyncio.create_task(pool.run_async(
            pages, progress=lambda d, t: calls.append((d, t, threading.get_ident()))))
        # A page is frozen, so the run cannot finish: that this coroutine goes on (its
        # awaits need the loop) shows the run does not hold the loop while pages are OCRed.
        await asyncio.to_thread(freezer.wait_full)
        for _ in range(10):
            await asyncio.sleep(0.01)
        assert not running.done()
        freezer.thaw()
        return await running, calls, loop_thread

    with freezer:
        results, calls, loop_thread = asyncio.run(main())
    assert_texts(results, scans * 2)
    assert [(d, t) for d, t, _ in calls] == [(i, 8) for i in range(1, 9)]
    assert {ident for *_, ident in calls} == {loop_thread}


@pytest.mark.timeout(90)  # a cancel that waited for the frozen pages would hang here
def test_run_async_cancelled_by_the_task(pool: OcrPool, dense_png: bytes) -> None:
    freezer = Freezer(2)

    async def main() -> None:
        task = asyncio.create_task(pool.run_async([OcrPage(dense_png, dpi=300)] * 4))
        await asyncio.to_thread(freezer.wait_full)  # two pages that can never finish
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with freezer:
        asyncio.run(main())
        assert freezer.gone()
    assert tesseract_children() == []


@pytest.mark.timeout(90)  # a cancel that waited for the frozen pages would hang here
def test_run_async_cancel_event(pool: OcrPool, dense_png: bytes) -> None:
    cancel = threading.Event()
    freezer = Freezer(2)

    async def main() -> None:
        running = asyncio.create_task(
            pool.run_async([OcrPage(dense_png, dpi=300)] * 3, cancel=cancel))
        await asyncio.to_thread(freezer.wait_full)  # two pages that can never finish
        cancel.set()
        with pytest.raises(OcrCancelled):
            await running

    with freezer:
        asyncio.run(main())
        assert freezer.gone()
    assert tesseract_children() == []
