"""The service side of one scan worker process (asyncio).

:class:`WorkerClient` spawns ``python -m scanlet.devices.worker --driver NAME`` (a fresh
interpreter started with the worker-process kit's ``spawn_async``, i.e. ``subprocess.Popen``
with an argument list: never a fork of the threaded service; its events are read by the kit's
``AsyncLineReader`` and its logs relayed by ``relay_stream_async``, all from
:mod:`scanlet.childproc`), performs the ready/error handshake within
``start_timeout``, sends requests and hands their events back in order. It turns every way a
worker can fail into a typed error: the process exits or its pipe closes while a request runs
-> DriverCrashed (with the exit code or signal); no event for ``timeout`` seconds -> the worker
is killed -> DriverTimeout. The worker's stderr (JSON log records) is re-logged under
``scanlet.worker`` (text that is no record at INFO); its tail (the kit's ``StderrTail``), with
the tracebacks the worker's faulthandler prints when it dies
of a signal, goes to ``WorkerConfig.on_crash`` when the worker ends abnormally on its own (not
when it was killed here), which writes a crash report.

Workers run in their own session (terminal Ctrl-C is for the service) and die with the service
through ``PR_SET_PDEATHSIG``, which Linux ties to the *thread* that spawned them: spawn from
the thread that runs the event loop for the service's whole life (as asyncio does).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import os
import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanlet.childproc import (
    AsyncLineReader,
    StderrTail,
    child_environment,
    dumps_line,
    is_garbage,
    module_command,
    relay_stream_async,
    spawn_async,
)
from scanlet.devices.protocol import LINE_LIMIT, PROTOCOL_VERSION, WORKER_MODULE
from scanlet.errors import (
    DriverCrashed,
    DriverError,
    DriverTimeout,
    DriverUnavailable,
    error_from_dict,
)

log = logging.getLogger(__name__)
worker_log = logging.getLogger("scanlet.worker")

#: Seconds a polite stop waits before killing.
STOP_GRACE = 3.0
#: Lines of the worker's raw stderr (faulthandler output) and of its log kept for a report.
FAULT_LINES = 400
OUTPUT_LINES = 40


@dataclass(frozen=True)
class WorkerConfig:
    """What a worker needs to know, sent in the handshake and through its environment."""

    incoming_dir: Path
    cache_key: bytes
    fsync: bool = True
    sane_config_dir: Path | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    #: Called (awaited) with what is known when a worker dies abnormally mid-request.
    on_crash: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    def environment(self) -> dict[str, str]:
        """The kit's worker environment with ``extra_env`` and ``SANE_CONFIG_DIR``."""
        extra = dict(self.extra_env)
        if self.sane_config_dir is not None:
            extra["SANE_CONFIG_DIR"] = str(self.sane_config_dir)
        return child_environment(extra)


def _exit_detail(returncode: int | None) -> dict[str, Any]:
    if returncode is None:
        return {"exit_code": None}
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return {"exit_code": returncode, "signal": name}
    return {"exit_code": returncode}


class FinalEventCalls(ABC):
    """``call`` for a client with ``request`` and ``next_event`` (the worker client and the
    in-process runner)."""

    @abstractmethod
    async def request(self, op: str, **fields: Any) -> int:
        """Send a request and return its id."""

    @abstractmethod
    async def next_event(self, rid: int, timeout: float) -> dict[str, Any]:
        """The next event of request ``rid``."""

    async def call(self, op: str, timeout: float, **fields: Any) -> dict[str, Any]:
        """A request answered by a single final event; an ``error`` event is raised."""
        rid = await self.request(op, **fields)
        while True:
            event = await self.next_event(rid, timeout)
            if event["ev"] == "error":
                raise error_from_dict(event.get("error") or {})
            if event["ev"] != "progress":
                return event


class WorkerClient(FinalEventCalls):
    """One worker process; use one request at a time (the manager serializes)."""

    def __init__(self, config: WorkerConfig, *, name: str, driver: str = "sane",
                 start_timeout: float = 20.0) -> None:
        self.name = name
        #: Registry name of the driver the worker runs (``--driver`` and the handshake).
        self.driver = driver
        self._config = config
        self._start_timeout = start_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._reader: AsyncLineReader | None = None
        self._relay: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._eof = False
        self.info: dict[str, Any] = {}
        self._killed = False  # killed here (timeout, cancel, stop): not a crash
        self._reported = False
        self._last_request: dict[str, Any] | None = None
        self._tail = StderrTail(output=OUTPUT_LINES, faults=FAULT_LINES)

    # -- state -------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process is not None else None

    @property
    def alive(self) -> bool:
        """Started, not exited, pipe still open."""
        return (self._process is not None and self._process.returncode is None
                and not self._eof and not (self._reader is None or self._reader.task.done()))

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn the worker and wait for ``ready``; raise DriverError subclasses otherwise."""
        try:  # the worker arms the parent-death signal itself (watch_parent)
            self._process = await spawn_async(
                module_command(WORKER_MODULE, "--driver", self.driver,
                               "--parent-pid", str(os.getpid())),
                stderr=asyncio.subprocess.PIPE, env=self._config.environment(),
                new_session=True, limit=LINE_LIMIT)
        except OSError as exc:
            raise DriverUnavailable(f"cannot start the scan worker: {exc}",
                                    worker=self.name) from exc
        assert self._process.stdout is not None and self._process.stderr is not None
        self._reader = AsyncLineReader(self._process.stdout, name="worker-events",
                                       logger=worker_log, prefix=f"[{self.name}] ")
        self._relay = relay_stream_async(
            self._process.stderr, worker_log, prefix=f"[{self.name} {self._process.pid}] ",
            name="worker-logs", other_level=logging.INFO, tail=self._tail)
        log.debug("worker %s started, pid %d", self.name, self._process.pid)
        hello = {
            "op": "hello", "protocol": PROTOCOL_VERSION, "driver": self.driver,
            "key": base64.b64encode(self._config.cache_key).decode(),
            "incoming_dir": str(self._config.incoming_dir), "fsync": self._config.fsync,
            "log_level": logging.getLevelName(logging.getLogger("scanlet").getEffectiveLevel()),
        }
        try:
            await self.send(hello)
            event = await self._next(self._start_timeout, during="start")
            if event["ev"] == "error":
                raise error_from_dict(event.get("error") or {})
            if event["ev"] != "ready":
                raise DriverError(f"worker answered the handshake with {event['ev']!r}")
        except BaseException:
            await self.kill()
            raise
        self.info = event
        log.info("worker %s ready (pid %d, %s %s)", self.name, self._process.pid,
                 event.get("driver"), event.get("driver_version"))

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Polite stop (shutdown request, stdin closed), then kill after ``grace`` seconds."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(OSError, RuntimeError, DriverCrashed):
                await self.send({"op": "shutdown"})
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                log.warning("worker %s (pid %d) did not stop in %.1f s: killing it",
                            self.name, process.pid, grace)
        await self.kill()

    async def kill(self) -> None:
        """Kill the process (by pid) if still running and reap it and its pipes."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            self._killed = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
        if process.stdin is not None:
            process.stdin.close()
        await process.wait()
        for task in self._tasks():
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _tasks(self) -> list[asyncio.Task[None]]:
        """The event reader's and the log relay's tasks (once started)."""
        tasks = [self._reader.task] if self._reader is not None else []
        return tasks + ([self._relay] if self._relay is not None else [])

    # -- requests ----------------------------------------------------------------------------

    async def send(self, message: Mapping[str, Any]) -> None:
        """Write one request; a closed pipe means the worker is gone -> DriverCrashed."""
        process = self._process
        if process is None or process.stdin is None:
            raise DriverCrashed("the scan worker is not running", worker=self.name)
        try:
            process.stdin.write(dumps_line(dict(message)))
            await process.stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise await self._crashed("sending a request") from exc

    async def request(self, op: str, **fields: Any) -> int:
        """Send a request and return its id (events then come from :meth:`next_event`)."""
        rid = next(self._ids)
        self._last_request = {"op": op, "id": rid, **fields}
        await self.send({"op": op, "id": rid, **fields})
        return rid

    async def next_event(self, rid: int, timeout: float) -> dict[str, Any]:
        """The next event of request ``rid``.

        Raises DriverCrashed if the worker exits or closes its pipe first, DriverTimeout (after
        killing it) if nothing arrives within ``timeout`` seconds.
        """
        while True:
            event = await self._next(timeout, during=f"request {rid}")
            if event.get("id") == rid:
                return event
            log.debug("worker %s: dropping stale event %s", self.name, event.get("ev"))

    # -- internals ---------------------------------------------------------------------------

    async def _next(self, timeout: float, *, during: str) -> dict[str, Any]:
        """The next event within ``timeout`` seconds (a line that is no JSON object is logged
        and skipped); DriverTimeout after killing the worker, DriverCrashed at the end."""
        if self._reader is None:
            raise DriverCrashed("the scan worker is not running", worker=self.name)
        events = self._reader.events
        deadline = time.monotonic() + timeout
        while True:
            try:  # (an event already queued is taken even when the time is up)
                event = (events.get_nowait() if not events.empty() else
                         await asyncio.wait_for(events.get(), deadline - time.monotonic()))
            except TimeoutError:
                pid = self.pid
                await self.kill()
                raise DriverTimeout(
                    f"The scanner driver sent nothing for {timeout:g} s ({during}); it was "
                    "stopped. Pages already stored are kept.",
                    worker=self.name, pid=pid, timeout=timeout,
                ) from None
            if event is None:
                events.put_nowait(None)  # every later wait sees the end too
                raise await self._crashed(during)
            if not is_garbage(event):
                return event
            worker_log.warning("[%s] unparsable protocol line: %r", self.name,
                               event.get("line"))

    async def _crashed(self, during: str) -> DriverCrashed:
        process = self._process
        self._eof = True
        if process is not None:
            try:
                await asyncio.wait_for(process.wait(), 5.0)
            except TimeoutError:
                await self.kill()
        detail = _exit_detail(self.returncode)
        how = (f"was killed by {detail['signal']}" if "signal" in detail
               else f"exited with status {detail['exit_code']}")
        if not self._killed and self.returncode:
            await self._report_crash(during, detail)
        return DriverCrashed(
            f"The scanner driver {how} ({during}); pages already stored are kept, retry the "
            "scan", worker=self.name, pid=self.pid, **detail)

    async def _report_crash(self, during: str, detail: dict[str, Any]) -> None:
        """Hand what is known about this crash to ``on_crash`` (once; failures are logged)."""
        callback = self._config.on_crash
        if callback is None or self._reported:
            return
        self._reported = True
        if self._relay is not None:  # let the log relay take the last lines (the tracebacks)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._relay), 2.0)
        info = {"device": self.name, "pid": self.pid, "during": during, **detail,
                "driver": self.info.get("driver"),
                "driver_version": self.info.get("driver_version"),
                "request": self._last_request, "faults": "\n".join(self._tail.faults),
                "output": list(self._tail.output)}
        try:
            await asyncio.wait_for(callback(info), 30.0)
        except Exception:
            log.exception("could not write the crash report of worker %s", self.name)
