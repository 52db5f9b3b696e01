"""Let page-sized buffers be reused instead of faulted in afresh for every request.

glibc serves blocks above its mmap threshold with fresh mappings and unmaps them on free, so
every 3-26 MB page buffer costs thousands of page faults (measured: reading and decrypting an
A4 JPEG page takes 5 ms that way, 1.3 ms when the heap keeps and reuses its memory). A fixed,
high threshold keeps those buffers on the heap; the trim threshold still returns memory to the
OS once more than that is free, so the service's memory stays bounded (measured in
benchmarks/bench_scan.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def reuse_page_buffers(mmap_threshold: int = 64 << 20, trim_threshold: int = 64 << 20) -> bool:
    """Apply the thresholds where the C library is glibc; True if applied."""
    libc = _libc()
    try:
        mallopt = libc.mallopt if libc is not None else None
    except AttributeError:
        mallopt = None
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, trim_threshold))
    log.debug("malloc thresholds set: %s", applied)
    return applied


def return_free_memory() -> bool:
    """Give the memory the heap holds free back to the OS now (glibc's ``malloc_trim``, every
    arena); True if glibc did. With page buffers kept on the heap (above), the tens of MB
    blocks that a very large page's pixels took stay resident after they are freed, in
    whichever thread's arena served them: the service calls this after such work
    (codecs/pixel_budget.py), so its resident memory follows the decoding budget."""
    libc = _libc()
    try:
        trim = libc.malloc_trim if libc is not None else None
    except AttributeError:
        return False
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return bool(trim(0))
