"""The last device listing, its age, and the one refresh that may be running.

A SANE listing probes every enabled backend (network ones too) and takes seconds on a stock
system, so the service answers from the last listing and refreshes in the background: when
it is older than ``max_age`` seconds, when a caller forces it, or when a device id is not in
it. Only one refresh runs at a time; callers that ask during it share it. A caller that
gives up waiting (a closed HTTP request) does not cancel the refresh.

The listing of the previous run (``seed``, read from a file by the manager) is kept apart:
it is not the answer to "which devices are there" until this run has listed once, but it
tells which ids a listing on this machine produced, see manager.py for what that allows.

Whoever subscribes gets ``{"type": "devices_changed", "added": [...], "removed": [...]}``
for every refresh that changes the set of ids (not for the first listing of the run).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from scanlet.models import Device

log = logging.getLogger(__name__)

#: Events a slow subscriber may fall behind by before it misses some (it can list again).
QUEUE_SIZE = 64

Lister = Callable[[], Awaitable[list[Device]]]


class ListingCache:
    """See the module docstring."""

    def __init__(self, lister: Lister, *, max_age: float,
                 seed: list[Device] | None = None,
                 on_listed: Callable[[list[Device]], None] | None = None) -> None:
        self._lister = lister
        self.max_age = max_age
        self._on_listed = on_listed
        #: The devices of this run's last completed listing (None before the first one).
        self.devices: dict[str, Device] | None = None
        #: The previous run's listing, until this run has listed once.
        self.seed: dict[str, Device] = {d.id: d for d in seed or []}
        #: Completed listings of this run (exposed for status pages and tests).
        self.listings = 0
        self._listed_at: float | None = None
        self._inflight: asyncio.Task[dict[str, Device]] | None = None
        self._again = False  # list once more when the running listing ends
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    @property
    def refreshing(self) -> bool:
        return self._inflight is not None and not self._inflight.done()

    @property
    def stale(self) -> bool:
        return self._listed_at is None or time.monotonic() - self._listed_at > self.max_age

    def refresh_soon(self, *, fresh: bool = False) -> asyncio.Task[dict[str, Device]]:
        """The running refresh, or a new one started now (not waited for). ``fresh``: the
        result must come from a listing that starts from now on (the running one may have
        started before a device was plugged in), so it lists once more after it."""
        if self._inflight is None or self._inflight.done():
            self._again = False
            self._inflight = asyncio.get_running_loop().create_task(
                self._refresh(), name="device listing")
            self._inflight.add_done_callback(_retrieve)
        elif fresh:
            self._again = True
        return self._inflight

    async def refresh(self, *, fresh: bool = False) -> dict[str, Device]:
        """Wait for the running refresh, or a new one; raises the lister's error."""
        return await asyncio.shield(self.refresh_soon(fresh=fresh))

    async def current(self) -> dict[str, Device]:
        """The last listing at once (refreshing it in the background when stale); waits only
        when this run has not listed yet."""
        if self.devices is None:
            return await self.refresh()
        if self.stale:
            self.refresh_soon()
        return self.devices

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    async def close(self) -> None:
        """Cancel a running refresh (at shutdown)."""
        task = self._inflight
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _refresh(self) -> dict[str, Device]:
        while True:
            devices = await self._list_once()
            if not self._again:
                return devices
            self._again = False

    async def _list_once(self) -> dict[str, Device]:
        found = await self._lister()
        devices = {d.id: d for d in found}
        previous, self.devices = self.devices, devices
        self._listed_at = time.monotonic()
        self.listings += 1
        self.seed = {}
        log.info("device listing %d: %d devices", self.listings, len(devices))
        if self._on_listed is not None:
            self._on_listed(found)
        if previous is not None:
            added = sorted(devices.keys() - previous.keys())
            removed = sorted(previous.keys() - devices.keys())
            if added or removed:
                self._publish({"type": "devices_changed", "added": added, "removed": removed})
        return devices

    def _publish(self, event: dict[str, Any]) -> None:
        log.info("devices changed: added %s, removed %s", event["added"], event["removed"])
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Log a background refresh's failure (callers that waited got it raised)."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.warning("device listing failed: %s", exc)
