"""Long processing tasks (OCR, searchable PDFs, batch edits) with progress, cancel and a result.

A task runs a blocking function in a worker thread (the function itself may fan out to
processes, as OCR does); the event loop stays free. Clients follow it over a WebSocket (the
same event shape as scan jobs: ``task`` state changes and ``progress``), cancel it, and fetch
its result: JSON, and for tasks that produce a file, the file. Tasks live in memory only; a
restart forgets them (their inputs are in the buffer, so they can simply be started again).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from scanlet.errors import (
    JobStateError,
    ScanCancelled,
    ScanletError,
    TaskNotFound,
    TooManyTasks,
)
from scanlet.models import ErrorInfo

log = logging.getLogger(__name__)

MAX_KEPT = 50
#: Retry-After (seconds) when a client already runs its maximum of tasks of a kind: a guess,
#: as the end of a running task is not known; the client may also follow its tasks' events.
BUSY_RETRY_AFTER = 5

Progress = Callable[[int, int], None]

__all__ = ["MAX_KEPT", "Progress", "TaskInfo", "TaskManager", "TaskNotFound", "TaskOutput",
           "TaskState", "Work"]


class TaskState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self is not TaskState.RUNNING


class TaskInfo(BaseModel):
    id: str
    kind: str
    state: TaskState
    done: int = 0
    total: int = 0
    unit: str = Field("items", description="What done and total count: items (pages) or "
                      "bytes")
    rate: float | None = Field(None, description="Recent speed in units per second")
    created: datetime
    updated: datetime
    error: ErrorInfo | None = None
    result: dict[str, Any] | None = None
    file: str | None = Field(default=None, description="Media type of the result file, if any")


@dataclass(frozen=True)
class TaskOutput:
    """What a task function returns: JSON for the client and optionally a file."""

    result: dict[str, Any]
    file: Path | None = None
    media_type: str | None = None


#: A task function: (workdir for its files, progress callback, cancel flag) -> output.
Work = Callable[[Path, Progress, threading.Event], TaskOutput]


@dataclass
class _Task:
    info: TaskInfo
    workdir: Path
    cancel: threading.Event = field(default_factory=threading.Event)
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    output: TaskOutput | None = None
    runner: asyncio.Task[None] | None = None
    owner: str | None = None  # who started it (a principal id), for per-client limits


def _now() -> datetime:
    return datetime.now(UTC)


class _Speedometer:
    """Units per second over the last :attr:`WINDOW` seconds of progress reports."""

    WINDOW = 2.0
    MAX_SAMPLES = 64

    def __init__(self) -> None:
        self._samples: collections.deque[tuple[float, int]] = collections.deque(
            maxlen=self.MAX_SAMPLES)

    def measure(self, now: float, done: int) -> float | None:
        samples = self._samples
        if samples and done < samples[-1][1]:
            samples.clear()  # the count started again (a retried upload)
        samples.append((now, done))
        while len(samples) > 2 and now - samples[1][0] >= self.WINDOW:
            samples.popleft()
        first_time, first_done = samples[0]
        if now - first_time <= 0:
            return None
        return round((done - first_done) / (now - first_time), 1)


class TaskManager:
    """Runs and tracks tasks; files go to ``scratch`` (the buffer's scratch folder).

    ``clock`` (seconds, monotonic) times progress reports: their folding and their rate. It
    is a parameter so that tests can drive it instead of depending on the machine's speed.
    """

    def __init__(self, scratch: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.scratch = scratch
        self._clock = clock
        self._tasks: dict[str, _Task] = {}

    def start(self, kind: str, work: Work, total: int = 0, *, owner: str | None = None,
              unit: str = "items", progress_interval: float = 0.0) -> TaskInfo:
        """Start ``work`` in a thread; returns at once. ``owner`` (e.g. the client's principal
        id) is what :meth:`running` counts by. ``unit`` says what progress counts; progress
        reports closer than ``progress_interval`` seconds are folded into the next one (a
        byte counter calls per chunk), except the last (``done == total``)."""
        now = _now()
        task_id = secrets.token_hex(8)
        workdir = self.scratch / f"task-{task_id}"
        workdir.mkdir(parents=True, mode=0o700)
        task = _Task(TaskInfo(id=task_id, kind=kind, state=TaskState.RUNNING, total=total,
                              unit=unit, created=now, updated=now), workdir, owner=owner)
        self._tasks[task_id] = task
        task.events.append({"type": "task", "task": task.info.model_dump(mode="json")})
        task.runner = asyncio.get_running_loop().create_task(
            self._run(task, work, progress_interval))
        self._prune()
        return task.info

    async def _run(self, task: _Task, work: Work, interval: float) -> None:
        loop = asyncio.get_running_loop()
        speed = _Speedometer()
        last = [float("-inf")]

        def progress(done: int, total: int) -> None:
            if task.cancel.is_set():
                raise ScanCancelled("the task was cancelled")
            now = self._clock()
            if now - last[0] < interval and done != total:
                return
            last[0] = now
            loop.call_soon_threadsafe(self._progress, task, done, total,
                                      speed.measure(now, done))

        try:
            task.output = await asyncio.to_thread(work, task.workdir, progress, task.cancel)
            state, error = TaskState.COMPLETED, None
        except ScanCancelled:
            state, error = TaskState.CANCELLED, None
        except ScanletError as exc:
            state, error = TaskState.FAILED, ErrorInfo(**exc.to_dict())
        except Exception as exc:  # a bug: keep the service up, report it on the task
            log.exception("task %s (%s) failed", task.info.id, task.info.kind)
            state, error = TaskState.FAILED, ErrorInfo(code="internal", message=str(exc))
        if task.cancel.is_set() and state is TaskState.COMPLETED:
            state = TaskState.CANCELLED
        output = task.output
        task.info = task.info.model_copy(update={
            "state": state, "error": error, "updated": _now(),
            "result": output.result if output and state is TaskState.COMPLETED else None,
            "file": output.media_type if output and output.file else None})
        await self._publish(task, {"type": "task", "task": task.info.model_dump(mode="json")})

    def _progress(self, task: _Task, done: int, total: int, rate: float | None) -> None:
        task.info = task.info.model_copy(update={"done": done, "total": total, "rate": rate,
                                                 "updated": _now()})
        asyncio.get_running_loop().create_task(self._publish(
            task, {"type": "progress", "done": done, "total": total, "unit": task.info.unit,
                   "rate": rate}))

    async def _publish(self, task: _Task, event: dict[str, Any]) -> None:
        async with task.changed:
            task.events.append(event)
            task.changed.notify_all()

    def _get(self, task_id: str) -> _Task:
        task = self._tasks.get(task_id)
        if task is None:
            raise TaskNotFound(f"no task {task_id}", task_id=task_id)
        return task

    def get(self, task_id: str) -> TaskInfo:
        return self._get(task_id).info

    def list(self) -> list[TaskInfo]:
        return [t.info for t in self._tasks.values()]

    def running(self, *, kind_prefix: str = "", owner: str | None = None) -> int:
        """How many tasks are still running (a cancelled one counts until its work has
        stopped) whose kind starts with ``kind_prefix`` and, if given, of ``owner``."""
        return sum(1 for t in self._tasks.values()
                   if not t.info.state.finished and t.info.kind.startswith(kind_prefix)
                   and (owner is None or t.owner == owner))

    def check_room(self, *, kind_prefix: str, owner: str, maximum: int, what: str,
                   key: str) -> None:
        """429 ``too_many_tasks`` when ``owner`` already runs ``maximum`` tasks whose kind
        starts with ``kind_prefix`` (``maximum`` 0: no limit). ``what`` names them in the
        message, ``key`` is the config key of the limit."""
        if maximum <= 0:
            return
        running = self.running(kind_prefix=kind_prefix, owner=owner)
        if running >= maximum:
            raise TooManyTasks(
                f"{running} {what} of this client are running (at most {maximum}, "
                f"[limits] {key}); wait for one to finish or cancel one",
                running=running, maximum=maximum, retry_after=BUSY_RETRY_AFTER)

    def cancel(self, task_id: str) -> TaskInfo:
        task = self._get(task_id)
        if task.info.state.finished:
            raise JobStateError(f"task {task_id} is {task.info.state}", task=task_id)
        task.cancel.set()
        return task.info

    def result_file(self, task_id: str) -> tuple[Path, str]:
        """The finished task's file and its media type."""
        task = self._get(task_id)
        output = task.output
        if task.info.state is not TaskState.COMPLETED or output is None or output.file is None:
            raise JobStateError(f"task {task_id} has no file (state {task.info.state})",
                                task=task_id)
        return output.file, output.media_type or "application/octet-stream"

    async def events(self, task_id: str) -> AsyncIterator[dict[str, Any]]:
        """The task's events from its start, then live ones until it finishes."""
        task = self._get(task_id)
        sent = 0
        while True:
            async with task.changed:
                await task.changed.wait_for(lambda: len(task.events) > sent)  # noqa: B023
                batch = task.events[sent:]
                sent = len(task.events)
            for event in batch:
                yield event
            if task.info.state.finished and sent == len(task.events):
                return

    def _prune(self) -> None:
        finished = [t for t in self._tasks.values() if t.info.state.finished]
        for task in finished[:max(0, len(self._tasks) - MAX_KEPT)]:
            del self._tasks[task.info.id]
            shutil.rmtree(task.workdir, ignore_errors=True)

    async def close(self) -> None:
        """Cancel running tasks and remove every task's files."""
        for task in self._tasks.values():
            task.cancel.set()
        runners = [t.runner for t in self._tasks.values() if t.runner is not None]
        await asyncio.gather(*runners, return_exceptions=True)
        for task in self._tasks.values():
            shutil.rmtree(task.workdir, ignore_errors=True)
        self._tasks.clear()
