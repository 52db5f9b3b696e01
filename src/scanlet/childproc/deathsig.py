"""Dying with the parent: helper programs (tesseract, jpegtran, trust-store and service
commands) and Python worker processes that die with the service, even when it is SIGKILLed.

A process killed with SIGKILL runs no clean-up, so the children it started would keep running
(a tesseract can take minutes on a big page) as orphans. On Linux each such child is started
with :func:`die_with_parent` as its ``preexec_fn``: between ``fork`` and ``exec`` it asks the
kernel (``prctl(PR_SET_PDEATHSIG, SIGKILL)``) to kill it when its parent goes away; the setting
survives ``exec``. If the parent died before that call, the child kills itself at once.

**Caveat: the "parent" is the thread that started the child.** Linux sends the signal when
that *thread* exits, even if the rest of the service keeps running. So a child must be started
from a thread that lives at least as long as the child: every caller here waits for its child
(``subprocess.run``, or ``Popen`` followed by ``communicate``/``wait`` and a kill on any
error) before the function returns, and the OCR pool's threads and the asyncio executor's
threads only end between such calls. Never start one of these children and return without
waiting for it.

Other systems have no such call; there the service's own clean-up (timeouts, cancel, pool
close) is all there is. The scan worker and the PDF worker (Python processes) arm the same
signal themselves at start-up with :func:`arm_in_child` (``devices/worker.py``,
``importing/pdf_worker.py``); :func:`watch_parent` adds a polling thread for systems without
the signal.

``preexec_fn`` makes ``subprocess`` use ``fork`` rather than ``vfork``; the function only calls
a libc entry point resolved beforehand in the parent (no ``dlopen``, no logging, no imports in
the forked child).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from scanlet.libc import function

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` (Linux), looked up once in the parent; None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = function("prctl")
    if prctl is None:
        log.warning("cannot load libc's prctl (helper programs will not die with the service)")
    return prctl


# Built in the parent: the forked child only passes them on. prctl takes unsigned longs.
_ARGS: tuple[Any, ...] = (ctypes.c_int(PR_SET_PDEATHSIG), ctypes.c_ulong(signal.SIGKILL),
                          ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` for :mod:`subprocess` that makes the child get SIGKILL when the
    calling thread (see the module's caveat) or the whole process dies; None off Linux.

    Call it once per child, in the thread that starts and waits for that child::

        subprocess.run(args, preexec_fn=die_with_parent(), ...)
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def arm() -> None:  # runs in the forked child, before exec
        prctl(*_ARGS)  # a failure leaves the child as it was: never worse than without
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


def arm_in_child(parent_pid: int) -> None:
    """For a Python child process (the scan worker, the PDF worker) at start-up: get SIGKILL
    when its parent dies (Linux), and exit at once if ``parent_pid`` is already gone."""
    prctl = _prctl()
    if prctl is not None and prctl(*_ARGS) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if parent_pid and os.getppid() != parent_pid:
        os._exit(0)  # the parent died before the death signal was armed


#: Seconds between two checks of :func:`watch_parent`.
PARENT_POLL_INTERVAL = 1.0


def watch_parent(parent_pid: int, interval: float = PARENT_POLL_INTERVAL) -> None:
    """For a Python child process: :func:`arm_in_child`, plus a daemon thread that exits the
    process once ``parent_pid`` is no longer its parent (systems without the death signal, and
    a parent thread that ended while the service lives on)."""
    arm_in_child(parent_pid)
    if not parent_pid:
        return

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
