"""The scan worker: ``python -m scanlet.devices.worker --driver NAME --parent-pid PID``.

Drivers that need isolation (registry.py: ``isolated``; libsane and its backends are C and may
crash or hang) run only here, one process per device, so a failing driver costs a job, never
the service. The service starts it with ``bridge.WorkerClient`` and speaks the JSON-lines
protocol of ``protocol.py`` on stdin/stdout; logs go to stderr as JSON lines that the service
re-logs. The driver is loaded by name through the registry (``--driver``, default ``sane``;
the handshake may name it too and must then agree).

:class:`Worker` is the request dispatcher, written against a :class:`Channel` rather than
stdout, so the in-process runner (inprocess.py) uses the same code for drivers that may run
in the service. It owns what happens to pages: each scan gets a fresh
:class:`~scanlet.devices.pipeline.PagePipeline` (the driver's page sink: encode, encrypt,
write, emit), finished after the driver returns or fails, so pages read before a failure are
stored and emitted first.

Process plumbing comes from the worker-process kit (:mod:`scanlet.childproc`): the protocol
stream is a private copy of stdout (``claim_stdout``: a C library printing cannot corrupt it),
lines are the kit's (``LineWriter``, ``iter_lines``), logs are the kit's JSON records on stderr
(``setup_child_logging``, ``set_child_log_level``), and ``watch_parent`` ties the worker to the
service. What stays here is the scan protocol itself and faulthandler (crash tracebacks).

Threads: the main thread reads requests (so ``cancel`` is handled while a scan runs), one
driver thread runs list/caps/scan one at a time, and the page pipeline has its own.
The worker exits when stdin closes, on ``shutdown``, and when its parent dies (Linux
``PR_SET_PDEATHSIG`` plus polling the parent pid everywhere).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import faulthandler
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from pydantic import ValidationError

from scanlet.childproc import (
    LineWriter,
    claim_stdout,
    is_garbage,
    iter_lines,
    read_line,
    set_child_log_level,
    setup_child_logging,
    watch_parent,
)
from scanlet.devices import registry
from scanlet.devices.driver import Driver, ProgressSink
from scanlet.devices.pipeline import PagePipeline, PageStore
from scanlet.devices.protocol import LINE_LIMIT, PROTOCOL_VERSION
from scanlet.errors import (
    DeviceBusy,
    DriverError,
    InvalidSetting,
    RequestError,
    ScanletError,
)
from scanlet.memory import return_free_memory, reuse_page_buffers
from scanlet.models import ScannedPage, ScanSettings

log = logging.getLogger(__name__)

#: Seconds a shutdown waits for a running driver call before the process exits anyway.
SHUTDOWN_GRACE = 3.0


def _set_level(level: str) -> None:
    """The ``log_level`` request: log at ``level`` from now on (unknown names are ignored)."""
    if not set_child_log_level(level):
        log.warning("ignoring unknown log level %r", level[:20])
        return
    log.debug("log level is now %s", level)


def _trim_memory() -> None:
    """Give freed page buffers back to the OS after a scan (glibc keeps them otherwise)."""
    return_free_memory()


class Channel(Protocol):
    """Where a :class:`Worker` sends its protocol events; ``send`` is called from any
    thread."""

    def send(self, message: dict[str, Any]) -> None:
        ...


def open_driver(name: str) -> Driver:
    """The driver ``name`` from the registry; DriverUnavailable ("not available on this
    system: ...") when it cannot run here (python-sane not installed: the service then lists
    no devices from it), ConfigError for a name the registry does not know."""
    return registry.load_driver(name)


def _as_scanlet_error(exc: BaseException) -> ScanletError:
    if isinstance(exc, ScanletError):
        return exc
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        field = ".".join(str(p) for p in errors[0]["loc"]) if errors else None
        message = errors[0]["msg"] if errors else str(exc)
        return InvalidSetting(f"invalid scan settings: {message}", field=field)
    log.error("driver failure: %s", "".join(traceback.format_exception(exc)))
    return DriverError(f"the driver failed unexpectedly: {exc!r}")


class Worker:
    """Dispatches requests to the driver and stores the pages of its scans in ``store``;
    see the module docstring for the threads. ``depth``/``encoders``: the page pipeline's."""

    def __init__(self, driver: Driver, channel: Channel, store: PageStore, *,
                 depth: int = 2, encoders: int | None = None) -> None:
        self._driver = driver
        self._channel = channel
        self._store = store
        self._depth = depth
        self._encoders = encoders
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="driver")
        self._lock = threading.Lock()
        self._running: int | None = None
        self._cancel_events: dict[int, threading.Event] = {}

    def handle(self, message: dict[str, Any]) -> bool:
        """Handle one request; False once the worker should exit."""
        op = message.get("op")
        rid = message.get("id")
        if op == "shutdown":
            return False
        if op == "cancel":
            self._cancel(rid)
            return True
        if op == "log_level":
            _set_level(str(message.get("level")))
            return True
        if op not in ("list", "caps", "scan") or not isinstance(rid, int):
            self._channel.send({"ev": "error", "id": rid, "pages": 0, "error": RequestError(
                f"unknown request {op!r}").to_dict()})
            return True
        with self._lock:
            if self._running is not None:
                busy = DeviceBusy(f"the worker is busy with request {self._running}")
                self._channel.send({"ev": "error", "id": rid, "pages": 0,
                                    "error": busy.to_dict()})
                return True
            self._running = rid
            cancelled = threading.Event()
            self._cancel_events[rid] = cancelled
        self._pool.submit(self._run, op, rid, message, cancelled)
        return True

    def shutdown(self) -> None:
        """Cancel what runs, give it a moment, release the driver."""
        with self._lock:
            for event in self._cancel_events.values():
                event.set()
        self._driver.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while self._running is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        if self._running is None:
            self._driver.close()

    def _scan(self, settings: ScanSettings, emit: Callable[[ScannedPage], None],
              cancelled: threading.Event, progress: ProgressSink) -> int:
        """One scan through a fresh page pipeline, always finished: pages the driver read
        before failing are stored and emitted before its error is raised."""
        pipe = PagePipeline(self._store, emit, compression=settings.compression,
                            jpeg_quality=settings.jpeg_quality, depth=self._depth,
                            encoders=self._encoders)
        failure: BaseException | None = None
        try:
            self._driver.scan(settings, pipe, cancelled, progress)
        except BaseException as exc:
            failure = exc
        try:
            count = pipe.finish()
        except ScanletError as exc:
            if failure is None:
                failure = exc
            else:
                log.error("storing pages after %r also failed: %s", failure, exc)
        if pipe.previews_skipped:
            log.info("%d pages handed over without a preview: the encoders were behind the "
                     "device", pipe.previews_skipped)
        if failure is not None:
            raise failure
        return count

    def _cancel(self, rid: Any) -> None:
        with self._lock:
            event = self._cancel_events.get(rid) if isinstance(rid, int) else None
        if event is not None:
            log.info("cancelling request %s", rid)
            event.set()
            self._driver.cancel()

    def _run(self, op: str, rid: int, message: dict[str, Any],
             cancelled: threading.Event) -> None:
        pages = 0

        def emit(page: ScannedPage) -> None:
            nonlocal pages
            pages += 1
            self._channel.send({"ev": "page", "id": rid, "page": page.model_dump(mode="json")})

        def progress(page: int, lines: int, total: int) -> None:
            self._channel.send({"ev": "progress", "id": rid, "page": page, "lines": lines,
                                "total": total})

        final: dict[str, Any]
        try:
            if op == "list":
                devices = self._driver.list_devices()
                final = {"ev": "devices", "devices": [d.model_dump(mode="json")
                                                      for d in devices]}
            elif op == "caps":
                caps = self._driver.capabilities(str(message.get("device", "")))
                final = {"ev": "caps", "caps": caps.model_dump(mode="json")}
            else:
                settings = ScanSettings.model_validate(message.get("settings") or {})
                final = {"ev": "done", "pages": self._scan(settings, emit, cancelled,
                                                           progress)}
        except BaseException as exc:
            error = _as_scanlet_error(exc)
            log.info("request %s (%s) failed: %s %s", rid, op, error.code, error.message)
            final = {"ev": "error", "pages": pages, "error": error.to_dict()}
        if op == "scan":
            _trim_memory()
        with self._lock:  # free before answering: the parent may send the next request at once
            self._running = None
            self._cancel_events.pop(rid, None)
        self._channel.send({**final, "id": rid})


@dataclass(frozen=True)
class Hello:
    """What the handshake line tells the worker."""

    store: PageStore
    log_level: str
    driver: str | None


def _read_hello(stdin: IO[bytes]) -> Hello | None:
    """The handshake (the scan protocol's checks on the kit's first line); None when stdin
    closed first, DriverError for anything but a valid ``hello``."""
    hello = read_line(stdin, LINE_LIMIT)
    if hello is None:
        return None
    if hello.get("op") != "hello" or hello.get("protocol") != PROTOCOL_VERSION:
        raise DriverError(f"unexpected handshake {hello.get('op')!r} "
                          f"(protocol {hello.get('protocol')!r}, want {PROTOCOL_VERSION})")
    try:
        key = base64.b64decode(str(hello["key"]), validate=True)
        incoming = Path(str(hello["incoming_dir"]))
    except (KeyError, binascii.Error) as exc:
        raise DriverError(f"bad handshake: {exc}") from exc
    if len(key) not in (16, 24, 32):
        raise DriverError(f"bad handshake: a {len(key)}-byte cache key is not an AES key")
    if not incoming.is_dir():
        raise DriverError(f"incoming folder {incoming} does not exist")
    store = PageStore(incoming_dir=incoming, key=key, fsync=bool(hello.get("fsync", True)))
    driver = hello.get("driver")
    return Hello(store, str(hello.get("log_level") or "INFO"),
                 str(driver) if driver is not None else None)


def main(argv: list[str] | None = None) -> int:
    """Run the worker until stdin closes or ``shutdown``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m scanlet.devices.worker")
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument("--driver", default="sane",
                        help="registry name of the driver to run (default: sane)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the service, not for us
    reuse_page_buffers()
    # The protocol stream: C libraries (SANE backends) printing to fd 1 reach stderr instead.
    channel = LineWriter(claim_stdout(buffering=1 << 16))
    # A fatal signal (a driver crashing in C) or SIGUSR1 prints every thread's traceback on
    # stderr; the service keeps the tail of it for the crash report (core/crash.py).
    faulthandler.enable(all_threads=True)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    setup_child_logging("INFO")
    watch_parent(args.parent_pid)  # PR_SET_PDEATHSIG, plus polling the parent pid
    stdin = sys.stdin.buffer
    try:
        hello = _read_hello(stdin)
        if hello is None:
            return 0
        setup_child_logging(hello.log_level)
        if hello.driver is not None and hello.driver != args.driver:
            raise DriverError(f"the handshake names driver {hello.driver!r}, the command line "
                              f"{args.driver!r}")
        driver = open_driver(args.driver)
    except BaseException as exc:
        error = _as_scanlet_error(exc)
        channel.send({"ev": "error", "error": error.to_dict()})
        return 1
    channel.send({"ev": "ready", "protocol": PROTOCOL_VERSION, "pid": os.getpid(),
                  "driver": driver.name,
                  "driver_version": getattr(driver, "version", "")})
    worker = Worker(driver, channel, hello.store)
    try:
        for message in iter_lines(stdin, LINE_LIMIT):
            if is_garbage(message):
                log.warning("ignoring a malformed request: %r", message.get("line"))
                continue
            if not worker.handle(message):
                break
    finally:
        worker.shutdown()
        with contextlib.suppress(OSError):
            channel.send({"ev": "bye"})
    return 0


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    os._exit(code)  # don't wait for a driver thread stuck in C
