"""The CLI's in-process scan, used when no service runs for the home."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal, cast

from rich.progress import Progress

from scanlet.codecs.export import export_pages
from scanlet.config import Home, load_settings
from scanlet.models import JobRequest
from scanlet.scan_output import ScanProgress, page_paths
from scanlet.service.instance import InstanceLock
from scanlet.service.runtime import Runtime


async def scan_to_file(home: Home, request: JobRequest, output: Path, fmt: str,
                       progress: Progress, *, demo: bool = False) -> list[Path]:
    """Scan with an in-process runtime and write the pages to ``output``."""
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
            return await asyncio.to_thread(_write, runtime, [p.id for p in pages], output, fmt)
        finally:
            await runtime.close()


def _write(runtime: Runtime, page_ids: list[str], output: Path, fmt: str) -> list[Path]:
    if fmt in ("pdf", "tiff"):
        tmp = output.with_name(f".{output.name}.part")
        with open(tmp, "wb") as fh:
            export_pages(runtime.store, page_ids, cast(Literal["pdf", "tiff"], fmt), fh)
        tmp.replace(output)
        return [output]
    paths = page_paths(output, len(page_ids))
    for page_id, path in zip(page_ids, paths, strict=True):
        image = runtime.store.render(page_id, fmt=cast(Literal["jpeg", "png"], fmt))
        path.write_bytes(image.data)
    return paths
