"""The CLI's in-process scan, used when no service runs for the home."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.progress import Progress

from scanlet.cli.outputs import OutputPlan, write_outputs
from scanlet.cli.scan_output import ScanProgress
from scanlet.config import Home, load_settings
from scanlet.core.runtime import Runtime
from scanlet.models import JobRequest
from scanlet.service.instance import InstanceLock


async def scan_to_file(home: Home, request: JobRequest, plan: OutputPlan,
                       progress: Progress, *, demo: bool = False) -> list[Path]:
    """Scan with an in-process runtime and write the pages as ``plan`` says."""
    plan.check()
    home.create()
    with InstanceLock(home.port_lock, mode="cli"):
        runtime = Runtime(home, load_settings(home), demo=demo)
        await runtime.start()
        try:
            job = await runtime.jobs.create(request)
            watcher = ScanProgress(progress, request.page_limit())
            async for event in runtime.jobs.events(job.id):
                watcher.on_event(event)
            watcher.raise_if_failed()
            pages = [p for p in runtime.store.list_pages(job.document_id) if p.job_id == job.id]
            return await asyncio.to_thread(write_outputs, runtime.store, pages, plan,
                                           runtime.ocr_pool)
        finally:
            await runtime.close()
