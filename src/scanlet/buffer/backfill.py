"""Previews the scan worker left out, made in the background at the lowest CPU priority.

The scan worker makes each page's preview from the pixels it has, unless its encoders are
behind the device (devices/pipeline.py): then the page arrives without one, and its first
thumbnail would cost a decode of the whole page (~60 ms instead of ~16). :class:`PreviewBackfill`
hands those pages to a helper process (``python -m scanlet.buffer.backfill_worker``) that runs
at the lowest priority (nice 19; "idle" priority class on Windows): it uses only CPU time that
scanning and serving leave free, and, being a process of its own, never holds the service's
GIL; and it is fed only while no scan runs (``busy``), because even a nice-19 process slows
a CPU-bound scan down on a 2-core machine (memory bandwidth, shared cores). It opens the same
buffer (SQLite in WAL mode, the install's cache key) and writes each preview where the
service looks for it. It stops after :data:`IDLE_EXIT` seconds without work
and is started again on demand; it dies with the service.

The process is run with the worker-process kit (:mod:`scanlet.childproc`): started as
``python -m`` of this package, tied to the feeder thread's life, the cache key handed over
in the handshake line (never in argv), one JSON line per page each way, its log records
re-logged here.

Best effort: a page deleted or damaged meanwhile is skipped, a full queue drops requests,
and nothing is lost by a crash (a page's preview is then made on its first view).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from scanlet.childproc import (
    LINE_LIMIT,
    dumps_line,
    parse_line,
    relay_stream,
    send_hello,
    spawn_module,
)
from scanlet.config import Home

log = logging.getLogger(__name__)
worker_log = logging.getLogger("scanlet.buffer.backfill_worker")

#: Pages waiting for a preview at most (a request beyond is dropped).
MAX_WAITING = 10_000
#: Seconds the helper process waits for work before it exits.
IDLE_EXIT = 30.0
#: Seconds between checks whether a scan still runs.
BUSY_POLL = 0.25
WORKER_MODULE = "scanlet.buffer.backfill_worker"
_STOP = ""


class PreviewBackfill:
    """See the module docstring. ``submit`` never blocks; one feeder thread owns the helper
    process (it starts it, so on Linux the process's parent-death signal is tied to it)."""

    def __init__(self, home: Home, key: bytes, *, idle_exit: float = IDLE_EXIT,
                 busy: Callable[[], bool] | None = None) -> None:
        self._home = home
        self._key = key  # handed to each helper on its stdin, never on its command line
        self._idle_exit = idle_exit
        self._busy = busy or (lambda: False)
        self._waiting: queue.Queue[str] = queue.Queue(MAX_WAITING)
        self._lock = threading.Lock()
        self._feeder: threading.Thread | None = None
        self._pending = 0
        self.made = 0
        self.skipped = 0
        self.pid: int | None = None

    def submit(self, page_id: str) -> None:
        """Make the preview of ``page_id`` when the CPU is free."""
        with self._lock:
            if self._feeder is None:
                self._feeder = threading.Thread(target=self._feed, name="preview-backfill",
                                                daemon=True)
                self._feeder.start()
            try:
                self._waiting.put_nowait(page_id)
            except queue.Full:
                log.debug("preview backfill queue full; %s gets its preview when viewed",
                          page_id)
                return
            self._pending += 1

    def idle(self, timeout: float) -> bool:
        """Wait until every submitted page is done (tests, benchmarks); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._pending:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        """Stop: pages still waiting get their preview when first viewed."""
        with self._lock:
            feeder, self._feeder = self._feeder, None
        if feeder is None:
            return
        while True:
            try:
                self._waiting.get_nowait()
            except queue.Empty:
                break
        self._waiting.put(_STOP)
        feeder.join(timeout=15)

    # -- the feeder thread -------------------------------------------------------------------

    def _feed(self) -> None:
        process: subprocess.Popen[bytes] | None = None
        try:
            while True:
                try:
                    page_id = self._waiting.get(timeout=self._idle_exit)
                except queue.Empty:
                    page_id = None  # nothing for a while: let the helper go
                if page_id is None or page_id == _STOP:
                    if process is not None:
                        self._stop(process)
                        process = None
                    if page_id == _STOP:
                        return
                    continue
                self._wait_while_busy()
                if process is None or process.poll() is not None:
                    process = self._start()
                self._one(process, page_id)
        except Exception:
            log.exception("the preview backfill stopped")
        finally:
            if process is not None:
                self._stop(process)

    def _wait_while_busy(self) -> None:
        """Hold the next page back while a scan runs (polled; the feeder has nothing else to
        do), unless closing."""
        while self._busy() and self._feeder is not None:
            time.sleep(BUSY_POLL)

    def _start(self) -> subprocess.Popen[bytes]:
        level = logging.getLevelName(logging.getLogger("scanlet").getEffectiveLevel())
        process: subprocess.Popen[bytes] = spawn_module(
            WORKER_MODULE, ["--home", str(self._home.root),
                            "--log-level", level if isinstance(level, str) else "WARNING"],
            stderr=subprocess.PIPE, tie_to_thread=True)  # the feeder thread outlives it
        self.pid = process.pid
        assert process.stdin is not None and process.stderr is not None
        relay_stream(process.stderr, worker_log, prefix=f"[preview-backfill {process.pid}] ",
                     name="preview-backfill-log")
        with contextlib.suppress(OSError):  # a helper that died at once is seen in _one
            send_hello(process.stdin, {"key": self._key.hex()})
        log.debug("preview backfill process %d started", process.pid)
        return process

    def _one(self, process: subprocess.Popen[bytes], page_id: str) -> None:
        assert process.stdin is not None and process.stdout is not None
        answer: dict[str, Any] = {}
        try:
            process.stdin.write(dumps_line({"page": page_id}))
            process.stdin.flush()
            line = process.stdout.readline(LINE_LIMIT)
            answer = parse_line(line) if line else {}
        except OSError:
            pass
        with self._lock:
            self._pending -= 1
            if answer.get("ev") == "ok":
                self.made += 1
            else:
                self.skipped += 1
        if not answer:
            log.warning("the preview backfill process %d stopped (exit %s)", process.pid,
                        process.poll())

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
