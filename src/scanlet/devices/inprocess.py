"""Runs a driver that needs no isolation inside the service process, as if it were a worker.

:class:`InProcessClient` has the interface the device manager uses for
:class:`~scanlet.devices.bridge.WorkerClient` (``start``, ``request``, ``next_event``,
``call``, ``send``, ``stop``, ``kill``, ``alive``, ``pid``, ``info``), so the manager treats
both alike. Underneath it is the scan worker's own :class:`~scanlet.devices.worker.Worker`
dispatcher (same request logic, same page pipeline writing encrypted files into the same
incoming folder) with a channel that feeds an asyncio queue instead of stdout: the protocol
messages stay dicts and never become JSON.

Drivers in the registry with ``isolated=False`` (pure Python, no native library) run here: a
crash in them is a Python exception, which the dispatcher turns into an ``error`` event like
the worker does. The process plumbing of the worker (the kit's stdout claim, JSON lines, log
relay, parent watch: :mod:`scanlet.childproc`) has no part here: there is no process. What a
thread cannot do is be killed: a driver call that sends nothing for
the timeout fails with DriverTimeout and the runner is abandoned (its thread finishes on its
own, the next request gets a fresh runner).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Mapping
from typing import Any

from scanlet.devices.bridge import FinalEventCalls, WorkerConfig
from scanlet.devices.pipeline import PageStore
from scanlet.devices.protocol import PROTOCOL_VERSION
from scanlet.devices.worker import Worker, open_driver
from scanlet.errors import DriverCrashed, DriverTimeout

log = logging.getLogger(__name__)


class _QueueChannel:
    """A worker channel that hands each event to the event loop's queue (any thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 events: asyncio.Queue[dict[str, Any]]) -> None:
        self._loop = loop
        self._events = events

    def send(self, message: dict[str, Any]) -> None:
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, message)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            log.debug("dropping %s after the event loop closed", message.get("ev"))


class InProcessClient(FinalEventCalls):
    """One in-process "worker" for one driver; one request at a time (the manager
    serializes). See the module docstring."""

    def __init__(self, config: WorkerConfig, *, name: str, driver: str,
                 start_timeout: float = 20.0) -> None:
        self.name = name
        self.driver = driver
        self._config = config
        self._start_timeout = start_timeout
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._worker: Worker | None = None
        self._ids = itertools.count(1)
        self._stopped = False
        self.info: dict[str, Any] = {}

    # -- state -------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """None: there is no process of its own (so nobody ever signals the service)."""
        return None

    @property
    def returncode(self) -> int | None:
        return None

    @property
    def alive(self) -> bool:
        return self._worker is not None and not self._stopped

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the driver (in a thread: drivers block); DriverUnavailable when it cannot run
        here, DriverTimeout when loading takes longer than ``start_timeout``."""
        loop = asyncio.get_running_loop()
        try:
            driver = await asyncio.wait_for(asyncio.to_thread(open_driver, self.driver),
                                            self._start_timeout)
        except TimeoutError:
            raise DriverTimeout(f"the {self.driver} driver did not load within "
                                f"{self._start_timeout:g} s", worker=self.name,
                                timeout=self._start_timeout) from None
        store = PageStore(incoming_dir=self._config.incoming_dir, key=self._config.cache_key,
                          fsync=self._config.fsync)
        self._worker = Worker(driver, _QueueChannel(loop, self._events), store)
        self.info = {"ev": "ready", "protocol": PROTOCOL_VERSION, "pid": None,
                     "driver": driver.name, "driver_version": getattr(driver, "version", "")}
        log.info("driver %s running in-process for %s", driver.name, self.name)

    async def stop(self, grace: float = 3.0) -> None:
        """Cancel what runs and release the driver (waits up to the worker's grace)."""
        worker, self._worker = self._worker, None
        self._stopped = True
        if worker is not None:
            await asyncio.to_thread(worker.shutdown)

    async def kill(self) -> None:
        """Same as :meth:`stop`: a thread cannot be killed, only asked to stop."""
        await self.stop()

    # -- requests ----------------------------------------------------------------------------

    async def send(self, message: Mapping[str, Any]) -> None:
        """Hand one request to the dispatcher. ``log_level`` requests are dropped: the driver
        logs through the service's own loggers, whose level is already the service's."""
        worker = self._worker
        if worker is None or self._stopped:
            raise DriverCrashed("the in-process driver runner is stopped", worker=self.name)
        if message.get("op") == "log_level":
            return
        if message.get("op") == "shutdown":
            await self.stop()
            return
        await asyncio.to_thread(worker.handle, dict(message))

    async def request(self, op: str, **fields: Any) -> int:
        """Send a request and return its id (events then come from :meth:`next_event`)."""
        rid = next(self._ids)
        await self.send({"op": op, "id": rid, **fields})
        return rid

    async def next_event(self, rid: int, timeout: float) -> dict[str, Any]:
        """The next event of request ``rid``; DriverTimeout (and the runner abandoned) when
        nothing arrives within ``timeout`` seconds."""
        while True:
            try:
                event = await asyncio.wait_for(self._events.get(), timeout)
            except TimeoutError:  # the manager then discards this runner (stop)
                raise DriverTimeout(
                    f"The scanner driver sent nothing for {timeout:g} s (request {rid}); it "
                    "was stopped. Pages already stored are kept.",
                    worker=self.name, timeout=timeout) from None
            if event.get("id") == rid:
                return event
            log.debug("%s: dropping stale event %s", self.name, event.get("ev"))
