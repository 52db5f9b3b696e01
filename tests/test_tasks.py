"""The task manager: progress events, results and files, cancel, failures, cleanup."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from scanlet.errors import InvalidSetting, JobStateError
from scanlet.tasks import Progress, TaskManager, TaskNotFound, TaskOutput, TaskState


def counting(steps: int, delay: float = 0.0) -> Any:
    def work(workdir: Path, progress: Progress, cancel: threading.Event) -> TaskOutput:
        for done in range(1, steps + 1):
            time.sleep(delay)
            progress(done, steps)
        out = workdir / "result.txt"
        out.write_text("x" * steps)
        return TaskOutput({"steps": steps}, out, "text/plain")
    return work


async def collect(manager: TaskManager, task_id: str) -> list[dict[str, Any]]:
    return [event async for event in manager.events(task_id)]


def test_progress_result_and_file(tmp_path: Path) -> None:
    async def body() -> None:
        manager = TaskManager(tmp_path / "tasks")
        info = manager.start("count", counting(5), total=5)
        events = await asyncio.wait_for(collect(manager, info.id), 10)
        assert [e["done"] for e in events if e["type"] == "progress"] == [1, 2, 3, 4, 5]
        assert events[0]["task"]["state"] == "running"
        final = events[-1]["task"]
        assert final["state"] == "completed" and final["result"] == {"steps": 5}
        path, media = manager.result_file(info.id)
        assert path.read_text() == "xxxxx" and media == "text/plain"
        await manager.close()
        assert not path.exists()
        with pytest.raises(TaskNotFound):
            manager.get(info.id)

    asyncio.run(body())


def test_byte_progress_is_folded_and_carries_a_rate(tmp_path: Path) -> None:
    async def body() -> None:
        manager = TaskManager(tmp_path / "tasks")
        # 400 reports over about 0.8 s: at most one event per 0.1 s, plus the last one.
        info = manager.start("send", counting(400, delay=0.002), unit="bytes",
                             progress_interval=0.1)
        assert info.unit == "bytes"
        events = await asyncio.wait_for(collect(manager, info.id), 10)
        progress = [e for e in events if e["type"] == "progress"]
        assert 3 <= len(progress) <= 15, len(progress)
        assert progress[0]["done"] == 1 and progress[-1]["done"] == 400
        assert all(e["unit"] == "bytes" and e["total"] == 400 for e in progress)
        assert progress[0]["rate"] is None  # one report is no speed yet
        rates = [e["rate"] for e in progress[1:]]
        # About 500 units a second (sleep may take longer on a busy machine, never shorter).
        assert all(0 < r <= 520 for r in rates), rates
        assert manager.get(info.id).rate == rates[-1]
        await manager.close()

    asyncio.run(body())


def test_cancel_stops_at_the_next_progress_report(tmp_path: Path) -> None:
    async def body() -> None:
        manager = TaskManager(tmp_path / "tasks")
        info = manager.start("slow", counting(1000, delay=0.01), total=1000)
        await asyncio.sleep(0.1)
        manager.cancel(info.id)
        events = await asyncio.wait_for(collect(manager, info.id), 10)
        assert events[-1]["task"]["state"] == "cancelled"
        assert manager.get(info.id).done < 1000
        with pytest.raises(JobStateError):
            manager.cancel(info.id)
        with pytest.raises(JobStateError):
            manager.result_file(info.id)
        await manager.close()

    asyncio.run(body())


def test_failures_carry_the_error_code(tmp_path: Path) -> None:
    def bad(workdir: Path, progress: Progress, cancel: threading.Event) -> TaskOutput:
        raise InvalidSetting("no such language", field="lang")

    def bug(workdir: Path, progress: Progress, cancel: threading.Event) -> TaskOutput:
        raise ZeroDivisionError("oops")

    async def body() -> None:
        manager = TaskManager(tmp_path / "tasks")
        first = manager.start("bad", bad)
        second = manager.start("bug", bug)
        await asyncio.wait_for(collect(manager, first.id), 10)
        await asyncio.wait_for(collect(manager, second.id), 10)
        failed = manager.get(first.id)
        assert failed.state == TaskState.FAILED and failed.error is not None
        assert failed.error.code == "invalid_setting"
        assert manager.get(second.id).error.code == "internal"  # type: ignore[union-attr]
        await manager.close()

    asyncio.run(body())
