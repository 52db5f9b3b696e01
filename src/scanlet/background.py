"""A background asyncio task with an idempotent start and a stop that waits for it."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundTask:
    """Runs :meth:`run` as one named asyncio task between :meth:`start` and :meth:`stop`."""

    #: The asyncio task's name (for debugging and tracebacks).
    task_name = "scanlet-background"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=self.task_name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        raise NotImplementedError
