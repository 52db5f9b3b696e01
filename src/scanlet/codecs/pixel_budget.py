"""The memory budget for page pixels decoded in the service process (issue 14, item 3).

Imports decode only in memory-limited workers (``importing/budget.py``), but a page that
passed their caps (up to ``[limits] max_decoded_mb`` decoded, from a file of a few hundred KB)
is decoded again in the service by edits, processing, exports and renditions, in threads,
and by tesseract, its child (OCR): forty such requests at once would take gigabytes. So every
full decode of page pixels here holds bytes of the same budget the import workers share
(``Runtime.decode_gate``, installed with :func:`install`; no worker slot) for as long as the
pixels live: :func:`holding` around the work, sized by :func:`work_bytes` from the header
before a pixel is decoded, admitted while the total stays within the budget less what the
service itself needs (``DecodeLimits.in_service_bytes``). When there is no room within
``decode_wait_seconds`` the request gets 429 ``decode_busy``; work that would need more than
that share is refused at once with 413 ``decode_too_large`` (it could only take the process
past the budget, however long it waited).

- The CLI and worker processes install nothing: there :func:`holding` does nothing.
- A thread that already holds budget (an edit whose orientation step renders the page again,
  an export loop) takes more without waiting: waiting for itself could only time out. Only its
  first hold waits, so the total passes the budget by at most what such threads nest.
- The service keeps page-sized buffers on the heap (``scanlet.memory``), where a large
  page's freed pixels would stay resident: before and after a hold of at least
  :data:`TRIM_FROM` bytes the heap's free memory goes back to the OS (a few ms, only for
  pages far larger than a scan's), so what is resident follows what is held.
- At most :data:`MAX_WAITING` threads wait at once; more get 429 at once, so waiting requests
  never take every thread of the server's pool (``/v1/health`` and the rest keep answering).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Literal, Protocol

from scanlet.errors import DecodeBusy, DecodeTooLarge
from scanlet.memory import return_free_memory

logger = logging.getLogger(__name__)

#: Threads that may wait for room at once (anyio's pool has 40).
MAX_WAITING = 8
#: Holds from this size on return the heap's free memory to the OS before and after.
TRIM_FROM = 128 * 2**20

#: What is done with the pixels: ``view`` decodes, scales or re-encodes them (renditions,
#: exports but WebP), ``analysis`` makes grey and numpy copies of the whole page (edits, blank
#: and barcode detection, splitting), ``webp`` is libwebp's encoder (an ARGB copy and more),
#: ``ocr`` is a tesseract process reading the page (Leptonica holds colour as 32 bits a pixel).
Work = Literal["view", "analysis", "webp", "ocr"]

#: Peak bytes a pixel of a page in a Pillow mode takes, decoded pixels included, per kind of
#: work: the peak RSS growth of the heaviest route of the kind (``ru_maxrss``, one process) on
#: black pages just within the import caps (196 Mpx bilevel and 8-bit grey, 132 Mpx 16-bit
#: grey, 67 Mpx colour), rounded up. Colour is RGBX in Pillow (4 bytes a pixel); bilevel,
#: 16-bit grey are widened to 8 bits for most work.
_BYTES_PER_PIXEL: dict[Work, dict[str, float]] = {
    "view": {"1": 2.0, "L": 1.25, "I;16": 3.5, "RGB": 4.5},
    "analysis": {"1": 5.5, "L": 5.5, "I;16": 6.5, "RGB": 8.5},
    "webp": {"1": 12.5, "L": 12.5, "I;16": 12.5, "RGB": 12.5},
    "ocr": {"1": 1.5, "L": 4.5, "I;16": 4.5, "RGB": 12.0},
}
#: What a kind of work takes whatever the page (tesseract's own program and language data).
_BASE_BYTES: dict[Work, int] = {"view": 0, "analysis": 0, "webp": 0, "ocr": 64 * 2**20}


class _Limits(Protocol):
    @property
    def in_service_bytes(self) -> int: ...


class Budget(Protocol):
    """What this module needs of ``importing.budget.DecodeGate``."""

    @property
    def limits(self) -> _Limits:
        """``in_service_bytes``: the most this process's decodes may take."""
        ...

    def hold(self, nbytes: int, *, wait: bool = True) -> AbstractContextManager[None]:
        """Hold ``nbytes`` for the block; raises DecodeBusy when no room comes in time."""
        ...


_budget: Budget | None = None
_local = threading.local()
_waiting_lock = threading.Lock()
_waiting = 0


def install(budget: Budget | None) -> None:
    """Make every decode in this process hold ``budget`` (None: nothing is held)."""
    global _budget
    _budget = budget


def installed() -> Budget | None:
    """The budget decodes hold in this process, if any."""
    return _budget


def work_bytes(width: int, height: int, mode: str, work: Work = "analysis") -> int:
    """What decoding a ``width`` x ``height`` page in Pillow ``mode`` and doing ``work`` on
    it may take at its peak: the decoded pixels and the working copies."""
    per_pixel = _BYTES_PER_PIXEL[work]
    key = "I;16" if mode.startswith("I;16") else mode
    return _BASE_BYTES[work] + int(width * height * per_pixel.get(key, max(per_pixel.values())))


def check_fits(nbytes: int) -> None:
    """Raise DecodeTooLarge (413) if work of ``nbytes`` could never be admitted here, so a
    route can refuse it before it starts a task (nothing when no budget is installed)."""
    budget = _budget
    if budget is None:
        return
    maximum = budget.limits.in_service_bytes
    if nbytes > maximum:
        mb = 2**20
        raise DecodeTooLarge(
            f"this page needs about {-(-nbytes // mb)} MB of memory for this, more than the "
            f"{maximum // mb} MB decoding in the service may take ([limits] "
            "decode_memory_mb less 256 MB); a page with fewer pixels or a lighter operation "
            "(a PDF, JPEG or TIFF export, a rendition) fits",
            needed=nbytes, maximum=maximum)


def waiting() -> int:
    """Threads waiting for room now."""
    with _waiting_lock:
        return _waiting


def held() -> int:
    """Bytes the calling thread holds now."""
    return int(getattr(_local, "held", 0))


@contextmanager
def holding(nbytes: int) -> Iterator[None]:
    """Hold ``nbytes`` of the installed budget for the ``with`` block (see the module
    docstring); raises DecodeBusy when it stays full."""
    budget = _budget
    if budget is None or nbytes <= 0:
        yield
        return
    check_fits(nbytes)
    nested = held() > 0
    trim = not nested and nbytes >= TRIM_FROM
    with ExitStack() as stack:
        with _wait_slot(nested):
            stack.enter_context(budget.hold(nbytes, wait=not nested))
        if trim:
            stack.callback(return_free_memory)  # when the work is done
            return_free_memory()  # what earlier work freed, before this page's pixels
        _local.held = held() + nbytes
        try:
            yield
        finally:
            _local.held = held() - nbytes


@contextmanager
def _wait_slot(nested: bool) -> Iterator[None]:
    """Count the caller among the waiting threads while it waits for room."""
    global _waiting
    if nested:
        yield
        return
    with _waiting_lock:
        if _waiting >= MAX_WAITING:
            logger.warning("page decode refused: %d requests already wait for the decode "
                           "budget", _waiting)
            raise DecodeBusy("too many requests wait for memory to decode pages",
                             retry_after=1)
        _waiting += 1
    try:
        yield
    finally:
        with _waiting_lock:
            _waiting -= 1
