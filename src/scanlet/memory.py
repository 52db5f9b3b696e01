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
import logging
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def reuse_page_buffers(mmap_threshold: int = 64 << 20, trim_threshold: int = 64 << 20) -> bool:
    """Apply the thresholds where the C library is glibc; True if applied."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, trim_threshold))
    log.debug("malloc thresholds set: %s", applied)
    return applied
