"""Wires the core together for one home: page store, device manager, job manager.

Used by the HTTP service and by the CLI when it scans in-process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from scanlet.buffer.backfill import PreviewBackfill
from scanlet.buffer.store import PageStore
from scanlet.config import Home, Settings
from scanlet.core import crash
from scanlet.core.logs import add_secret
from scanlet.devices import environment, registry
from scanlet.devices.hotplug import default_usb_dir
from scanlet.devices.manager import DeviceManager, DeviceOptions
from scanlet.importing.budget import DecodeGate, DecodeLimits
from scanlet.jobs import JobManager
from scanlet.keystore import load_cache_key
from scanlet.ocr.pool import OcrPool
from scanlet.ocr.tesseract import configure as configure_tesseract
from scanlet.security.access import AccessStore, cli_key
from scanlet.security.pairing import PairingBroker, PairingLimits
from scanlet.sessions import ClientSessions
from scanlet.tasks import TaskManager

log = logging.getLogger(__name__)


def sane_config_dir(home: Home, settings: Settings, demo: bool) -> Path | None:
    """The SANE config dir the workers use: the demo one, the configured one, or the system's."""
    return environment.sane_config_dir(home.root, settings.sane_config_dir, demo=demo,
                                       include_system=settings.demo_system_backends)


def device_drivers(settings: Settings, demo: bool) -> tuple[str, ...]:
    """The drivers the device manager uses: ``[devices] drivers`` (default: every driver
    made for this system), with the demo driver first under ``--demo``. A driver that cannot
    run here stays in the list: the manager lists nothing from it and logs why."""
    names = tuple(d.name for d in registry.enabled(settings.device_drivers))
    if demo:
        names = ("demo", *(n for n in names if n != "demo"))
    return names


@dataclass(frozen=True)
class ListenerAddress:
    """One socket the service listens on (``host`` as bound: ``127.0.0.1``, ``::1``, ...)."""

    scheme: str  # http or https
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


class Runtime:
    """The running core of one Scanlet home."""

    def __init__(self, home: Home, settings: Settings, *, demo: bool = False) -> None:
        self.started = time.monotonic()
        #: The bound sockets, filled in by ``scanlet serve`` (empty when used in-process).
        self.listeners: list[ListenerAddress] = []
        self.home = home.create()
        self.settings = settings
        self.demo = demo
        key = load_cache_key(home)  # the OS key store, else keys/cache.key
        add_secret(key)  # never in a log line, in any of its encodings
        self.store = PageStore(
            home, key, ram_cache_bytes=settings.ram_cache_mb * 2**20, fsync=settings.fsync
        )
        self.devices = DeviceManager(DeviceOptions(
            sane_config_dir=sane_config_dir(home, settings, demo),
            drivers=device_drivers(settings, demo),
            incoming_dir=home.incoming,
            cache_key=key,
            fsync=settings.fsync,
            idle_timeout=settings.worker_idle_timeout,
            progress_timeout=settings.worker_progress_timeout,
            start_timeout=settings.worker_start_timeout,
            list_max_age=settings.list_max_age,
            listing_file=home.cache / "devices.json",
            usb_dir=default_usb_dir(),
            on_worker_crash=self._worker_crashed,
        ))
        self.previews = PreviewBackfill(home, key, busy=lambda: self.jobs.scanning())
        self.jobs = JobManager(self.store, self.devices,
                               default_jpeg_quality=settings.jpeg_quality,
                               previews=self.previews)
        self.sessions = ClientSessions(self.devices, per_client=settings.sessions_per_client)
        self.tasks = TaskManager(self.store.temp_dir / "tasks")
        self._ocr_pool: OcrPool | None = None
        self._ocr_lock = threading.Lock()
        Image.MAX_IMAGE_PIXELS = settings.max_image_megapixels * 1_000_000
        #: The memory budget and concurrency limit every client's imports share.
        self.decode_gate = DecodeGate(DecodeLimits(
            max_decoded_bytes=settings.max_decoded_mb * 2**20,
            budget_bytes=settings.decode_memory_mb * 2**20,
            max_running=settings.max_running_decodes,
            wait_seconds=settings.decode_wait_seconds))
        # Process-wide like the pixel cap: OCR routes and orientation detection (reached
        # through image edits and scan processing) find tesseract through it.
        configure_tesseract(settings.tesseract)
        self.access = AccessStore(home.access_db)
        cli_key(self.access, home.cli_key)
        self.pairing = PairingBroker(
            self.access, enabled=settings.pairing, token_days=settings.token_days,
            config_origins=settings.allowed_origins,
            limits=PairingLimits(
                per_minute=settings.pair_requests_per_minute,
                max_pending=settings.max_pending_pairings,
                max_pending_per_site=settings.max_pending_pairings_per_site,
                unopened_ttl=settings.pair_unopened_timeout,
                consent_delay=settings.consent_delay_ms / 1000))

    async def _worker_crashed(self, known: dict[str, Any]) -> None:
        """A scan worker died abnormally mid-request: write a crash report naming its job."""
        device = str(known.get("device") or "")
        jobs = [{"id": job.id, "state": str(job.state), "pages_stored": job.pages_stored,
                 **crash.job_settings(job.settings.model_dump(mode="json"))}
                for job in self.jobs.list()
                if not job.state.finished and job.settings.device == device]
        faults = str(known.get("faults") or "")
        start = faults.rfind("Fatal Python error")
        request = known.get("request") or {}
        details = {"during": known.get("during"), "driver": known.get("driver"),
                   "request": {k: request[k] for k in ("op", "id", "device") if k in request}
                   | ({"settings": crash.job_settings(request["settings"])}
                      if isinstance(request.get("settings"), dict) else {})}
        info = crash.CrashInfo(
            process="worker", pid=known.get("pid"), device=device or None,
            reason=f"killed by {known['signal']}" if known.get("signal")
            else f"exited with status {known.get('exit_code')}",
            exit_code=known.get("exit_code"), signal=known.get("signal"),
            faults=faults[start:] if start >= 0 else faults,
            output=[str(line) for line in known.get("output") or []], jobs=jobs,
            details=details,
            sane=f"libsane {known['driver_version']}" if known.get("driver_version") else None)
        path = await asyncio.to_thread(crash.write_report, self.home.dump, info,
                                       log_file=self.home.log / "scanlet.log",
                                       keep=self.settings.dump_keep)
        log.error("scan worker for %s (pid %s) %s; crash report %s", device, info.pid,
                  info.reason, path)

    async def start(self) -> None:
        """Begin listing devices (in the background), recover the buffer after a crash and
        mark interrupted jobs."""
        self.devices.start()
        await asyncio.to_thread(self.store.recover)
        await self.jobs.start()

    @property
    def tesseract(self) -> str | None:
        """The ``[ocr] tesseract`` setting (None: search PATH); checked when OCR runs."""
        return str(self.settings.tesseract) if self.settings.tesseract is not None else None

    def ocr_pool(self) -> OcrPool:
        """The OCR pool (one single-threaded tesseract per core), made on first use."""
        with self._ocr_lock:
            if self._ocr_pool is None:
                self._ocr_pool = OcrPool(workdir=self.store.temp_dir,
                                         tesseract=self.tesseract)
            return self._ocr_pool

    async def close(self) -> None:
        await self.tasks.close()
        if self._ocr_pool is not None:
            self._ocr_pool.close()
        await self.jobs.close()
        await self.devices.close()
        await asyncio.to_thread(self.previews.close)
        self.store.close()
        self.access.close()
