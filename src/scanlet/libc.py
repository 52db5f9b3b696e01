"""This process's C library (Linux), for the few calls Python has no wrapper of: ``prctl``,
``mallopt``, ``malloc_trim``.

Loaded once per process from the symbols already mapped into it (``dlopen(NULL)``), not
through :func:`ctypes.util.find_library`, which runs ``ldconfig`` in a forked copy of the
caller: a fork of a service holding hundreds of MB, and a second process with a worker's own
command line for as long as the fork lasts.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)


@functools.cache
def libc() -> ctypes.CDLL | None:
    """The C library with ``errno`` kept (``ctypes.get_errno``); None off Linux or when it
    cannot be loaded."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError as exc:
        log.debug("cannot load the C library: %s", exc)
        return None


def function(name: str) -> Any:
    """The C library's function ``name`` (a ctypes function pointer), or None where there is
    none (not glibc, not Linux)."""
    lib = libc()
    if lib is None:
        return None
    return getattr(lib, name, None)
