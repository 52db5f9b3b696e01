"""Device listing, capabilities and validation through real workers on the SANE test/pnm
backends."""

from __future__ import annotations

import pytest

from scanlet.errors import DeviceNotFound, InvalidSetting, UnsupportedSource
from scanlet.models import ColorMode, ResolutionRange, ScanSettings, Source
from tests.devices.conftest import Env

pytestmark = pytest.mark.timeout(60)


def test_lists_test_and_pnm_devices_with_stable_ids(env: Env) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            devices = {d.id: d for d in await manager.list_devices()}
            assert {"sane:test:0", "sane:test:1", "sane:pnm:0"} <= set(devices)
            test0 = devices["sane:test:0"]
            assert (test0.driver, test0.name, test0.model) == ("sane", "test:0",
                                                               "frontend-tester")
            assert (await manager.get_device("sane:pnm:0")).model == "PNM file reader"
            with pytest.raises(DeviceNotFound) as info:
                await manager.get_device("sane:nope:0")
            assert info.value.detail["device"] == "sane:nope:0"
            assert manager.worker_pids() == {}  # listing has its own worker

    env.run(body())


def test_test_backend_capabilities_are_normalized_per_source(env: Env) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            caps = await manager.capabilities("sane:test:0")
            assert caps.device_id == "sane:test:0"
            assert [s.source for s in caps.sources] == [Source.FLATBED, Source.FEEDER]
            flatbed, feeder = caps.sources
            assert (flatbed.native_name, feeder.native_name) == ("Flatbed",
                                                                 "Automatic Document Feeder")
            for source in caps.sources:
                # no Lineart mode in the test backend: bw is Gray at depth 1
                assert source.color_modes == {ColorMode.COLOR: [8], ColorMode.GRAY: [8, 16],
                                              ColorMode.BW: [1]}
                assert source.resolution_range == ResolutionRange(min=1, max=1200, step=1)
                assert source.resolutions == []
                assert (source.max_width_mm, source.max_height_mm) == (432.0, 432.0)
                assert {"A4", "A3", "Letter", "Legal"} <= set(source.paper_sizes)
                assert source.brightness is None
            raw = {o.name: o for o in caps.raw_options}
            assert raw["read-return-value"].type == "string"
            assert "SANE_STATUS_JAMMED" in raw["read-return-value"].constraint  # type: ignore
            assert raw["resolution"].constraint == {"min": 1.0, "max": 1200.0, "step": 1.0}
            assert raw["resolution"].unit == "dpi" and raw["resolution"].value == 50.0
            assert raw["read-delay-duration"].active is False
            assert raw["bool-soft-detect"].settable is False
            # cached: the second call does not ask the worker again
            pid = manager.worker_pids()["sane:test:0"]
            assert await manager.capabilities("sane:test:0") is caps
            assert manager.worker_pids()["sane:test:0"] == pid

    env.run(body())


def test_pnm_backend_has_only_a_fixed_area_flatbed(env: Env) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            caps = await manager.capabilities("sane:pnm:0")
            (source,) = caps.sources
            assert source.source == Source.FLATBED
            assert source.resolutions[:3] == [75, 90, 100] and source.resolutions[-1] == 300
            assert source.resolution_range is None
            assert (source.max_width_mm, source.max_height_mm) == (0.0, 0.0)
            assert source.paper_sizes == []
            assert source.brightness is not None
            assert (source.brightness.min, source.brightness.max) == (-100.0, 100.0)

    env.run(body())


def test_validation_rejects_bad_settings_before_any_scan(env: Env) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            good = ScanSettings(device="sane:test:0", source="feeder", paper_size="A4",
                                resolution=300)
            assert (await manager.validate(good)).source == Source.FEEDER

            with pytest.raises(UnsupportedSource) as src:
                await manager.validate(ScanSettings(device="sane:pnm:0", source="feeder"))
            assert src.value.detail == {"field": "source", "allowed": ["flatbed"]}

            with pytest.raises(InvalidSetting) as res:
                await manager.validate(good.model_copy(update={"resolution": 2400}))
            assert res.value.detail["field"] == "resolution"
            assert res.value.detail["allowed"] == {"min": 1, "max": 1200, "step": 1}

            with pytest.raises(InvalidSetting) as listed:
                await manager.validate(ScanSettings(device="sane:pnm:0", resolution=80))
            assert listed.value.detail["allowed"][:2] == [75, 90]

            with pytest.raises(InvalidSetting) as area:
                await manager.validate(ScanSettings(device="sane:pnm:0", paper_size="A4"))
            assert area.value.detail["field"] == "paper_size"

            with pytest.raises(InvalidSetting) as raw:
                await manager.validate(good.model_copy(update={"raw_options": {"nope": 1}}))
            assert raw.value.detail["field"] == "raw_options"
            assert "read-return-value" in raw.value.detail["allowed"]

            with pytest.raises(DeviceNotFound):
                await manager.validate(ScanSettings(device="sane:missing:0"))
            assert manager.worker_pids().keys() <= {"sane:test:0", "sane:pnm:0"}

    env.run(body())
