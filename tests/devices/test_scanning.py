"""Scans through real workers on the SANE test and pnm backends; pages are decrypted and
checked with Pillow."""

from __future__ import annotations

import asyncio
import io
import os
import stat
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from scanlet.codecs.render import make_preview
from scanlet.crypto import read_encrypted
from scanlet.errors import (
    CoverOpen,
    DeviceAccessDenied,
    DeviceBusy,
    DeviceIOError,
    DeviceOutOfMemory,
    FeederEmpty,
    PaperJam,
    ScanCancelled,
    ScanletError,
)
from scanlet.models import ColorMode, ScanSettings, Source
from tests.devices.conftest import SLOW_FEEDER, Env, collect, incoming_files

pytestmark = pytest.mark.timeout(60)

FEEDER = {"device": "sane:test:0", "source": "feeder", "paper_size": "A4", "resolution": 150,
          "raw_options": {"test_picture": "Color pattern"}}


def test_flatbed_a4_300dpi_colour_page(env: Env) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            settings = ScanSettings(device="sane:test:0", paper_size="A4", resolution=300,
                                    raw_options={"test-picture": "Color pattern"})
            pages, error = await collect(manager, settings)
        assert error is None
        (page,) = pages
        assert (page.format, page.mode, page.source) == ("jpeg", ColorMode.COLOR,
                                                         Source.FLATBED)
        assert (page.width, page.height, page.dpi, page.bit_depth) == (2480, 3507, 300.0, 8)
        path = Path(page.path)
        assert path.parent == env.options.incoming_dir
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert not path.read_bytes().startswith(b"\xff\xd8")  # encrypted at rest
        image = env.image(page)
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (2480, 3507))
        assert image.info["dpi"] == (300, 300)
        colours = image.resize((62, 87)).getcolors(62 * 87)
        assert colours is not None and len(colours) > 8  # the colour pattern, not black

    env.run(body())


def test_feeder_all_yields_ten_pages_then_ends_normally(env: Env) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            pages, error = await collect(manager, {**FEEDER, "pages": "all"})
            assert error is None
            assert len(pages) == 10
            assert len({p.path for p in pages}) == 10
            assert all(p.source == Source.FEEDER and (p.width, p.height) == (1240, 1753)
                       for p in pages)
            handed = [Path(p.path).name for p in pages]
            handed += [Path(p.preview_path).name for p in pages if p.preview_path]
            assert incoming_files(env.options) == sorted(handed)
            # Pages come with their preview (long side >= 860: 1240x1753 halves), unless the
            # encoders were behind the device (the first page never waits).
            assert pages[0].preview_path is not None
            for page in (p for p in pages if p.preview_path):
                assert page.preview_path is not None
                preview = Image.open(io.BytesIO(read_encrypted(Path(page.preview_path),
                                                               env.options.cache_key)))
                assert (preview.format, preview.size) == ("JPEG", (620, 877))
                # The same picture as the preview the service would make from the stored page
                # (not identical: one is drawn from the raw pixels, the other from the JPEG).
                stored = read_encrypted(Path(page.path), env.options.cache_key)
                made_later = Image.open(io.BytesIO(make_preview(stored, "jpeg") or b""))
                error = ImageChops.difference(made_later, preview)
                assert sum(ImageStat.Stat(error).mean) / 3 < 5
            # a fresh device handle per job: the next batch has 10 sheets again
            again, error = await collect(manager, FEEDER)
            assert error is None and len(again) == 10

    env.run(body())


def test_feeder_page_limit(env: Env) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            pages, error = await collect(manager, {**FEEDER, "pages": 3})
        assert error is None and len(pages) == 3

    env.run(body())


def test_black_and_white_and_16bit_grey_are_lossless(env: Env) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            bw, error = await collect(manager, {
                "device": "sane:test:0", "mode": "bw", "resolution": 100, "paper_size": "A5",
                "raw_options": {"test_picture": "Grid"}})
            assert error is None
            grey, error = await collect(manager, {
                "device": "sane:test:0", "mode": "gray", "bit_depth": 16, "resolution": 50,
                "paper_size": "A6", "raw_options": {"test_picture": "Color pattern"}})
            assert error is None
        (page,) = bw
        assert (page.format, page.mode, page.bit_depth) == ("png", ColorMode.BW, 1)
        image = env.image(page)
        assert (image.format, image.mode) == ("PNG", "1")
        assert image.size == (582, 826)  # A5 at 100 dpi, truncated like scanimage
        assert round(image.info["dpi"][0]) == 100
        assert sorted(c for _, c in image.getcolors() or []) == [0, 255]  # the grid
        (page16,) = grey
        image16 = env.image(page16)
        assert (page16.format, page16.bit_depth, image16.mode) == ("png", 16, "I;16")
        high = image16.getextrema()[1]
        assert isinstance(high, int) and high > 255  # real 16-bit samples

    env.run(body())


@pytest.mark.parametrize(("status", "error"), [
    ("SANE_STATUS_JAMMED", PaperJam),
    ("SANE_STATUS_NO_DOCS", FeederEmpty),
    ("SANE_STATUS_COVER_OPEN", CoverOpen),
    ("SANE_STATUS_DEVICE_BUSY", DeviceBusy),
    ("SANE_STATUS_IO_ERROR", DeviceIOError),
    ("SANE_STATUS_NO_MEM", DeviceOutOfMemory),
    ("SANE_STATUS_ACCESS_DENIED", DeviceAccessDenied),
])
def test_device_statuses_become_typed_errors(env: Env, status: str,
                                             error: type[ScanletError]) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            pages, raised = await collect(manager, {
                **FEEDER, "raw_options": {"read_return_value": status}})
            assert pages == []
            assert type(raised) is error
            assert isinstance(raised, ScanletError)
            assert raised.detail["sane_status"] == status
            assert raised.detail["pages"] == 0
            # the worker survives device errors and scans again
            pid = manager.worker_pids()["sane:test:0"]
            pages, raised = await collect(manager, {**FEEDER, "pages": 1})
            assert raised is None and len(pages) == 1
            assert manager.worker_pids()["sane:test:0"] == pid

    env.run(body())


def test_pnm_scans_a_generated_image_file(env: Env, tmp_path: Path) -> None:
    source = Image.new("RGB", (640, 400), "white")
    draw = ImageDraw.Draw(source)
    draw.rectangle((0, 0, 319, 199), fill=(200, 30, 40))
    draw.rectangle((320, 200, 639, 399), fill=(20, 40, 180))
    ppm = tmp_path / "page.ppm"
    source.save(ppm)

    async def body() -> None:
        async with env.manager() as manager:
            pages, error = await collect(manager, {
                "device": "sane:pnm:0", "resolution": 300, "compression": "lossless",
                "raw_options": {"filename": str(ppm)}})
            assert error is None
            grey, error = await collect(manager, {
                "device": "sane:pnm:0", "resolution": 150, "mode": "gray", "pages": 2,
                "raw_options": {"filename": str(ppm)}})
            assert error is None
        (page,) = pages
        assert (page.width, page.height, page.dpi, page.format) == (640, 400, 300.0, "png")
        image = env.image(page)
        assert image.mode == "RGB"
        assert image.tobytes() == source.tobytes()  # lossless, pixel for pixel
        assert len(grey) == 2  # a flatbed scanned twice: each page is a scan of its own
        assert all(env.image(p).mode == "L" and p.format == "jpeg" for p in grey)

    env.run(body())


def test_missing_pnm_file_is_a_device_error_not_a_crash(env: Env, tmp_path: Path) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            pages, error = await collect(manager, {
                "device": "sane:pnm:0", "resolution": 75,
                "raw_options": {"filename": str(tmp_path / "missing.ppm")}})
            assert pages == [] and error is not None
            assert error.code == "device_error"  # type: ignore[attr-defined]
            assert manager.worker_pids()  # still alive

    env.run(body())


def test_second_scan_on_a_busy_device_is_refused(env: Env) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            first = manager.scan(ScanSettings.model_validate({**SLOW_FEEDER, "pages": 2}))
            iterator = aiter(first)
            page = await anext(iterator)
            _, error = await collect(manager, SLOW_FEEDER)
            assert isinstance(error, DeviceBusy)
            rest = [p async for p in iterator]
            assert len([page, *rest]) == 2

    env.run(body())


def test_cancel_mid_feeder_scan_keeps_pages_and_worker(env: Env) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            session = manager.scan(ScanSettings.model_validate(SLOW_FEEDER))
            pages = []
            with pytest.raises(ScanCancelled):
                async for page in session:
                    pages.append(page)
                    if len(pages) == 2:
                        pid = manager.worker_pids()["sane:test:0"]
                        await session.cancel()
            assert 2 <= len(pages) < 10
            for page in pages:
                assert env.image(page).size == (620, 876)
            # Stopped by the worker itself (sane_cancel), not by the kill after the grace
            # period: the same worker still runs.
            assert manager.worker_pids()["sane:test:0"] == pid
            after, error = await collect(manager, {**FEEDER, "pages": 1})
            assert error is None and len(after) == 1
            assert manager.worker_pids()["sane:test:0"] == pid

    env.run(body())


def test_cancel_before_start_and_early_exit_of_async_with(env: Env) -> None:
    async def body() -> None:
        async with env.manager() as manager:
            session = manager.scan(ScanSettings.model_validate(SLOW_FEEDER))
            await session.cancel()
            with pytest.raises(ScanCancelled):
                await anext(aiter(session))
            assert manager.worker_pids() == {}  # nothing was started

            async with manager.scan(ScanSettings.model_validate(SLOW_FEEDER)) as scan:
                first = await anext(aiter(scan))
            # leaving the block cancelled the scan; the device is free again
            assert os.path.exists(first.path)
            pages, error = await asyncio.wait_for(collect(manager, {**FEEDER, "pages": 1}), 30)
            assert error is None and len(pages) == 1

    env.run(body())
