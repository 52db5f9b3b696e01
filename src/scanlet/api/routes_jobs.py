"""Scan job endpoints: create, status, cancel, and the per-job event WebSocket."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect, status

from scanlet.api.deps import client_key
from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.disclosure import public_value
from scanlet.errors import InvalidSetting, ScanletError
from scanlet.models import JobInfo, JobRequest

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
Rt = Annotated[Runtime, Depends(runtime)]


@router.post("", status_code=status.HTTP_201_CREATED,
             summary="Start a scan job; settings are checked against the device first")
async def create_job(request: JobRequest, http: Request, rt: Rt) -> JobInfo:
    principal = http.scope.get("state", {}).get("principal")
    if principal is not None and principal.kind == "site":
        text = sorted(k for k, v in request.raw_options.items() if isinstance(v, str))
        if text:
            # Text options can name files (the pnm backend's ``filename``); no path from a web
            # page may reach the filesystem.
            raise InvalidSetting(f"web pages may not set text options {text}; use the "
                                 "normalized settings", field="raw_options")
    if request.session is not None:
        rt.sessions.use(request.session, client_key(http.scope), request.device)
    return await rt.jobs.create(request)


@router.get("", summary="List jobs")
def list_jobs(rt: Rt) -> list[JobInfo]:
    return rt.jobs.list()


@router.get("/{job_id}", summary="Job status")
def get_job(job_id: str, rt: Rt) -> JobInfo:
    return rt.jobs.get(job_id)


@router.post("/{job_id}/cancel", summary="Cancel a running job; stored pages are kept")
async def cancel_job(job_id: str, rt: Rt) -> JobInfo:
    return await rt.jobs.cancel(job_id)


@router.websocket("/{job_id}/events")
async def job_events(websocket: WebSocket, job_id: str) -> None:
    """Stream the job's events (from its start): ``job`` state changes and ``page`` stored.

    The socket closes after the event that reports the job finished.
    """
    rt: Runtime = websocket.app.state.runtime
    await websocket.accept()
    try:
        async for event in rt.jobs.events(job_id):
            await websocket.send_json(event)
    except ScanletError as exc:
        await websocket.send_json({"type": "error", "error": public_value(exc.to_dict())})
    except WebSocketDisconnect:
        return
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close()
