"""The OCR pool: one single-threaded tesseract per worker, order, progress, cancel, asyncio."""

from __future__ import annotations

import asyncio
import threading
import time

import psutil
import pytest

from scanlet.errors import InvalidSetting
from scanlet.ocr import OcrCancelled, OcrError, OcrPage, OcrPool, OcrResult
from tests.ocr.conftest import ScannedText, tesseract_children, wait_for_tesseracts


class Sampler(threading.Thread):
    """Watches this process's tesseract children: how many at once, their threads and env."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.most_at_once = 0
        self.most_threads = 0
        self.thread_limits: set[str | None] = set()

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
            time.sleep(0.02)

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
    with Sampler() as sampler:
        results = pool.run(pages, progress=lambda d, t: calls.append(
            (d, t, threading.get_ident())))
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


def test_cancel_mid_run_kills_tesseracts(pool: OcrPool, dense_png: bytes) -> None:
    cancel = threading.Event()
    calls: list[tuple[int, int]] = []
    sampler = Sampler()
    cancelled_at: list[float] = []

    def cancel_while_running() -> None:
        wait_for_tesseracts(2)
        time.sleep(1.5)  # long enough for OpenMP to have started threads, were it allowed
        cancelled_at.append(time.monotonic())
        cancel.set()

    helper = threading.Thread(target=cancel_while_running)
    with sampler:
        helper.start()
        with pytest.raises(OcrCancelled) as caught:
            pool.run([OcrPage(dense_png, dpi=300)] * 4, progress=lambda d, t: calls.append((d, t)),
                     cancel=cancel)
        returned = time.monotonic()
    helper.join()
    assert caught.value.code == "ocr_cancelled"
    assert returned - cancelled_at[0] < 1.0  # each page needs several seconds
    assert calls == []
    assert tesseract_children() == []
    assert sampler.most_at_once == 2
    assert sampler.most_threads == 1
    assert sampler.thread_limits == {"1"}


def test_progress_raising_aborts_the_run(pool: OcrPool, scans: list[ScannedText],
                                         dense_png: bytes) -> None:
    calls: list[int] = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        raise RuntimeError("client went away")

    pages = [OcrPage(scans[0].data, dpi=300)] + [OcrPage(dense_png, dpi=300)] * 3
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="client went away"):
        pool.run(pages, progress=progress)
    assert calls == [1]
    assert time.monotonic() - started < 3.0  # three dense pages would take far longer
    assert tesseract_children() == []


def test_a_failing_page_stops_the_run(pool: OcrPool, scans: list[ScannedText],
                                      dense_png: bytes) -> None:
    pages = [OcrPage(dense_png, dpi=300), OcrPage(b"not an image"),
             OcrPage(dense_png, dpi=300), OcrPage(scans[0].data, dpi=300)]
    started = time.monotonic()
    with pytest.raises(OcrError) as caught:
        pool.run(pages)
    assert time.monotonic() - started < 3.0  # the dense pages were not left to finish
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


def test_run_async_keeps_the_loop_responsive(pool: OcrPool, scans: list[ScannedText]) -> None:
    async def main() -> tuple[list[OcrResult], list[tuple[int, int, int]], float, int]:
        loop_thread = threading.get_ident()
        calls: list[tuple[int, int, int]] = []
        gaps: list[float] = []
        running = True

        async def ticker() -> None:
            last = time.monotonic()
            while running:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        ticking = asyncio.create_task(ticker())
        pages = [OcrPage(scan.data, dpi=300) for scan in scans] * 2
        results = await pool.run_async(
            pages, progress=lambda d, t: calls.append((d, t, threading.get_ident())))
        running = False
        await ticking
        return results, calls, max(gaps), loop_thread

    results, calls, worst_gap, loop_thread = asyncio.run(main())
    assert_texts(results, scans * 2)
    assert [(d, t) for d, t, _ in calls] == [(i, 8) for i in range(1, 9)]
    assert {ident for *_, ident in calls} == {loop_thread}
    # The 8 pages take over a second; a loop blocked by OCR would miss its ticks that long.
    assert worst_gap < 0.5, worst_gap


def test_run_async_cancelled_by_the_task(pool: OcrPool, dense_png: bytes) -> None:
    async def main() -> float:
        task = asyncio.create_task(pool.run_async([OcrPage(dense_png, dpi=300)] * 4))
        await asyncio.to_thread(wait_for_tesseracts, 2)
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - cancelled_at

    assert asyncio.run(main()) < 1.0
    assert tesseract_children() == []


def test_run_async_cancel_event(pool: OcrPool, dense_png: bytes) -> None:
    cancel = threading.Event()

    async def main() -> float:
        running = asyncio.create_task(
            pool.run_async([OcrPage(dense_png, dpi=300)] * 3, cancel=cancel))
        await asyncio.to_thread(wait_for_tesseracts, 2)
        cancelled_at = time.monotonic()
        cancel.set()
        with pytest.raises(OcrCancelled):
            await running
        return time.monotonic() - cancelled_at

    assert asyncio.run(main()) < 1.0
    assert tesseract_children() == []
