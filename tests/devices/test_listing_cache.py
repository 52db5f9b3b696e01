"""The device listing cache (devices/listing_cache.py) through real listing and scan workers.

The SANE ``test`` backend reads ``number_of_devices`` from its config at ``sane_init``; each
listing runs in a fresh listing worker, so editing the config changes what the next listing
finds. That shows, without any timing, whether an answer came from the cache or a listing.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from scanlet.devices.manager import _LISTING, DeviceManager
from scanlet.devices.sane_config import prepare_demo_config
from scanlet.errors import DeviceNotFound
from scanlet.models import Device
from tests.devices.conftest import Env

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A SANE config of this test's own (the session one is shared)."""
    return prepare_demo_config(tmp_path / "sane", include_system=False)


def offer_test_devices(config: Path, count: int) -> None:
    """Make the ``test`` backend offer ``count`` devices from its next init on."""
    conf = config / "test.conf"
    text = re.sub(r"(?m)^number_of_devices \d+$", f"number_of_devices {count}",
                  conf.read_text())
    conf.write_text(text)




def ids(devices: list[Device]) -> set[str]:
    return {d.id for d in devices if d.id.startswith("sane:test:")}


def test_listing_is_answered_from_the_cache_until_refreshed(env: Env, config: Path) -> None:
    async def body() -> None:
        async with env.manager(sane_config_dir=config) as manager:
            events = manager.listing.subscribe()
            assert ids(await manager.list_devices()) == {"sane:test:0", "sane:test:1"}
            offer_test_devices(config, 3)
            assert ids(await manager.list_devices()) == {"sane:test:0", "sane:test:1"}
            assert manager.listing.listings == 1 and not manager.listing.refreshing
            assert events.empty()  # the first listing is no change

            assert "sane:test:2" in ids(await manager.list_devices(refresh=True))
            assert manager.listing.listings == 2
            assert events.get_nowait() == {"type": "devices_changed",
                                           "added": ["sane:test:2"], "removed": []}
            offer_test_devices(config, 1)
            assert ids(await manager.list_devices(refresh=True)) == {"sane:test:0"}
            assert events.get_nowait() == {"type": "devices_changed", "added": [],
                                           "removed": ["sane:test:1", "sane:test:2"]}

    env.run(body())


def test_an_id_missing_from_the_cache_lists_once_more(env: Env, config: Path) -> None:
    async def body() -> None:
        async with env.manager(sane_config_dir=config) as manager:
            await manager.list_devices()
            offer_test_devices(config, 3)
            assert (await manager.get_device("sane:test:2")).id == "sane:test:2"
            assert manager.listing.listings == 2
            with pytest.raises(DeviceNotFound):
                await manager.capabilities("sane:test:7")
            assert manager.listing.listings == 3  # one refresh, then device_not_found

    env.run(body())


def test_an_old_listing_is_answered_and_refreshed_in_the_background(env: Env,
                                                                     config: Path) -> None:
    async def body() -> None:
        async with env.manager(sane_config_dir=config, list_max_age=1e-6) as manager:
            await manager.list_devices()
            offer_test_devices(config, 3)
            await asyncio.sleep(0.01)  # older than list_max_age
            assert ids(await manager.list_devices()) == {"sane:test:0", "sane:test:1"}
            assert manager.listing.refreshing  # started by that request, not awaited
            assert "sane:test:2" in await manager.listing.refresh()  # joins it
            assert manager.listing.listings == 2

    env.run(body())


def test_first_job_uses_the_previous_runs_listing_without_waiting(env: Env, config: Path,
                                                                  tmp_path: Path) -> None:
    kept = tmp_path / "devices.json"

    async def body() -> None:
        async with env.manager(sane_config_dir=config, listing_file=kept) as manager:
            await manager.list_devices()
        assert {d["id"] for d in json.loads(kept.read_text())} >= {"sane:test:0",
                                                                    "sane:test:1"}
        # The previous run listed test:0 and a test:9 that is gone; test:1 it never saw.
        kept.write_text(json.dumps(
            [d for d in json.loads(kept.read_text()) if d["id"] == "sane:test:0"]
            + [{"id": "sane:test:9", "driver": "sane", "name": "test:9",
                "label": "gone (test:9)"}]))
        async with env.manager(sane_config_dir=config, listing_file=kept) as manager:
            listing = manager._slot(_LISTING + "sane").lock
            await listing.acquire()  # the start-up listing cannot finish while held
            manager.start()
            unseen = asyncio.create_task(manager.capabilities("sane:test:1"))
            gone = asyncio.create_task(manager.capabilities("sane:test:9"))
            caps = await manager.capabilities("sane:test:0")
            assert caps.device_id == "sane:test:0" and manager.listing.listings == 0
            await asyncio.sleep(0)
            assert not unseen.done()  # never listed here: waits for the listing
            listing.release()
            assert (await unseen).device_id == "sane:test:1"
            with pytest.raises(DeviceNotFound):
                await gone  # could not be opened, and the listing has it not
            assert manager.listing.listings == 1

    env.run(body())


def test_a_device_is_usable_once_its_own_driver_listed(env: Env, config: Path,
                                                        tmp_path: Path) -> None:
    """On a home with no kept listing, a job for the demo scanner does not wait for SANE's
    listing (seconds with Debian's backends), and a SANE id still waits for it."""

    async def body() -> None:
        async with env.manager(sane_config_dir=config, drivers=("demo", "sane"),
                               listing_file=tmp_path / "devices.json") as manager:
            sane_listing = manager._slot(_LISTING + "sane").lock
            await sane_listing.acquire()  # SANE's start-up listing cannot finish while held
            manager.start()
            sane_job = asyncio.create_task(manager.capabilities("sane:test:0"))
            caps = await manager.capabilities("demo:scanner")
            assert caps.device_id == "demo:scanner"
            assert manager.listing.devices is None  # the whole listing has not ended
            unknown = asyncio.create_task(manager.get_device("demo:nothing"))
            await asyncio.sleep(0)
            assert not sane_job.done()  # SANE's own listing has not ended
            assert not unknown.done()  # not in the demo's listing: waits for the whole one
            sane_listing.release()
            assert (await sane_job).device_id == "sane:test:0"
            with pytest.raises(DeviceNotFound):
                await unknown
            assert manager.listing.listings == 1

    env.run(body())


def test_usb_nodes_coming_and_going_refresh_the_listing(env: Env, config: Path,
                                                        tmp_path: Path) -> None:
    """Real inotify (watchfiles) on a folder laid out like /dev/bus/usb."""
    usb = tmp_path / "usb"
    (usb / "001").mkdir(parents=True)

    async def plugged(manager: DeviceManager, node: Path, present: bool) -> int:
        """Listings once the refreshes that plugging (or unplugging) ``node`` started are
        over: touched again each round until a refresh starts, since the watch may not be in
        place yet, then left alone so the refreshes can settle (60 s hang guards)."""
        before = manager.listing.listings
        for _ in range(600):
            if manager.listing.refreshing or manager.listing.listings > before:
                break
            if present:
                node.touch()
                node.unlink()
                node.touch()
            else:
                node.touch()
                node.unlink()
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("no listing after a USB change")
        for _ in range(600):
            if manager.listing.listings > before and not manager.listing.refreshing:
                return manager.listing.listings
            await asyncio.sleep(0.1)
        raise AssertionError("the listing after a USB change did not end")

    async def body() -> None:
        async with env.manager(sane_config_dir=config, usb_dir=usb) as manager:
            events = manager.listing.subscribe()
            manager.start()
            await manager.list_devices()
            offer_test_devices(config, 3)
            await plugged(manager, usb / "001" / "004", present=True)
            assert "sane:test:2" in await manager.listing.current()
            assert events.get_nowait()["added"] == ["sane:test:2"]
            offer_test_devices(config, 2)
            await plugged(manager, usb / "001" / "004", present=False)
            assert events.get_nowait()["removed"] == ["sane:test:2"]

    env.run(body())
