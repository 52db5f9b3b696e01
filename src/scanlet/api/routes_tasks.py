"""Processing tasks: status, events over a WebSocket, cancel, and the result file."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse

from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.disclosure import public_value
from scanlet.errors import ScanletError
from scanlet.tasks import TaskInfo

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])
Rt = Annotated[Runtime, Depends(runtime)]


@router.get("", summary="Processing tasks (OCR, searchable PDFs, ...) of this run")
def list_tasks(rt: Rt) -> list[TaskInfo]:
    return rt.tasks.list()


@router.get("/{task_id}", summary="Task status, progress and result")
def get_task(task_id: str, rt: Rt) -> TaskInfo:
    return rt.tasks.get(task_id)


@router.post("/{task_id}/cancel", summary="Cancel a running task")
def cancel_task(task_id: str, rt: Rt) -> TaskInfo:
    return rt.tasks.cancel(task_id)


@router.get("/{task_id}/file", summary="The file a finished task produced",
            response_class=FileResponse)
def task_file(task_id: str, rt: Rt) -> FileResponse:
    path, media_type = rt.tasks.result_file(task_id)
    return FileResponse(path, media_type=media_type, filename=path.name)


@router.websocket("/{task_id}/events")
async def task_events(websocket: WebSocket, task_id: str) -> None:
    """``task`` state changes and ``progress`` events; closes after the task finished."""
    rt: Runtime = websocket.app.state.runtime
    await websocket.accept()
    try:
        async for event in rt.tasks.events(task_id):
            await websocket.send_json(event)
    except ScanletError as exc:
        await websocket.send_json({"type": "error", "error": public_value(exc.to_dict())})
    except WebSocketDisconnect:
        return
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close()
