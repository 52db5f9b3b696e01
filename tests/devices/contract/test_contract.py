"""The driver contract (scanlet.devices.driver.Driver): every driver passes these tests,
through its Driver methods and a real page sink (tests/devices/sinks.py). See adapters.py for
how each driver is driven and how its faults are provoked."""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest

from scanlet.devices.driver import Driver
from scanlet.devices.encode import RawPage
from scanlet.devices.paper import sizes_that_fit
from scanlet.devices.registry import DRIVERS, driver_of, info, load_driver
from scanlet.errors import DeviceNotFound, InvalidSetting, ScanCancelled, ScanletError
from scanlet.models import Capabilities, ColorMode, Source
from tests.devices.contract.adapters import ADAPTERS, FAULTS, Adapter
from tests.devices.sinks import CollectingSink, run_scan

_LAYOUTS = {ColorMode.COLOR: {"rgb8", "rgb16"}, ColorMode.GRAY: {"gray8", "gray16"},
            ColorMode.BW: {"bw1"}}
_STORABLE = {ColorMode.COLOR: {8}, ColorMode.GRAY: {8, 16}, ColorMode.BW: {1}}


def settings(adapter: Adapter, **extra: Any) -> dict[str, Any]:
    """``adapter.base`` with ``extra`` on top (raw_options merged, not replaced)."""
    merged = {"device": adapter.device, **adapter.base, **extra}
    merged["raw_options"] = {**adapter.base.get("raw_options", {}),
                             **extra.get("raw_options", {})}
    return merged


def sources(driver: Driver, adapter: Adapter) -> set[Source]:
    return {s.source for s in driver.capabilities(adapter.device).sources}


def need(driver: Driver, adapter: Adapter, source: Source) -> None:
    if source not in sources(driver, adapter):
        pytest.skip(f"{adapter.device} has no {source.value} source")


def check_frame(page: RawPage, source: Source, resolution: int) -> None:
    assert page.width > 0 and page.height > 0
    assert page.layout in _LAYOUTS[page.mode]
    assert page.source == source
    assert page.dpi == pytest.approx(resolution, rel=0.02)
    assert len(memoryview(page.data).cast("B")) >= page.stride * page.height


def test_every_registered_driver_has_an_adapter() -> None:
    assert set(ADAPTERS) == set(DRIVERS)


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_every_fault_is_provoked_or_said_missing(name: str) -> None:
    adapter = ADAPTERS[name]
    assert set(adapter.faults) | set(adapter.missing_faults) == set(FAULTS)
    assert not set(adapter.faults) & set(adapter.missing_faults)


# -- listing and capabilities -----------------------------------------------------------------


def test_listing(driver: Driver, adapter: Adapter) -> None:
    devices = driver.list_devices()
    ids = [d.id for d in devices]
    assert adapter.device in ids
    assert len(ids) == len(set(ids))
    for device in devices:
        assert device.id.startswith(info(adapter.name).prefix)
        assert device.driver == adapter.name == driver.name
        assert driver_of(device.id).name == adapter.name


def test_ids_are_stable_across_driver_instances(driver: Driver, adapter: Adapter) -> None:
    first = [d.id for d in driver.list_devices()]
    driver.close()
    again = load_driver(adapter.name, **adapter.options)
    try:
        assert [d.id for d in again.list_devices()] == first
    finally:
        again.close()


def test_capabilities_shape(driver: Driver, adapter: Adapter) -> None:
    caps = driver.capabilities(adapter.device)
    assert Capabilities.model_validate(caps.model_dump(mode="json")) == caps
    assert caps.device_id == adapter.device
    assert caps.sources and len({s.source for s in caps.sources}) == len(caps.sources)
    for source in caps.sources:
        assert source.native_name
        assert source.color_modes
        for mode, depths in source.color_modes.items():
            assert depths and set(depths) <= _STORABLE[mode]
        assert source.resolutions or source.resolution_range is not None
        assert all(r > 0 for r in source.resolutions)
        if source.max_width_mm > 0 and source.max_height_mm > 0:
            assert source.paper_sizes == sizes_that_fit(source.max_width_mm,
                                                        source.max_height_mm)
    names = [o.name for o in caps.raw_options if o.name]
    assert len(names) == len(set(names))
    with pytest.raises(DeviceNotFound):
        driver.capabilities(info(adapter.name).prefix + "no-such-device")


# -- sources and page limits -------------------------------------------------------------------


def test_flatbed(driver: Driver, adapter: Adapter) -> None:
    need(driver, adapter, Source.FLATBED)
    sink = run_scan(driver, **settings(adapter, source="flatbed"))
    assert len(sink.raw) == 1 and sink.waits >= 1
    check_frame(sink.raw[0], Source.FLATBED, adapter.base["resolution"])
    assert sink.pages[0].width == sink.raw[0].width


def _sigpipe_ignored() -> bool:
    """Whether SIGPIPE is ignored in this process, as the kernel sees it (Python's own view,
    ``signal.getsignal``, misses what C code changed)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & (1 << (13 - 1)))
    raise AssertionError("no SigIgn line in /proc/self/status")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_scan_leaves_sigpipe_ignored(driver: Driver, adapter: Adapter) -> None:
    """Python needs SIGPIPE ignored (a write to a closed pipe raises instead of killing the
    process); a driver in the service's process must not change that (sane-backends' reader
    threads did: the next write to a dead child's stdin killed the test run silently)."""
    assert _sigpipe_ignored()
    run_scan(driver, **settings(adapter, source="feeder", pages=2))
    assert _sigpipe_ignored()


def test_feeder_to_empty(driver: Driver, adapter: Adapter) -> None:
    need(driver, adapter, Source.FEEDER)
    sink = run_scan(driver, **settings(adapter, source="feeder", pages="all"))
    assert len(sink.raw) == adapter.feeder_pages
    for page in sink.raw:
        check_frame(page, Source.FEEDER, adapter.base["resolution"])


def test_page_limit(driver: Driver, adapter: Adapter) -> None:
    for source, pages in ((Source.FEEDER, 2), (Source.DUPLEX, 3), (Source.FLATBED, 2)):
        if source in sources(driver, adapter):
            sink = run_scan(driver, **settings(adapter, source=source.value, pages=pages))
            assert len(sink.raw) == pages, source


def test_duplex_order(driver: Driver, adapter: Adapter) -> None:
    need(driver, adapter, Source.DUPLEX)
    duplex = run_scan(driver, **settings(adapter, source="duplex", pages="all"))
    feeder = run_scan(driver, **settings(adapter, source="feeder", pages="all"))
    assert len(duplex.raw) == 2 * len(feeder.raw)
    assert {p.source for p in duplex.raw} == {Source.DUPLEX}
    fronts = [bytes(memoryview(p.data).cast("B")) for p in duplex.raw[0::2]]
    assert fronts == [bytes(memoryview(p.data).cast("B")) for p in feeder.raw]


# -- faults ------------------------------------------------------------------------------------


def test_feeder_empty_before_the_first_page(driver: Driver, adapter: Adapter) -> None:
    need(driver, adapter, Source.FEEDER)
    fault = adapter.faults["feeder_empty"]
    sink = CollectingSink()
    with pytest.raises(FAULTS["feeder_empty"]) as caught:
        run_scan(driver, sink, **settings(adapter, source="feeder", **fault.settings))
    assert caught.value.code == "feeder_empty"
    assert sink.raw == []


@pytest.mark.parametrize("kind", [k for k in FAULTS if k != "feeder_empty"])
def test_typed_errors(driver: Driver, adapter: Adapter, kind: str) -> None:
    fault = adapter.faults.get(kind)
    if fault is None:
        pytest.skip(f"{adapter.name} cannot be made to show {kind}: "
                    f"{adapter.missing_faults[kind]}")
    need(driver, adapter, Source.FEEDER)
    sink = CollectingSink()
    with pytest.raises(ScanletError) as caught:
        run_scan(driver, sink, **settings(adapter, source="feeder", pages="all",
                                          **fault.settings))
    assert type(caught.value) is FAULTS[kind]
    assert caught.value.code == kind
    assert len(sink.raw) == fault.pages_before  # pages read before the fault are handed over


# -- refused settings --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [
    {"resolution": 100_000},
    {"area": {"left": 0, "top": 0, "width": 5000, "height": 5000}},
    {"paper_size": "no such paper"},
    {"raw_options": {"no-such-option-anywhere": 1}},
])
def test_settings_refused_before_scanning(driver: Driver, adapter: Adapter,
                                          bad: dict[str, Any]) -> None:
    sink = CollectingSink()
    with pytest.raises(InvalidSetting):
        run_scan(driver, sink, **settings(adapter, source="flatbed", **bad))
    assert sink.waits == 0 and sink.raw == []


def test_a_mode_the_source_lacks_is_refused(driver: Driver, adapter: Adapter) -> None:
    caps = driver.capabilities(adapter.device)
    source = caps.sources[0]
    missing = [m for m in ColorMode if m not in source.color_modes]
    bad: dict[str, Any] = ({"mode": missing[0].value} if missing
                           else {"mode": "color", "bit_depth": 3})
    sink = CollectingSink()
    with pytest.raises(InvalidSetting):
        run_scan(driver, sink, **settings(adapter, source=source.source.value, **bad))
    assert sink.waits == 0 and sink.raw == []


# -- cancel ------------------------------------------------------------------------------------


def test_cancel_between_pages(driver: Driver, adapter: Adapter) -> None:
    need(driver, adapter, Source.FEEDER)
    cancelled = threading.Event()
    sink = CollectingSink(on_frame=lambda s: cancelled.set())
    with pytest.raises(ScanCancelled):
        run_scan(driver, sink, cancelled, **settings(adapter, source="feeder", pages="all"))
    assert len(sink.raw) == 1


def test_cancel_mid_page(driver: Driver, adapter: Adapter) -> None:
    """``cancel()`` from another thread while the second page is being read.

    The progress callback (on the scanning thread) holds the read until the cancel has been
    sent, so the cancel lands mid-page however busy the machine is.
    """
    need(driver, adapter, Source.FEEDER)
    reading_second = threading.Event()
    cancel_sent = threading.Event()
    outcome: list[BaseException] = []
    sink = CollectingSink()

    def progress(index: int, done: int, total: int) -> None:
        if index == 1 and done < total:
            reading_second.set()
            cancel_sent.wait(120)

    def work() -> None:
        try:
            run_scan(driver, sink, None, progress,
                     **settings(adapter, source="feeder", pages="all", **adapter.slow))
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    try:
        assert reading_second.wait(120)
        driver.cancel()
    finally:
        cancel_sent.set()
        thread.join(120)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ScanCancelled), outcome
    assert len(sink.raw) == 1


# -- close -------------------------------------------------------------------------------------


def test_close(driver: Driver, adapter: Adapter) -> None:
    driver.list_devices()
    driver.close()
    driver.close()  # harmless twice
    again = load_driver(adapter.name, **adapter.options)  # what it held was released
    try:
        assert adapter.device in [d.id for d in again.list_devices()]
    finally:
        again.close()
