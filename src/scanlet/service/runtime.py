"""Wires the core together for one home: page store, device manager, job manager.

Used by the HTTP service and by the CLI when it scans in-process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from PIL import Image

from scanlet.buffer.store import PageStore
from scanlet.config import Home, Settings
from scanlet.crypto import load_or_create_key
from scanlet.devices.manager import DeviceManager, DeviceOptions
from scanlet.devices.sane_config import prepare_demo_config
from scanlet.jobs import JobManager
from scanlet.ocr.pool import OcrPool
from scanlet.security.access import AccessStore, cli_key
from scanlet.security.pairing import PairingBroker
from scanlet.tasks import TaskManager

log = logging.getLogger(__name__)


def sane_config_dir(home: Home, settings: Settings, demo: bool) -> Path | None:
    """The SANE config dir the workers use: the demo one, the configured one, or the system's."""
    if demo:
        return prepare_demo_config(home.root / "sane", include_system=settings.demo_system_backends)
    return settings.sane_config_dir


class Runtime:
    """The running core of one Scanlet home."""

    def __init__(self, home: Home, settings: Settings, *, demo: bool = False) -> None:
        self.home = home.create()
        self.settings = settings
        self.demo = demo
        key = load_or_create_key(home.cache_key)
        self.store = PageStore(
            home, key, ram_cache_bytes=settings.ram_cache_mb * 2**20, fsync=settings.fsync
        )
        self.devices = DeviceManager(DeviceOptions(
            sane_config_dir=sane_config_dir(home, settings, demo),
            incoming_dir=home.incoming,
            cache_key=key,
            fsync=settings.fsync,
            idle_timeout=settings.worker_idle_timeout,
            progress_timeout=settings.worker_progress_timeout,
            start_timeout=settings.worker_start_timeout,
        ))
        self.jobs = JobManager(self.store, self.devices,
                               default_jpeg_quality=settings.jpeg_quality)
        self.tasks = TaskManager(self.store.temp_dir / "tasks")
        self._ocr_pool: OcrPool | None = None
        self._ocr_lock = threading.Lock()
        Image.MAX_IMAGE_PIXELS = settings.max_image_megapixels * 1_000_000
        self.access = AccessStore(home.access_db)
        cli_key(self.access, home.cli_key)
        self.pairing = PairingBroker(
            self.access, enabled=settings.pairing, token_days=settings.token_days,
            config_origins=settings.allowed_origins,
            per_minute=settings.pair_requests_per_minute)

    async def start(self) -> None:
        """Recover the buffer after a crash and mark interrupted jobs."""
        await asyncio.to_thread(self.store.recover)
        await self.jobs.start()

    def ocr_pool(self) -> OcrPool:
        """The OCR pool (one single-threaded tesseract per core), made on first use."""
        with self._ocr_lock:
            if self._ocr_pool is None:
                self._ocr_pool = OcrPool(workdir=self.store.temp_dir)
            return self._ocr_pool

    async def close(self) -> None:
        await self.tasks.close()
        if self._ocr_pool is not None:
            self._ocr_pool.close()
        await self.jobs.close()
        await self.devices.close()
        self.store.close()
        self.access.close()
