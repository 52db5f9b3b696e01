"""OCR many pages at once: one single-threaded tesseract per core, with progress and cancel.

The work happens in tesseract processes, so the pool's workers are threads that each start
one tesseract at a time and wait for it: ``workers`` threads keep ``workers`` single-threaded
tesseracts busy, which on these machines is about 6x faster than tesseract's own threading
(reference/performance-facts.md). Threads rather than Python worker processes because a thread
costs nothing while it waits, page bytes need no pickling, and cancel can kill the tesseract
children directly (each polls its cancel token, see :func:`~scanlet.ocr.tesseract.run_page`).

One pool is meant to be shared by the whole service: concurrent runs queue their pages on the
same workers, so OCR never uses more than ``workers`` cores however many tasks are running.

- :meth:`OcrPool.run` blocks (call it from a worker thread, e.g. a ``tasks.Work`` function);
  ``progress(done, total)`` is called in the calling thread; ``cancel`` is a
  :class:`threading.Event`.
- :meth:`OcrPool.run_async` is the same for the event loop: it never blocks the loop,
  ``progress`` runs on the loop, and cancelling the awaiting asyncio task cancels the run.

On cancel, on the first failing page, or when ``progress`` raises, the remaining pages are
dropped, running tesseracts are killed, and the call returns (raising) only after every one of
its tesseract processes is gone.

Dying with the service: each tesseract is started with ``PR_SET_PDEATHSIG`` (see
:mod:`scanlet.childproc`), which Linux ties to the *thread* that started it, not to the
process. That is safe here because a worker thread runs :func:`~scanlet.ocr.tesseract.run_page`,
which waits for (or kills and reaps) its tesseract before returning, and the executor's threads
only end when the pool closes, after their current page: no worker thread ends while a
tesseract it started still runs. Keep it so: never start a tesseract from a thread that
could end before the process does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from scanlet.codecs import pixel_budget
from scanlet.codecs.decode import ImageDecodeError, ImageFormat, open_image, pixels_held
from scanlet.ocr.tesseract import (
    DEFAULT_TIMEOUT,
    CancelToken,
    OcrCancelled,
    OcrError,
    OcrOutput,
    OcrResult,
    check_lang,
    check_outputs,
    find_tesseract,
    run_page,
)

logger = logging.getLogger(__name__)

#: ``progress(done, total)``: pages finished so far; raising from it aborts the run.
Progress = Callable[[int, int], None]

#: How often a waiting run looks at its cancel event (pages queued behind another run's).
_CHECK_SECONDS = 0.1


@dataclass(frozen=True)
class OcrPage:
    """One page to OCR: its PNG/JPEG bytes, or a function returning them (called in the
    worker when the page's turn comes, so only ``workers`` pages are in memory at once), and
    its resolution."""

    image: bytes | Callable[[], bytes]
    dpi: float | None = None

    def data(self) -> bytes:
        """The image bytes (loads them if the page was given as a function)."""
        return self.image() if callable(self.image) else self.image


class _AnyOf:
    """A cancel token that is set when any of its events is."""

    def __init__(self, *events: CancelToken | None) -> None:
        self._events = [e for e in events if e is not None]

    def is_set(self) -> bool:
        return any(e.is_set() for e in self._events)


class OcrPool:
    """Runs pages through tesseract on ``workers`` cores (default: every core).

    ``tesseract`` is the executable (default: found on PATH); ``timeout`` bounds each page;
    ``workdir`` holds each page's private output folder (default: the system's temp folder).
    Raises :class:`~scanlet.ocr.tesseract.OcrUnavailable` at once if tesseract is missing.
    """

    def __init__(self, workers: int | None = None, *, tesseract: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, workdir: Path | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.tesseract = find_tesseract(tesseract)
        self.timeout = timeout
        self.workdir = workdir
        self._closing = threading.Event()
        self._executor = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="ocr")

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Cancel every run, kill running tesseracts and stop the workers."""
        self._closing.set()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> OcrPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- runs -----------------------------------------------------------------------------------

    def _prepare(self, pages: Sequence[OcrPage], lang: str,
                 outputs: Iterable[OcrOutput]) -> tuple[str, tuple[OcrOutput, ...]]:
        if self._closing.is_set():
            raise OcrCancelled("the OCR pool is closed")
        return check_lang(lang, tesseract=self.tesseract), check_outputs(outputs)

    def _one(self, index: int, page: OcrPage, lang: str, outputs: tuple[OcrOutput, ...],
             token: CancelToken) -> OcrResult:
        if token.is_set():
            raise OcrCancelled()
        try:
            data = page.data()
            with _budget_for(data):
                return run_page(data, lang=lang, outputs=outputs, dpi=page.dpi,
                                timeout=self.timeout, cancel=token, tesseract=self.tesseract,
                                workdir=self.workdir)
        except OcrError as exc:
            exc.detail.setdefault("page", index)
            raise

    def _submit(self, pages: Sequence[OcrPage], lang: str, outputs: tuple[OcrOutput, ...],
                token: CancelToken) -> list[cf.Future[OcrResult]]:
        return [self._executor.submit(self._one, i, page, lang, outputs, token)
                for i, page in enumerate(pages)]

    def run(
        self,
        pages: Sequence[OcrPage],
        *,
        lang: str = "eng",
        outputs: Iterable[OcrOutput] = ("text",),
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> list[OcrResult]:
        """OCR ``pages``; the results are in the order of ``pages``. Blocks.

        Raises :class:`~scanlet.ocr.tesseract.OcrCancelled` when ``cancel`` is set (or the
        pool closes), the first page's :class:`~scanlet.ocr.tesseract.OcrError` if one fails
        (``detail["page"]`` is its index), ``InvalidSetting`` for a bad ``lang``/``outputs``.
        """
        lang, wanted = self._prepare(pages, lang, outputs)
        stop = threading.Event()
        token = _AnyOf(stop, cancel, self._closing)
        started = time.monotonic()
        futures = self._submit(pages, lang, wanted, token)
        try:
            pending = set(futures)
            done = 0
            while pending:
                finished, pending = cf.wait(pending, timeout=_CHECK_SECONDS,
                                            return_when=cf.FIRST_COMPLETED)
                _raise_if_cancelled(cancel, self._closing)
                for future in finished:
                    _result(future, cancel, self._closing)
                    done += 1
                    if progress is not None:
                        progress(done, len(futures))
        except BaseException:
            stop.set()
            for future in futures:
                future.cancel()
            cf.wait(futures)  # every tesseract of this run is gone when we return
            raise
        _log_done(len(futures), lang, started)
        return [future.result() for future in futures]

    async def run_async(
        self,
        pages: Sequence[OcrPage],
        *,
        lang: str = "eng",
        outputs: Iterable[OcrOutput] = ("text",),
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> list[OcrResult]:
        """:meth:`run` for the event loop: the loop stays free while pages are OCRed.

        ``progress`` is called on the loop. Cancelling the task that awaits this kills the
        running tesseracts (``CancelledError`` propagates once they are gone); ``cancel``
        works as in :meth:`run` and raises :class:`~scanlet.ocr.tesseract.OcrCancelled`.
        """
        lang, wanted = await asyncio.to_thread(self._prepare, pages, lang, outputs)
        stop = threading.Event()
        token = _AnyOf(stop, cancel, self._closing)
        started = time.monotonic()
        futures = self._submit(pages, lang, wanted, token)
        waiting = [asyncio.wrap_future(future) for future in futures]
        try:
            pending: set[asyncio.Future[OcrResult]] = set(waiting)
            done = 0
            while pending:
                finished, pending = await asyncio.wait(pending, timeout=_CHECK_SECONDS,
                                                       return_when=asyncio.FIRST_COMPLETED)
                _raise_if_cancelled(cancel, self._closing)
                for future in finished:
                    _result(future, cancel, self._closing)
                    done += 1
                    if progress is not None:
                        progress(done, len(futures))
        except BaseException:
            stop.set()
            for queued in futures:
                queued.cancel()
            await _settle(waiting)
            raise
        _log_done(len(futures), lang, started)
        return [future.result() for future in waiting]


def _budget_for(data: bytes) -> AbstractContextManager[None]:
    """Hold what tesseract will take reading ``data`` of the service's decoding budget (see
    codecs/pixel_budget.py; nothing in the CLI): tesseract is a child of the service, and a
    67 Mpx colour page costs it 0.7 GB. PNG or JPEG, told by its first bytes; anything else
    is left for tesseract to refuse."""
    if pixel_budget.installed() is None:
        return nullcontext()
    fmt: ImageFormat | None = ("png" if data.startswith(b"\x89PNG") else
                               "jpeg" if data.startswith(b"\xff\xd8") else None)
    if fmt is None:
        return nullcontext()
    try:
        header = open_image(data, fmt)
    except ImageDecodeError:
        return nullcontext()
    header.close()
    return pixels_held(header, "ocr")


def _raise_if_cancelled(*events: threading.Event | None) -> None:
    if any(e is not None and e.is_set() for e in events):
        raise OcrCancelled()


def _result(future: cf.Future[OcrResult] | asyncio.Future[OcrResult],
            *events: threading.Event | None) -> OcrResult:
    """The page's result; a page that failed because the run was cancelled is a cancel."""
    try:
        return future.result()
    except (OcrError, OcrCancelled) as exc:
        if any(e is not None and e.is_set() for e in events):
            raise OcrCancelled() from exc
        raise


async def _settle(waiting: list[asyncio.Future[OcrResult]]) -> None:
    """Wait until every page of an aborted run has stopped; swallow their outcomes."""
    if waiting:
        await asyncio.wait(waiting)
    for future in waiting:
        if future.done() and not future.cancelled():
            future.exception()  # mark as retrieved: no "never retrieved" log noise


def _log_done(pages: int, lang: str, started: float) -> None:
    elapsed = time.monotonic() - started
    logger.info("OCR (%s) of %d pages in %.2f s", lang, pages, elapsed)
