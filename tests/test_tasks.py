"""The task manager: progress events, results and files, cancel, failures, cleanup."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from scanlet.errors import InvalidSetting, JobStateError
from scanlet.tasks import Progress, TaskManager, TaskNotFound, TaskOutput, TaskState


def counting(steps: int) -> Any:
    def work(workdir: Path, progress: Progress, cancel: threading.Event) -> TaskOutput:
        for done in range(1, steps + 1):
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


class TickingClock:
    """A clock the work function advances: progress timing that does not depend on how fast
    the machine runs the test. Ticks are 1/64 s, so every time is exact in binary."""

    def __init__(self) -> None:
        self.ticks = 0

    def __call__(self) -> float:
        return self.ticks / 64


def test_byte_progress_is_folded_and_carries_a_rate(tmp_path: Path) -> None:
    clock = TickingClock()

    def send(workdir: Path, progress: Progress, cancel: threading.Event) -> TaskOutput:
        # 400 units: the first 200 at 64 a second (one tick each), the rest at 32 a second.
        for done in range(1, 401):
            clock.ticks += 1 if done <= 200 else 2
            progress(done, 400)
        return TaskOutput({"sent": 400})

    async def body() -> None:
        manager = TaskManager(tmp_path / "tasks", clock=clock)
        info = manager.start("send", send, unit="bytes", progress_interval=0.125)
        assert info.unit == "bytes"
        events = await asyncio.wait_for(collect(manager, info.id), 10)
        progress = [e for e in events if e["type"] == "progress"]
        # At most one event per 0.125 s (8 units, then 4), plus the last one.
        assert [e["done"] for e in progress] == [
            *range(1, 200, 8), *range(201, 400, 4), 400]
        assert all(e["unit"] == "bytes" and e["total"] == 400 for e in progress)
        assert progress[0]["rate"] is None  # one report is no speed yet
        rates = [e["rate"] for e in progress[1:]]
        assert rates[:24] == [64.0] * 24  # the fast half
        assert rates == sorted(rates, reverse=True)  # slowing down over the 2 s window
        assert rates[-1] == 32.0  # the window holds only the slow half by then
        assert manager.get(info.id).rate == 32.0
        await manager.close()

    asyncio.run(body())


def test_cancel_stops_at_the_next_progress_report(tmp_path: Path) -> None:
    resume = threading.Event()

    def slow(workdir: Path, progress: Progress, cancel: threading.Event) -> TaskOutput:
        for done in range(1, 1001):
            progress(done, 1000)
            if done == 1:  # held until the test has cancelled (a guard against a hang)
                assert resume.wait(30)
        return TaskOutput({"steps": 1000})

    async def body() -> None:
        manager = TaskManager(tmp_path / "tasks")
        info = manager.start("slow", slow, total=1000)
        events = []
        async with asyncio.timeout(10):
            async for event in manager.events(info.id):
                events.append(event)
                if event["type"] == "progress":
                    manager.cancel(info.id)  # while the work is at its first report
                    resume.set()
        assert [e["done"] for e in events if e["type"] == "progress"] == [1]
        assert events[-1]["task"]["state"] == "cancelled"
        assert manager.get(info.id).done == 1
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
