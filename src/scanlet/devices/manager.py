"""The device layer's facade for the job layer and the API: devices, capabilities, scans.

Several drivers (registry.py; ``DeviceOptions.drivers``, the ``[devices] drivers`` key) serve
at once. A listing asks every enabled driver concurrently and merges their devices in registry
order; a driver that cannot run here or fails to list costs only its own devices (logged, and
its state is in :attr:`DeviceManager.driver_listings`). A device id is routed to its driver by
its prefix (``sane:`` -> ``sane``). Drivers that need isolation run in scan worker processes
(bridge.py), the others in the service through the in-process runner (inprocess.py), which
the manager drives through the same interface.

One worker (or in-process runner) per device, started on first use and stopped after
``idle_timeout`` seconds without use; each driver's listing runs in one of its own. Clients
that hold a device (:meth:`DeviceManager.hold`, a web app's session) keep it for themselves:
when the last holder lets go, the worker stops as soon as it is idle instead of after the
timeout. Operations on one device are serialized; a second scan while one runs fails at once
with DeviceBusy. A worker that crashes or hangs is discarded (the request fails with
DriverCrashed/DriverTimeout) and the next request gets a fresh one. Capabilities are cached per
device id for the life of the manager.

Listings are cached (listing_cache.py): ``list_devices`` answers from the last listing and
refreshes it in the background once it is older than ``list_max_age`` or when a USB device
is plugged in or out (hotplug.py); a device id missing from it triggers one refresh before
DeviceNotFound. Each listing runs in a fresh listing
worker per driver (stopped right after), so it sees what a fresh ``sane_init`` sees, as
``scanimage -L`` does: backends such as ``test`` or ``net`` read their configuration only at
init.

Start-up: :meth:`DeviceManager.start` begins the first listing without waiting for it. A job
for a device that this run has not listed yet goes straight to that device's worker, without
waiting for the listing, only when the id was in the previous run's listing (saved to
``listing_file``). SANE can open a device by name without listing, but the name is not checked
against anything then: the ``net`` and ``escl`` backends connect to the host named in it, so
opening any well-formed id a client sends would let it point the service at hosts of its
choosing. Ids a listing on this machine produced were found by the backends themselves. If
such a device cannot be opened, the running listing decides: absent, DeviceNotFound; present,
one more try.

Typical use::

    manager = DeviceManager(DeviceOptions(sane_config_dir=..., incoming_dir=..., cache_key=...))
    await manager.validate(settings)            # InvalidSetting & co. before anything moves
    async with manager.scan(settings) as session:
        async for page in session:              # ScannedPage: an encrypted file, now yours
            ...
    await manager.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from scanlet.devices import registry
from scanlet.devices.availability import is_driver_missing
from scanlet.devices.bridge import WorkerClient, WorkerConfig
from scanlet.devices.hotplug import watch_usb
from scanlet.devices.inprocess import InProcessClient
from scanlet.devices.listing_cache import ListingCache
from scanlet.devices.validate import validate_settings
from scanlet.errors import (
    DeviceBusy,
    DeviceError,
    DeviceNotFound,
    DriverCrashed,
    DriverTimeout,
    DriverUnavailable,
    ScanCancelled,
    ScanletError,
    error_from_dict,
)
from scanlet.models import Capabilities, Device, ScannedPage, ScanSettings, SourceCaps

log = logging.getLogger(__name__)

#: Seconds a cancelled scan may take to stop by itself before its worker is killed.
CANCEL_GRACE = 5.0
#: Slot keys of the listing workers are this plus the driver name.
_LISTING = "*listing*:"

#: What runs a driver for a slot: a worker process or the in-process runner.
Runner = WorkerClient | InProcessClient


@dataclass(frozen=True)
class DriverListing:
    """How the last listing of one driver went (``/v1/admin/status``, logs)."""

    #: ``pending`` (not listed yet), ``ok``, ``unavailable`` (cannot run on this system;
    #: not asked again until restart) or ``failed`` (its previous devices are kept).
    state: str = "pending"
    devices: int = 0
    reason: str | None = None


@dataclass(frozen=True)
class DeviceOptions:
    """Configuration of the device layer (from config.Settings and the home folder)."""

    sane_config_dir: Path | None
    incoming_dir: Path
    cache_key: bytes
    fsync: bool = True
    #: Registry names of the enabled drivers (``[devices] drivers``); empty: every driver
    #: made for this OS (registry.enabled). Unknown names are a ConfigError.
    drivers: tuple[str, ...] = ()
    idle_timeout: float = 60.0
    progress_timeout: float = 60.0
    start_timeout: float = 20.0
    #: Seconds a listing is answered from before a request refreshes it in the background.
    list_max_age: float = 300.0
    #: Where the last listing is kept for the next run (None: not kept).
    listing_file: Path | None = None
    #: Folder whose USB device nodes are watched to refresh the listing (hotplug.py; None:
    #: not watched).
    usb_dir: Path | None = None
    #: Awaited when a worker dies abnormally mid-request (see bridge.WorkerConfig.on_crash).
    on_worker_crash: Callable[[dict[str, Any]], Awaitable[None]] | None = None


class _Slot:
    """One device's worker, its lock and its idle timer."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.lock = asyncio.Lock()
        self.client: Runner | None = None
        self.session: ScanSession | None = None
        self.idle: asyncio.TimerHandle | None = None
        self.stopping: asyncio.Task[None] | None = None
        self.holders: set[str] = set()
        self.orphaned = False  # its last holder let go: stop the worker once idle

    def cancel_idle(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None


class DeviceManager:
    """See the module docstring."""

    def __init__(self, options: DeviceOptions) -> None:
        self.options = options
        self._config = WorkerConfig(incoming_dir=options.incoming_dir,
                                    cache_key=options.cache_key, fsync=options.fsync,
                                    sane_config_dir=options.sane_config_dir,
                                    on_crash=options.on_worker_crash)
        self._slots: dict[str, _Slot] = {}
        self.listing = ListingCache(self._list_now, max_age=options.list_max_age,
                                    seed=_load_listing(options.listing_file),
                                    on_listed=self._save_listing)
        self._caps: dict[str, Capabilities] = {}
        #: The enabled drivers, in registry (listing) order.
        self.drivers = registry.enabled(options.drivers)
        #: Per driver: how its last listing went.
        self.driver_listings: dict[str, DriverListing] = {
            d.name: DriverListing() for d in self.drivers}
        #: Per driver: the devices of its last successful listing (kept when one fails).
        self._listed: dict[str, list[Device]] = {}
        #: Per driver: its "not available on this system" error, once reported.
        self._missing: dict[str, DriverUnavailable] = {}
        #: Per driver: set once its own listing of this run ended (see get_device).
        self._driver_done: dict[str, asyncio.Event] = {d.name: asyncio.Event()
                                                       for d in self.drivers}
        self._sessions: set[ScanSession] = set()
        self._closed = False
        self._hotplug: asyncio.Task[None] | None = None
        self._stop_hotplug = asyncio.Event()

    # -- public API --------------------------------------------------------------------------

    def start(self) -> None:
        """Begin the first listing in the background (at service start) and watch USB
        hotplug (``usb_dir``)."""
        self.listing.refresh_soon()
        if self.options.usb_dir is not None and self._hotplug is None:
            self._hotplug = asyncio.get_running_loop().create_task(
                watch_usb(self.options.usb_dir, self._usb_changed, self._stop_hotplug),
                name="usb hotplug")

    def _usb_changed(self) -> None:
        if not self._closed:
            self.listing.refresh_soon(fresh=True)

    async def list_devices(self, *, refresh: bool = False) -> list[Device]:
        """The devices of the last listing (see the module docstring); ``refresh`` lists now
        and waits for it.

        A driver that cannot run on this system (python-sane not installed) has no devices:
        its part of the listing is empty, not an error, and it is not asked again during the
        manager's life (installing python-sane takes a restart, like any other dependency).
        """
        devices = await (self.listing.refresh(fresh=True) if refresh
                         else self.listing.current())
        return list(devices.values())

    async def _list_now(self) -> list[Device]:
        """One listing (the cache's lister): every enabled driver at once, merged in registry
        order. A driver that fails keeps its previous devices; only when every driver that
        can run here failed is the listing itself an error."""
        drivers = self.drivers
        results = await asyncio.gather(*(self._list_driver(d) for d in drivers),
                                       return_exceptions=True)
        devices: list[Device] = []
        failures: list[Exception] = []
        listed = 0
        for entry, result in zip(drivers, results, strict=True):
            if isinstance(result, list):
                devices.extend(result)
                listed += entry.name not in self._missing
                continue
            if not isinstance(result, Exception):
                raise result
            failures.append(result)
            kept = self._listed.get(entry.name, [])
            log.warning("listing the devices of the %s driver failed (keeping its %d devices "
                        "of the last listing): %s", entry.name, len(kept), result)
            self.driver_listings[entry.name] = DriverListing("failed", len(kept), str(result))
            devices.extend(kept)
        if failures and not listed:
            raise failures[0]
        return devices

    async def _list_driver(self, entry: registry.DriverInfo) -> list[Device]:
        """The devices of one driver, listed by a fresh listing worker (runner) of it."""
        try:
            return await self._list_driver_once(entry)
        finally:
            self._driver_done[entry.name].set()

    async def _list_driver_once(self, entry: registry.DriverInfo) -> list[Device]:
        if entry.name in self._missing:
            return []
        try:
            event = await self._call(_LISTING + entry.name, "list")
        except DriverUnavailable as exc:
            if not is_driver_missing(exc):
                raise
            log.warning("no devices from the %s driver: it is %s", entry.name, exc.message)
            self._missing[entry.name] = exc
            self.driver_listings[entry.name] = DriverListing("unavailable", 0, exc.message)
            return []
        found = [Device.model_validate(d) for d in event.get("devices", [])]
        devices = [d for d in found if d.id.startswith(entry.prefix)]
        if len(devices) != len(found):
            log.warning("ignoring %d devices the %s driver listed without its id prefix",
                        len(found) - len(devices), entry.name)
        self._listed[entry.name] = devices
        self.driver_listings[entry.name] = DriverListing("ok", len(devices))
        return devices

    def _driver_for(self, key: str) -> registry.DriverInfo:
        """The driver serving a slot: a listing slot's own, or the device id's by prefix;
        DeviceNotFound when no enabled driver has that prefix."""
        if key.startswith(_LISTING):
            return registry.info(key[len(_LISTING):])
        entry = registry.driver_of(key)
        if entry not in self.drivers:
            raise DeviceNotFound(f"no device {key!r}: the {entry.name} driver is not enabled "
                                 "([devices] drivers)", device=key, driver=entry.name)
        return entry

    def _save_listing(self, devices: list[Device]) -> None:
        path = self.options.listing_file
        if path is None:
            return
        try:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps([d.model_dump(mode="json") for d in devices]))
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("cannot keep the device listing in %s: %s", path, exc)

    async def get_device(self, device_id: str) -> Device:
        """One device by id from the last listing; one refresh if it is not there, then
        DeviceNotFound if still absent, DriverUnavailable if the driver cannot run on this
        system. Before this run's first listing ends, a device of the previous run's listing
        is returned at once (see the module docstring)."""
        try:
            entry = self._driver_for(device_id)
        except DeviceNotFound:
            raise DeviceNotFound(f"no device {device_id!r}; list the devices to see their ids",
                                 device=device_id) from None
        cache = self.listing
        if cache.devices is None:
            seeded = cache.seed.get(device_id)
            if seeded is not None:
                cache.refresh_soon()
                return seeded
            early = await self._first_listing_of(entry.name)
            if device_id in early:
                return early[device_id]
        else:
            device = (await cache.current()).get(device_id)
            if device is not None:
                return device
        device = (await cache.refresh()).get(device_id)
        missing = self._missing.get(entry.name)
        if device is None and missing is not None:
            raise DriverUnavailable(missing.message, device=device_id, **missing.detail)
        if device is None:
            raise DeviceNotFound(f"no device {device_id!r}; list the devices to see their ids",
                                 device=device_id)
        return device

    async def _first_listing_of(self, name: str) -> dict[str, Device]:
        """This run's devices of driver ``name`` as soon as its own listing ended, without
        waiting for the other drivers' (the demo driver lists in milliseconds, SANE with
        Debian's backends in seconds). Listed by this run, so the unlisted-id rule holds."""
        done = self._driver_done[name]
        if not done.is_set():
            whole = self.listing.refresh_soon()
            waiter = asyncio.ensure_future(done.wait())
            try:
                await asyncio.wait({whole, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
        if name not in self.driver_listings or self.driver_listings[name].state != "ok":
            return {}
        return {d.id: d for d in self._listed.get(name, [])}

    async def capabilities(self, device_id: str) -> Capabilities:
        """Normalized capabilities of a device (read once per device, then cached)."""
        cached = self._caps.get(device_id)
        if cached is not None:
            return cached
        confirmed = (self.listing.devices is not None and device_id in self.listing.devices) \
            or any(device_id in (d.id for d in listed) for listed in self._listed.values())
        await self.get_device(device_id)
        try:
            event = await self._call(device_id, "caps", device=device_id)
        except DeviceError:
            if confirmed:
                raise
            # Only the previous run's listing had it: this run's listing decides.
            self.listing.seed.pop(device_id, None)
            await self.get_device(device_id)
            event = await self._call(device_id, "caps", device=device_id)
        caps = Capabilities.model_validate(event["caps"])
        self._caps[device_id] = caps
        return caps

    async def validate(self, settings: ScanSettings) -> SourceCaps:
        """Check ``settings`` against the device before scanning; returns the source's caps.

        Raises DeviceNotFound, UnsupportedSource or InvalidSetting (``detail.field`` names the
        setting).
        """
        return validate_settings(settings, await self.capabilities(settings.device))

    def scan(self, settings: ScanSettings) -> ScanSession:
        """A scan of ``settings`` that starts when first iterated (validate it first)."""
        if self._closed:
            raise DriverUnavailable("the device manager is closed")
        return ScanSession(self, settings)

    def worker_pids(self) -> dict[str, int]:
        """Device id -> pid of its live worker (the listing worker is not included)."""
        return {key: slot.client.pid for key, slot in self._slots.items()
                if not key.startswith(_LISTING) and slot.client is not None
                and slot.client.alive and slot.client.pid is not None}

    async def set_log_level(self, level: str) -> None:
        """Tell every live worker (the listing one too) to log at ``level`` from now on; new
        workers get the service's level in their handshake."""
        for slot in list(self._slots.values()):
            client = slot.client
            if client is not None and client.alive:
                with contextlib.suppress(ScanletError, OSError):
                    await client.send({"op": "log_level", "level": level})

    def hold(self, holder: str, device_id: str) -> None:
        """Mark ``device_id`` as used by ``holder`` (a client session) until
        :meth:`let_go`; its worker then lives at least as long as some holder does, within
        the idle timeout."""
        slot = self._slot(device_id)
        slot.holders.add(holder)
        slot.orphaned = False

    def let_go(self, holder: str) -> None:
        """``holder`` is gone: every device it held and nobody else holds stops its worker
        now if idle, or as soon as its running scan ends."""
        for slot in list(self._slots.values()):
            if holder not in slot.holders:
                continue
            slot.holders.discard(holder)
            if not slot.holders:
                slot.orphaned = True
                if slot.client is not None and slot.session is None \
                        and not slot.lock.locked():
                    self._release(slot)

    async def close(self) -> None:
        """Cancel running scans and stop every worker."""
        self._closed = True
        if self._hotplug is not None:
            self._stop_hotplug.set()
            with contextlib.suppress(Exception):  # TimeoutError: cancelled then
                await asyncio.wait_for(self._hotplug, 5.0)
        await self.listing.close()
        for session in list(self._sessions):
            await session.cancel(grace=1.0)
        await asyncio.gather(*(self._stop_slot(slot) for slot in list(self._slots.values())),
                             return_exceptions=True)
        for slot in self._slots.values():
            if slot.stopping is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await slot.stopping
        self._slots.clear()

    # -- internals used by ScanSession -------------------------------------------------------

    def _slot(self, key: str) -> _Slot:
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(key)
            # Each listing in a fresh worker: it then sees what a fresh sane_init finds.
            slot.orphaned = key.startswith(_LISTING)
        return slot

    async def _client(self, slot: _Slot) -> Runner:
        """The slot's live worker, starting a fresh one if needed (lock held): a worker
        process for an isolated driver, the in-process runner for the others."""
        if self._closed:
            raise DriverUnavailable("the device manager is closed")
        slot.cancel_idle()
        old = slot.client
        fresh = slot.key.startswith(_LISTING)  # each listing sees a fresh sane_init
        if old is not None and old.alive and not fresh:
            return old
        if old is not None and old.alive:
            await old.stop()
        elif old is not None:
            log.warning("worker for %s is gone (exit %s); starting a new one", slot.key,
                        old.returncode)
            await old.kill()
        entry = self._driver_for(slot.key)
        client: Runner
        if entry.isolated:
            client = WorkerClient(self._config, name=slot.key, driver=entry.name,
                                  start_timeout=self.options.start_timeout)
        else:
            client = InProcessClient(self._config, name=slot.key, driver=entry.name,
                                     start_timeout=self.options.start_timeout)
        slot.client = None
        await client.start()
        slot.client = client
        return client

    async def _discard(self, slot: _Slot) -> None:
        """Forget a crashed or hung worker (killing it if needed)."""
        client, slot.client = slot.client, None
        if client is not None:
            await client.kill()

    def _release(self, slot: _Slot) -> None:
        """After an operation: stop the worker once it stays idle for ``idle_timeout`` (at
        once when its last holder has let go)."""
        slot.cancel_idle()
        if self._closed or slot.client is None:
            return
        loop = asyncio.get_running_loop()
        delay = 0.0 if slot.orphaned else self.options.idle_timeout
        slot.idle = loop.call_later(delay, self._idle_expired, slot)

    def _idle_expired(self, slot: _Slot) -> None:
        slot.idle = None
        if slot.lock.locked() or slot.session is not None or slot.client is None:
            return
        slot.stopping = asyncio.get_running_loop().create_task(self._stop_idle(slot))

    async def _stop_idle(self, slot: _Slot) -> None:
        async with slot.lock:
            if slot.session is None and slot.idle is None:
                log.info("stopping idle worker for %s", slot.key)
                await self._stop_slot(slot)

    async def _stop_slot(self, slot: _Slot) -> None:
        slot.cancel_idle()
        client, slot.client = slot.client, None
        if client is not None:
            await client.stop()

    async def _call(self, key: str, op: str, **fields: Any) -> dict[str, Any]:
        slot = self._slot(key)
        async with slot.lock:
            try:
                client = await self._client(slot)
                return await client.call(op, self.options.progress_timeout, **fields)
            except (DriverCrashed, DriverTimeout):
                await self._discard(slot)
                raise
            finally:
                self._release(slot)


class ScanSession:
    """One scan: iterate it for pages; see :meth:`__anext__` for how it ends.

    Pages arrive as soon as the worker has stored them, whether or not someone is iterating;
    iteration yields them in order. Also usable as ``async with`` (leaving the block early
    cancels the scan).
    """

    def __init__(self, manager: DeviceManager, settings: ScanSettings) -> None:
        self.settings = settings
        self.pages_handed_over = 0
        #: Called with (page index, lines read, total lines) while a page is being read.
        self.on_progress: Callable[[int, int, int], None] | None = None
        self._manager = manager
        self._queue: asyncio.Queue[ScannedPage | BaseException | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._done = asyncio.Event()
        self._cancel_requested = False
        self._client: Runner | None = None
        self._request: int | None = None
        self._finished = False

    def __aiter__(self) -> AsyncIterator[ScannedPage]:
        return self

    async def __anext__(self) -> ScannedPage:
        """The next page; StopAsyncIteration at the normal end.

        Raises the scan's error after the pages that came before it: DeviceBusy (another scan
        on the device), FeederEmpty, PaperJam & co., ScanCancelled (after :meth:`cancel`),
        DriverCrashed, DriverTimeout, StorageError.
        """
        if self._finished:
            raise StopAsyncIteration
        self._ensure_started()
        item = await self._queue.get()
        if item is None:
            self._finished = True
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._finished = True
            raise item
        return item

    async def __aenter__(self) -> ScanSession:
        self._ensure_started()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if not self._done.is_set():
            await self.cancel()

    async def cancel(self, grace: float = CANCEL_GRACE) -> None:
        """Ask the scan to stop; kill its worker if it has not stopped after ``grace`` s.

        Pages stored before the stop are still yielded; the iteration then raises
        ScanCancelled. Returns once the scan has ended.
        """
        self._cancel_requested = True
        if self._task is None:
            self._queue.put_nowait(ScanCancelled(device=self.settings.device, pages=0))
            self._done.set()
            return
        client, rid = self._client, self._request
        if client is not None and rid is not None and not self._done.is_set():
            with contextlib.suppress(ScanletError):
                await client.send({"op": "cancel", "id": rid})
        try:
            await asyncio.wait_for(self._done.wait(), grace)
        except TimeoutError:
            if client is not None:
                log.warning("scan on %s did not stop within %.1f s: killing its worker",
                            self.settings.device, grace)
                await client.kill()
            await self._done.wait()

    # -- the pump ----------------------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._task is None and not self._done.is_set():
            self._task = asyncio.get_running_loop().create_task(
                self._pump(), name=f"scan {self.settings.device}")

    async def _pump(self) -> None:
        manager = self._manager
        device = self.settings.device
        slot = manager._slot(device)
        if slot.session is not None:
            self._finish(DeviceBusy(f"{device} is already scanning; wait for that job",
                                    device=device))
            return
        slot.session = self
        manager._sessions.add(self)
        try:
            async with slot.lock:
                if self._cancel_requested:
                    raise ScanCancelled(device=device, pages=0)
                try:
                    client = await manager._client(slot)
                    await self._run(client)
                except (DriverCrashed, DriverTimeout) as exc:
                    await manager._discard(slot)
                    if self._cancel_requested:
                        raise ScanCancelled(device=device, pages=self.pages_handed_over) \
                            from exc
                    exc.detail.setdefault("device", device)
                    exc.detail["pages"] = self.pages_handed_over
                    raise
                finally:
                    manager._release(slot)
        except BaseException as exc:
            self._finish(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            self._finish(None)
        finally:
            slot.session = None
            manager._sessions.discard(self)
            self._client = self._request = None

    async def _run(self, client: Runner) -> None:
        timeout = self._manager.options.progress_timeout
        self._client = client
        self._request = await client.request(
            "scan", settings=self.settings.model_dump(mode="json"))
        if self._cancel_requested:
            await client.send({"op": "cancel", "id": self._request})
        while True:
            event = await client.next_event(self._request, timeout)
            kind = event["ev"]
            if kind == "page":
                self._queue.put_nowait(ScannedPage.model_validate(event["page"]))
                self.pages_handed_over += 1
            elif kind == "progress" and self.on_progress is not None:
                self.on_progress(int(event["page"]), int(event["lines"]), int(event["total"]))
            elif kind == "done":
                return
            elif kind == "error":
                error = error_from_dict(event.get("error") or {})
                error.detail.setdefault("pages", self.pages_handed_over)
                raise error

    def _finish(self, outcome: BaseException | None) -> None:
        self._queue.put_nowait(outcome)
        self._done.set()


def _load_listing(path: Path | None) -> list[Device]:
    """The listing a previous run kept in ``path`` (none if absent or unreadable)."""
    if path is None:
        return []
    try:
        return [Device.model_validate(d) for d in json.loads(path.read_text())]
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("ignoring the kept device listing %s: %s", path, exc)
        return []
