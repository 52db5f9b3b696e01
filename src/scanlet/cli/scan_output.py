"""Shared by the CLI's remote and in-process scans: progress display and output names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.progress import Progress, TaskID

from scanlet.errors import NoPages, ScanletError, error_from_dict


def page_paths(output: Path, count: int) -> list[Path]:
    """Files for single-image formats: ``out.jpg`` for one page, ``out-001.jpg``… for more."""
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{i:03d}{output.suffix}") for i in range(1, count + 1)]


class ScanProgress:
    """Turns job events into a progress bar; remembers how the job ended."""

    def __init__(self, progress: Progress, limit: int | None) -> None:
        self.progress = progress
        self.task: TaskID = progress.add_task("Scanning", total=limit)
        self.final: dict[str, Any] | None = None

    def on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "page":
            self.progress.update(self.task, completed=event["pages_stored"])
        elif event.get("type") == "job" and event["job"]["state"] not in ("pending", "running"):
            self.final = event["job"]
            self.progress.update(self.task, total=event["job"]["pages_stored"],
                                 completed=event["job"]["pages_stored"])

    def raise_if_failed(self) -> dict[str, Any]:
        """The finished job, or its error raised as the matching ScanletError."""
        job = self.final
        if job is None:
            raise ScanletError("the job's event stream ended before the job finished")
        if job["state"] == "failed" and job.get("error"):
            raise error_from_dict(job["error"])
        if job["state"] != "completed":
            raise ScanletError(f"the scan ended as {job['state']}", state=job["state"])
        if job["pages_stored"] == 0:
            raise NoPages("the scan kept no pages (empty feeder, or every page dropped "
                          "as blank)")
        return job
