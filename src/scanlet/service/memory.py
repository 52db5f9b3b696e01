"""Keep the service's memory flat while pages of several MB pass through it.

glibc raises its mmap threshold each time a large block is freed, after which multi-MB page
buffers come from the heap and fragment it: RSS then grows with every page. Fixing the
threshold at 1 MB makes every page-sized buffer its own mapping, returned to the OS on free.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def limit_heap_growth(mmap_threshold: int = 1 << 20) -> bool:
    """Apply the fixed thresholds where the C library is glibc; True if applied."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, mmap_threshold * 2))
    log.debug("malloc thresholds fixed: %s", ok)
    return ok
