"""A small pool of page-sized buffers reused from page to page of a batch.

An A4 colour page at 300 dpi is 26 MB. Allocating that afresh for every page costs thousands of
page faults (the kernel zeroes each new page) and measured as the biggest single cost of
reading a page; reusing the previous page's buffer costs nothing. The pool holds at most
``keep`` idle buffers, so memory stays bounded by the pipeline depth.
"""

from __future__ import annotations

import ctypes
import threading

Buffer = ctypes.Array[ctypes.c_char]


class BufferPool:
    """Thread-safe: ``take`` runs on the scan thread, ``give`` on an encoder thread."""

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._idle: list[Buffer] = []
        self._lock = threading.Lock()

    def take(self, size: int) -> Buffer:
        """A buffer of exactly ``size`` bytes (contents undefined)."""
        with self._lock:
            for i, buf in enumerate(self._idle):
                if len(buf) == size:
                    return self._idle.pop(i)
        return (ctypes.c_char * size)()

    def give(self, buf: Buffer) -> None:
        """Return a buffer nobody references any more."""
        with self._lock:
            self._idle.append(buf)
            del self._idle[: max(0, len(self._idle) - self._keep)]

    def clear(self) -> None:
        with self._lock:
            self._idle.clear()
