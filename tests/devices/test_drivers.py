"""The driver registry in use: names, prefixes, the worker's ``--driver``, listing several
drivers at once, routing by prefix, and the in-process runner.

Only real drivers run: SANE (test backend), in worker processes and, for the in-process
runner's plumbing, in this process. Drivers that cannot run are real registry entries for
another OS or for a driver this installation lacks (added with ``monkeypatch.setitem``), not
fake driver classes: the registry refuses to load them, which is what is tested.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanlet.buffer import PageStore as BufferStore
from scanlet.config import Home
from scanlet.crypto import read_encrypted
from scanlet.devices import registry
from scanlet.devices.bridge import WorkerClient, WorkerConfig
from scanlet.devices.inprocess import InProcessClient
from scanlet.devices.manager import _LISTING
from scanlet.errors import (
    ConfigError,
    DeviceNotFound,
    DriverUnavailable,
)
from scanlet.models import ScannedPage, ScanSettings
from tests.devices.conftest import SLOW_FEEDER, Env, collect

pytestmark = pytest.mark.timeout(120)

#: A driver for another OS: the registry knows it, this system cannot run it.
OTHER_OS = registry.DriverInfo(name="wia", summary="Windows Image Acquisition",
                               platforms=("win32",), isolated=False,
                               factory="scanlet.devices.wia_driver:WiaDriver")
#: An isolated driver the worker process does not know (its registry has no such entry):
#: its listing worker fails to start.
UNKNOWN_TO_WORKER = registry.DriverInfo(name="twain", summary="TWAIN",
                                        platforms=(sys.platform,), isolated=True,
                                        factory="scanlet.devices.twain_driver:TwainDriver")


@pytest.fixture
def more_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry with ``wia`` (another OS) before ``sane`` and ``twain`` after it."""
    monkeypatch.setattr(registry, "DRIVERS",
                        {"wia": OTHER_OS, **registry.DRIVERS, "twain": UNKNOWN_TO_WORKER})


# -- the registry ----------------------------------------------------------------------------


def test_unknown_driver_names_are_config_errors() -> None:
    for call in (lambda: registry.info("nope"), lambda: registry.enabled(["sane", "nope"]),
                 lambda: registry.load_driver("nope")):
        with pytest.raises(ConfigError) as info:
            call()
        assert "'nope'" in info.value.message and info.value.detail["driver"] == "nope"


def test_device_ids_are_routed_by_prefix() -> None:
    assert registry.driver_of("sane:test:0").name == "sane"
    assert registry.driver_of("sane:airscan:e0:Some Printer").name == "sane"
    assert registry.driver_of("demo:flatbed").name == "demo"
    for bad in ("sane:", "sane", "nope:test:0", "", ":test:0", "SANE:test:0"):
        with pytest.raises(DeviceNotFound):
            registry.driver_of(bad)


def test_enabled_defaults_to_the_drivers_made_for_this_os(more_drivers: None) -> None:
    default = [d.name for d in registry.enabled(None)]
    assert default == [d.name for d in registry.enabled(())]
    assert "demo" not in default and "wia" not in default  # --demo adds it; another OS
    if sys.platform.startswith("linux"):
        assert default == ["sane", "twain"]
    # named drivers come in registry order, whatever order the key lists them in
    assert [d.name for d in registry.enabled(["sane", "demo", "wia"])] == ["wia", "demo",
                                                                          "sane"]


def test_a_driver_for_another_os_is_unavailable_not_an_import_error(
        more_drivers: None) -> None:
    with pytest.raises(DriverUnavailable) as info:
        registry.load_driver("wia")
    assert info.value.message == "not available on this system: runs only on win32"
    assert info.value.detail == {"driver": "wia", "reason": "runs only on win32"}
    with pytest.raises(DriverUnavailable) as missing:
        registry.load_driver("twain")  # made for this OS, but no module in this install
    assert "scanlet.devices.twain_driver" in missing.value.message
    assert missing.value.detail["driver"] == "twain"


# -- the worker's --driver -------------------------------------------------------------------


def _worker(env: Env, *args: str, hello: dict[str, object]) -> list[dict[str, object]]:
    """Run a worker with ``args``, send ``hello`` and a list request, return its events."""
    command = [sys.executable, "-m", "scanlet.devices.worker", *args,
               "--parent-pid", str(os.getpid())]
    line = json.dumps({"op": "hello", "protocol": 1, "fsync": False,
                       "key": base64.b64encode(env.options.cache_key).decode(),
                       "incoming_dir": str(env.options.incoming_dir), **hello})
    done = subprocess.run(command, input=(line + '\n{"op": "list", "id": 1}\n').encode(),
                          capture_output=True, timeout=60,
                          env={**os.environ,
                               "SANE_CONFIG_DIR": str(env.options.sane_config_dir)})
    return [json.loads(out) for out in done.stdout.splitlines()]


def test_worker_runs_the_driver_it_is_named(env: Env) -> None:
    ready, listed, bye = _worker(env, "--driver", "sane", hello={"driver": "sane"})
    assert ready["ev"] == "ready" and ready["driver"] == "sane"
    assert listed["ev"] == "devices"
    assert "sane:test:0" in {d["id"] for d in listed["devices"]}  # type: ignore[union-attr]
    assert bye == {"ev": "bye"}

    (unknown,) = _worker(env, "--driver", "nope", hello={})
    assert unknown["ev"] == "error"
    assert unknown["error"]["code"] == "config_invalid"  # type: ignore[index]
    assert "'nope'" in unknown["error"]["message"]  # type: ignore[index]

    (other,) = _worker(env, "--driver", "sane", hello={"driver": "demo"})
    assert other["ev"] == "error" and other["error"]["code"] == "driver_error"  # type: ignore


def test_worker_client_names_its_driver(env: Env) -> None:
    async def body() -> None:
        client = WorkerClient(WorkerConfig(incoming_dir=env.options.incoming_dir,
                                           cache_key=env.options.cache_key,
                                           sane_config_dir=env.options.sane_config_dir),
                              name="listing", driver="sane")
        await client.start()
        try:
            assert client.info["driver"] == "sane"
            event = await client.call("list", 20)
            assert "sane:test:0" in {d["id"] for d in event["devices"]}
        finally:
            await client.stop()

    env.run(body())


# -- the manager with several drivers --------------------------------------------------------


def test_listing_merges_drivers_and_one_that_cannot_run_hides_nothing(
        env: Env, more_drivers: None) -> None:
    """``wia`` (in-process, another OS) is unavailable, ``twain``'s worker fails to start:
    SANE's devices are listed all the same, and each driver's state says what happened."""

    async def body() -> None:
        async with env.manager(drivers=("twain", "sane", "wia")) as manager:
            assert [d.name for d in manager.drivers] == ["wia", "sane", "twain"]
            devices = await manager.list_devices()
            ids = [d.id for d in devices]
            assert "sane:test:0" in ids and all(i.startswith("sane:") for i in ids)
            states = manager.driver_listings
            assert states["wia"].state == "unavailable"
            assert states["wia"].reason == "not available on this system: runs only on win32"
            assert states["sane"].state == "ok" and states["sane"].devices == len(ids)
            assert states["twain"].state == "failed" and "'twain'" in str(
                states["twain"].reason)
            # routing by prefix: SANE ids scan through SANE's worker ...
            pages, raised = await collect(manager, {"device": "sane:test:0",
                                                    "resolution": 75, "mode": "gray"})
            assert raised is None and len(pages) == 1
            assert list(manager.worker_pids()) == ["sane:test:0"]
            # ... ids of a driver that cannot run say so, unknown prefixes are not found
            with pytest.raises(DriverUnavailable) as unavailable:
                await manager.get_device("wia:some-scanner")
            assert unavailable.value.detail["driver"] == "wia"
            for unknown in ("escl:printer", "twain:0", "sane:test:9"):
                with pytest.raises(DeviceNotFound):
                    await manager.get_device(unknown)

    env.run(body())


def test_drivers_are_listed_concurrently(env: Env, more_drivers: None) -> None:
    """While the first driver's listing cannot finish (its slot is held), the next one's
    completes: the drivers do not wait for each other, and the merged list waits for all."""

    async def body() -> None:
        async with env.manager(drivers=("wia", "sane")) as manager:
            first = manager._slot(_LISTING + "wia").lock
            await first.acquire()
            listing = asyncio.create_task(manager.list_devices())
            for _ in range(1200):  # hang guard only
                if manager.driver_listings["sane"].state != "pending":
                    break
                await asyncio.sleep(0.05)
            assert manager.driver_listings["sane"].state == "ok"
            assert manager.driver_listings["wia"].state == "pending"
            assert not listing.done()
            first.release()
            assert "sane:test:0" in {d.id for d in await listing}
            assert manager.driver_listings["wia"].state == "unavailable"

    env.run(body())


def test_a_device_of_a_driver_not_enabled_is_not_found(env: Env, more_drivers: None) -> None:
    async def body() -> None:
        async with env.manager(drivers=("wia",)) as manager:
            assert await manager.list_devices() == []
            with pytest.raises(DeviceNotFound) as info:
                await manager.get_device("sane:test:0")
            assert info.value.detail == {"device": "sane:test:0"}
            assert manager.worker_pids() == {}

    env.run(body())


# -- the in-process runner -------------------------------------------------------------------


def test_in_process_runner_scans_into_encrypted_pages_the_buffer_accepts(
        env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SANE driver (test backend) run in this process through the in-process runner:
    the worker's dispatcher and page pipeline write encrypted pages the buffer takes; a
    cancel mid-batch ends it with ScanCancelled after the pages read before it, which are
    emitted first."""
    monkeypatch.setenv("SANE_CONFIG_DIR", str(env.options.sane_config_dir))
    home = Home(tmp_path / "home").create()
    config = WorkerConfig(incoming_dir=home.incoming, cache_key=env.options.cache_key,
                          fsync=False)

    async def body() -> list[ScannedPage]:
        client = InProcessClient(config, name="sane:test:0", driver="sane")
        await client.start()
        try:
            assert client.alive and client.pid is None and client.info["driver"] == "sane"
            listed = await client.call("list", 20)
            assert "sane:test:0" in {d["id"] for d in listed["devices"]}
            settings = ScanSettings.model_validate({**SLOW_FEEDER, "pages": 3})
            rid = await client.request("scan", settings=settings.model_dump(mode="json"))
            pages: list[ScannedPage] = []
            while (event := await client.next_event(rid, 20))["ev"] != "done":
                if event["ev"] == "page":
                    pages.append(ScannedPage.model_validate(event["page"]))
            assert event["pages"] == len(pages) == 3

            rid = await client.request("scan", settings=SLOW_FEEDER)
            kinds: list[str] = []
            while (event := await client.next_event(rid, 20))["ev"] not in ("done", "error"):
                if event["ev"] == "page":
                    kinds.append("page")
                    if len(kinds) == 1:
                        await client.send({"op": "cancel", "id": rid})
            assert event["ev"] == "error"
            assert event["error"]["code"] == "scan_cancelled"
            assert 1 <= len(kinds) == event["pages"] < 10
            return pages
        finally:
            await client.stop()
            assert not client.alive

    pages = env.run(body())
    with BufferStore(home, env.options.cache_key, fsync=False) as buffer:
        document = buffer.create_document().id
        for page in pages:
            data = read_encrypted(Path(page.path), env.options.cache_key)
            info = buffer.add_page(document, page)
            assert buffer.read_original(info.id) == data
            assert (info.width, info.height) == (page.width, page.height)
        assert len(buffer.list_pages(document)) == 3


# -- configuration, runtime and doctor -------------------------------------------------------


def test_runtime_puts_the_demo_driver_first_with_demo() -> None:
    from scanlet.config import Settings
    from scanlet.core.runtime import device_drivers

    default = tuple(d.name for d in registry.enabled(None))
    assert device_drivers(Settings(), demo=False) == default
    assert device_drivers(Settings(), demo=True) == ("demo", *default)
    assert device_drivers(Settings(device_drivers=("sane", "demo")), demo=True) == (
        "demo", "sane")
    assert device_drivers(Settings(device_drivers=("sane",)), demo=False) == ("sane",)


def test_doctor_reports_every_registered_driver(tmp_path: Path, more_drivers: None) -> None:
    from scanlet.service.doctor import run_checks

    findings = [f for section in run_checks(Home(tmp_path / "home"), timeout=0.5)
                for f in section.findings if f.text.startswith("driver ")]
    by_name = {f.text.split()[1].rstrip(":"): f for f in findings}
    assert list(by_name) == list(registry.DRIVERS)
    assert by_name["sane"].level == "ok" and "available" in by_name["sane"].text
    assert (by_name["wia"].level, by_name["wia"].text) == (
        "info", "driver wia: not available on this system: runs only on win32")
    assert by_name["twain"].text.startswith("driver twain: not available on this system: ")
    assert by_name["demo"].text.startswith(("driver demo: available",
                                            "driver demo: not available on this system: "))
