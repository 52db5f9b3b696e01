"""Fixtures for the device layer: the real SANE test/pnm backends through Scanlet's own config.

No mocks: every SANE test goes through real scan worker processes. The event loop is an
``asyncio.Runner`` per test (pytest-asyncio is not a dependency); ``Env.manager`` gives a
DeviceManager that is always closed, so no worker outlives its test.
"""

from __future__ import annotations

import asyncio
import io
import os
import secrets
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PIL import Image

from scanlet.crypto import read_encrypted
from scanlet.devices.manager import DeviceManager, DeviceOptions
from scanlet.devices.sane_config import prepare_demo_config
from scanlet.models import ScannedPage, ScanSettings

T = TypeVar("T")

#: A4 at 75 dpi with a delay per block: about 0.6 s a page, slow enough to act mid-batch.
SLOW_FEEDER = {"device": "sane:test:0", "source": "feeder", "mode": "color", "resolution": 75,
               "paper_size": "A4", "pages": "all",
               "raw_options": {"test_picture": "Color pattern", "read_delay": True,
                               "read_delay_duration": 20000}}


@pytest.fixture(scope="session")
def sane_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo SANE config without system backends (no 3 s network probing)."""
    return prepare_demo_config(tmp_path_factory.mktemp("sane-config"), include_system=False)


@dataclass
class Env:
    """What a device test needs: options for a manager and a loop to run coroutines on."""

    options: DeviceOptions
    runner: asyncio.Runner

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    @asynccontextmanager
    async def manager(self, **overrides: Any) -> AsyncIterator[DeviceManager]:
        manager = DeviceManager(replace(self.options, **overrides))
        try:
            yield manager
        finally:
            await manager.close()

    def image(self, page: ScannedPage) -> Image.Image:
        """Decrypt a page file (checking its plaintext size) and open it with Pillow."""
        data = read_encrypted(Path(page.path), self.options.cache_key)
        assert len(data) == page.bytes
        image = Image.open(io.BytesIO(data))
        image.load()
        return image


@pytest.fixture
def env(sane_config: Path, tmp_path: Path) -> Iterator[Env]:
    incoming = tmp_path / "incoming"
    incoming.mkdir(mode=0o700)
    options = DeviceOptions(sane_config_dir=sane_config, incoming_dir=incoming,
                            cache_key=secrets.token_bytes(32), fsync=False,
                            idle_timeout=30.0, progress_timeout=20.0, start_timeout=20.0)
    with asyncio.Runner() as runner:
        yield Env(options, runner)


async def collect(manager: DeviceManager, settings: ScanSettings | dict[str, Any]
                  ) -> tuple[list[ScannedPage], BaseException | None]:
    """All pages of a scan and the error it ended with (None for a normal end)."""
    if isinstance(settings, dict):
        settings = ScanSettings.model_validate(settings)
    pages: list[ScannedPage] = []
    try:
        async for page in manager.scan(settings):
            pages.append(page)
    except Exception as exc:
        return pages, exc
    return pages, None


def process_gone(pid: int) -> bool:
    """True if ``pid`` no longer runs (or is a zombie nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def incoming_files(options: DeviceOptions) -> list[str]:
    return sorted(os.listdir(options.incoming_dir))
