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
import logging

from scanlet.libc import function

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def reuse_page_buffers(mmap_threshold: int = 64 << 20, trim_threshold: int = 64 << 20) -> bool:
    """Apply the thresholds where the C library is glibc; True if applied."""
    mallopt = function("mallopt")
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
    trim = function("malloc_trim")
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return bool(trim(0))
