"""Fixtures for the OCR tests: pages scanned through the real SANE pnm backend, a pool, and a
real page store holding scanned pages."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil
import pytest

from scanlet.buffer import PageStore
from scanlet.config import Home
from scanlet.models import PageInfo
from scanlet.ocr import OcrPool
from tests.buffer.testdata import KEY
from tests.ocr.pages import PAGE_WORDS, TextPage, dense_page, encode, scanned, text_page


@dataclass(frozen=True)
class ScannedText:
    """A generated page after SANE: its words, where they were drawn, and its file."""

    words: list[str]
    page: TextPage
    data: bytes
    fmt: Literal["jpeg", "png"]


@pytest.fixture(scope="session")
def scans(tmp_path_factory: pytest.TempPathFactory) -> list[ScannedText]:
    """One page per PAGE_WORDS entry; even pages colour JPEG, odd pages grey PNG."""
    result = []
    for index, words in enumerate(PAGE_WORDS):
        page = text_page([" ".join(words), "the quick brown fox"])
        gray = index % 2 == 1
        fmt: Literal["jpeg", "png"] = "png" if gray else "jpeg"
        image = scanned(page.image, tmp_path_factory.mktemp(f"scan{index}"), gray=gray)
        result.append(ScannedText(words, page, encode(image, fmt), fmt))
    return result


@pytest.fixture(scope="session")
def dense_png(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A scanned A4 300 dpi page full of text (seconds of OCR), for cancel and timeout."""
    return encode(scanned(dense_page(), tmp_path_factory.mktemp("dense"), gray=True), "png")


@pytest.fixture
def pool() -> Iterator[OcrPool]:
    with OcrPool(workers=2) as ocr_pool:
        yield ocr_pool


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PageStore]:
    with PageStore(Home(tmp_path / "home").create(), KEY, fsync=False) as page_store:
        yield page_store


@pytest.fixture
def stored(store: PageStore, scans: list[ScannedText]) -> list[PageInfo]:
    """The scanned pages as pages of one buffer document."""
    document = store.create_document("ocr").id
    return [store.add_image(document, scan.data, scan.fmt, dpi=300) for scan in scans]


def tesseract_children() -> list[psutil.Process]:
    """Running tesseract processes started by this test process."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.name() == "tesseract" and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def wait_for_tesseracts(count: int, timeout: float = 20) -> list[psutil.Process]:
    """Block until ``count`` tesseract children run at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = tesseract_children()
        if len(running) >= count:
            return running
        time.sleep(0.01)
    raise AssertionError(f"{count} tesseract processes never ran at once")


class Freezer(threading.Thread):
    """Stops (SIGSTOP) the first ``limit`` tesseract children of this process as they appear:
    page runs whose input file is as long as ``image`` (any page, if None), once each has used
    ``min_cpu`` seconds of CPU. A frozen page can never finish, whatever the machine's speed,
    so a run that returns anyway has killed it; and a test can look at it meanwhile (its
    threads and environment are recorded at the freeze). Leaving the ``with`` block (or
    :meth:`thaw`) lets the frozen ones run on."""

    def __init__(self, limit: int, *, image: bytes | None = None, min_cpu: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.limit = limit
        self.size = None if image is None else len(image)
        self.min_cpu = min_cpu
        self.frozen: list[psutil.Process] = []
        self.threads: list[int] = []
        self.thread_limits: list[str | None] = []
        self._skipped: set[int] = set()
        self._stopping = threading.Event()
        self._full = threading.Event()

    def _matches(self, proc: psutil.Process) -> bool:
        # A page run (tesseract <scratch>/image <scratch>/page ...), never a quick query such
        # as --list-langs, which the run waits for before it starts any page.
        source = Path(proc.cmdline()[1])
        if source.name != "image":
            return False
        return self.size is None or source.stat().st_size == self.size

    def run(self) -> None:
        while not self._stopping.is_set() and len(self.frozen) < self.limit:
            for proc in tesseract_children():
                if proc in self.frozen or proc.pid in self._skipped:
                    continue
                try:
                    if not self._matches(proc):
                        self._skipped.add(proc.pid)
                        continue
                    cpu = proc.cpu_times()
                    if cpu.user + cpu.system < self.min_cpu:
                        continue
                    proc.suspend()
                    self.threads.append(proc.num_threads())
                    self.thread_limits.append(proc.environ().get("OMP_THREAD_LIMIT"))
                except (psutil.NoSuchProcess, OSError, IndexError):
                    continue  # gone meanwhile, or not exec'ed yet
                self.frozen.append(proc)
                if len(self.frozen) == self.limit:
                    break
            time.sleep(0.01)
        self._full.set()

    def wait_full(self, timeout: float = 60) -> list[psutil.Process]:
        """The frozen processes, once ``limit`` are (``timeout`` guards against a hang)."""
        assert self._full.wait(timeout) and len(self.frozen) == self.limit, (
            f"only {len(self.frozen)} of {self.limit} tesseracts were frozen")
        return list(self.frozen)

    def thaw(self) -> None:
        for proc in self.frozen:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.resume()

    def gone(self) -> bool:
        """Every frozen process has ended (and was reaped)."""
        return not any(proc.is_running() for proc in self.frozen)

    def __enter__(self) -> Freezer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self.join()
        self.thaw()
