"""How much memory decoding untrusted files may take: per page, per worker, for all clients.

Three bounds, so that no mix of hostile imports can take the machine's memory:

- **Decoded bytes per page** (:attr:`DecodeLimits.max_decoded_bytes`): checked from the header
  *before* a pixel is decoded. It counts the bytes the pixels take in memory, not only their
  number: a 16-bit or many-channel image of few pixels can need more than a bilevel one of
  many (:func:`bytes_per_pixel` is Pillow's in-memory layout; :func:`work_bytes` adds what the
  conversion to a storable layout holds at the same time).
- **Memory per worker**: every decode of client bytes runs in a worker process
  (``importing/pdf_worker.py``) whose address space is limited to
  :attr:`DecodeLimits.worker_memory_bytes` (RLIMIT_AS): an allocation past it fails, the
  worker reports 413 (or dies and the service reports it), the service itself never sees the
  pixels.
- **Memory for all workers** (:class:`DecodeGate`): a worker starts only when its memory limit
  fits in the budget the running workers leave, and when fewer than ``max_running`` run; an
  import waits for that at most ``wait_seconds`` (asynchronously: no thread is held), then
  gets 429 ``imports_busy`` with ``Retry-After``. So the workers together never hold more than
  the budget, whoever sends what.
- **Pages decoded in the service** (edits, processing, exports, renditions of pages already
  stored) take bytes from the same budget but no worker slot (:meth:`DecodeGate.hold`, through
  :mod:`scanlet.codecs.pixel_budget`), and get 429 ``decode_busy`` when it stays full.

This module imports nothing heavy: the worker uses :func:`work_bytes` too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

from scanlet.errors import DecodeBusy, ImportsBusy

logger = logging.getLogger(__name__)

MB = 2**20
#: Address space a worker needs besides page pixels: interpreter, Pillow, qpdf and pdfium
#: (measured: 30 MB for images, 60 MB for PDFs before pdfium opens a file) plus the file's
#: own bytes for an image kept as it is, with room for allocator slack.
WORKER_BASE_BYTES = 128 * MB
#: What pixels decoded in the service process may not take of the budget: the service's own
#: memory (interpreter, image libraries, what the heap keeps: 250 to 350 MB once it has
#: processed large pages) sits beside them, where a worker's base is inside its reservation.
SERVICE_RESERVE_BYTES = 256 * MB
#: Bytes per pixel of a rendered PDF page at its peak: pdfium's BGRA bitmap, the RGB copy,
#: the three bands of the colour test and one difference band.
RENDER_BYTES_PER_PIXEL = 12
#: What a conversion to a storable layout holds besides the decoded source (alpha
#: compositing: an RGBA copy, a white RGB canvas, the converted RGB, the alpha band).
CONVERSION_BYTES_PER_PIXEL = 13

#: Pillow's in-memory bytes per pixel by mode (multi-band modes take 4 bytes a pixel).
_BYTES_PER_PIXEL = {
    "1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2,
    "BGR;15": 2, "BGR;16": 2, "BGR;24": 3,
}
_STORABLE_MODES = frozenset({"1", "L", "RGB", "I;16"})


def bytes_per_pixel(mode: str) -> int:
    """Bytes one pixel of a Pillow image in ``mode`` takes in memory (4 for unknown modes:
    Pillow's widest pixel besides the rare 64-bit ones, which the storable modes exclude)."""
    return _BYTES_PER_PIXEL.get(mode, 4)


def work_bytes(width: int, height: int, mode: str, *, converted: bool | None = None) -> int:
    """The decoded bytes of a ``width`` x ``height`` image in ``mode`` while it is imported:
    its pixels, plus the conversion's copies when it is not storable as it is (``converted``
    None: decided from the mode)."""
    if converted is None:
        converted = mode not in _STORABLE_MODES
    per_pixel = bytes_per_pixel(mode) + (CONVERSION_BYTES_PER_PIXEL if converted else 0)
    return width * height * per_pixel


@dataclass(frozen=True)
class DecodeLimits:
    """The memory bounds of imports (``[limits]`` ``max_decoded_mb``, ``decode_memory_mb``,
    ``max_running_decodes``, ``decode_wait_seconds``; see docs/configuration.md)."""

    max_decoded_bytes: int = 256 * MB
    budget_bytes: int = 768 * MB
    max_running: int = 2
    wait_seconds: float = 30.0

    @property
    def worker_memory_bytes(self) -> int:
        """The address-space limit of one decode worker (and what it reserves of the budget):
        the base plus one page's decoded bytes, at most the whole budget."""
        return min(WORKER_BASE_BYTES + self.max_decoded_bytes, self.budget_bytes)

    @property
    def in_service_bytes(self) -> int:
        """The most of the budget in use (imports included) with which pixels decoded in the
        service process may still be admitted: the budget less :data:`SERVICE_RESERVE_BYTES`
        (at least half of it)."""
        return max(self.budget_bytes // 2, self.budget_bytes - SERVICE_RESERVE_BYTES)

    @property
    def max_render_pixels(self) -> int:
        """The most pixels a rendered PDF page may have within the decoded-bytes cap."""
        return max(1, self.max_decoded_bytes // RENDER_BYTES_PER_PIXEL)


class DecodeGate:
    """The budget and the concurrency limit all imports share (one per service).

    :meth:`reserve` (threads) and :meth:`areserve` (the event loop) admit a worker of
    ``nbytes`` when it fits; both raise ImportsBusy (429) after ``limits.wait_seconds``.
    """

    _POLL = 0.05

    def __init__(self, limits: DecodeLimits) -> None:
        self.limits = limits
        self._lock = threading.Condition()
        self._used = 0
        self._running = 0

    def _fits(self, nbytes: int, slot: bool) -> bool:
        return ((not slot or self._running < self.limits.max_running)
                and self._used + nbytes <= self.limits.budget_bytes)

    def try_acquire(self, nbytes: int, *, slot: bool = True) -> bool:
        """Admit ``nbytes`` (and a worker slot, unless ``slot`` is False) now if they fit
        (True), else change nothing (False)."""
        nbytes = min(nbytes, self.limits.budget_bytes)
        with self._lock:
            if not self._fits(nbytes, slot):
                return False
            self._used += nbytes
            self._running += slot
            return True

    def release(self, nbytes: int, *, slot: bool = True) -> None:
        nbytes = min(nbytes, self.limits.budget_bytes)
        with self._lock:
            self._used -= nbytes
            self._running -= slot
            self._lock.notify_all()

    def in_use(self) -> tuple[int, int]:
        """(bytes reserved, workers admitted) right now."""
        with self._lock:
            return self._used, self._running

    def _busy(self) -> ImportsBusy:
        used, running = self.in_use()
        logger.warning("import refused: the decode budget stayed full for %g s (%d workers, "
                       "%d MB reserved)", self.limits.wait_seconds, running, used // MB)
        return ImportsBusy(
            f"other imports use the decoding budget; waited {self.limits.wait_seconds:g} s",
            running=running, maximum=self.limits.max_running,
            retry_after=max(1, round(self.limits.wait_seconds / 2)))

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold ``nbytes`` of the budget and one worker slot for the ``with`` block."""
        deadline = time.monotonic() + self.limits.wait_seconds
        with self._lock:
            while not self.try_acquire(nbytes):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._busy()
                self._lock.wait(left)
        try:
            yield
        finally:
            self.release(nbytes)

    @contextmanager
    def hold(self, nbytes: int, *, wait: bool = True) -> Iterator[None]:
        """Hold ``nbytes`` of the budget, and no worker slot, for the ``with`` block: pixels
        decoded in this process, admitted while the total stays within
        ``limits.in_service_bytes``. Waits at most ``limits.wait_seconds`` for room, then
        raises DecodeBusy (429); with ``wait`` False the bytes are taken at once even past the
        budget (for a thread that already holds some: waiting on itself could only time
        out), so every other reservation waits until the total is back within it."""
        nbytes = min(nbytes, self.limits.budget_bytes)
        ceiling = self.limits.in_service_bytes
        deadline = time.monotonic() + self.limits.wait_seconds
        with self._lock:
            while wait and self._used + nbytes > ceiling:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._decode_busy(nbytes)
                self._lock.wait(left)
            self._used += nbytes
        try:
            yield
        finally:
            self.release(nbytes, slot=False)

    def _decode_busy(self, nbytes: int) -> DecodeBusy:
        used = self._used  # the lock is held
        logger.warning("page decode refused: the decode budget stayed full for %g s (%d MB "
                       "reserved, %d MB asked)", self.limits.wait_seconds, used // MB,
                       nbytes // MB)
        return DecodeBusy(
            f"other work holds the memory for decoded pages; waited "
            f"{self.limits.wait_seconds:g} s",
            retry_after=max(1, round(self.limits.wait_seconds / 2)))

    @asynccontextmanager
    async def areserve(self, nbytes: int) -> AsyncIterator[None]:
        """:meth:`reserve` for the event loop: waits by polling, holding no thread."""
        deadline = time.monotonic() + self.limits.wait_seconds
        while not self.try_acquire(nbytes):
            if time.monotonic() >= deadline:
                raise self._busy()
            await asyncio.sleep(self._POLL)
        try:
            yield
        finally:
            self.release(nbytes)
