"""The legacy ``/DWTAPI`` of the compatibility API (the reference's 18.4 to 18.5 REST API).

Same scanners and job engine as ``/api``: ``POST /DWTAPI/ScanJobs`` (body
``{license, device, config, caps}``, JSON whatever the Content-Type; ``?timeout=`` is
accepted and ignored, its meaning is undocumented) starts the job at once and answers 201
with the job uid as plain text; ``NextDocument`` answers each page as JPEG, then 410 once
the pages run out (also when the scan failed: the clients stop on 410); ``DELETE`` answers
200. ``DocumentInfo``, mentioned only in a blog post, is not provided.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse

from scanlet.compat import devices as dwt_devices
from scanlet.compat.auth import principal, require_key
from scanlet.compat.bodies import json_body
from scanlet.compat.errors import BAD_JOB, dwt_plain
from scanlet.compat.jobs import ClientGone
from scanlet.compat.routes_devices import Engine, create_from_body, gone_client, page_image
from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.security.policy import Principal

#: Mounted under /DWTAPI (compat/app.py).
router = APIRouter(include_in_schema=False)
Rt = Annotated[Runtime, Depends(runtime)]
Who = Annotated[Principal, Depends(principal)]


@router.get("/Scanners")
async def scanners(rt: Rt, mask: Annotated[str | None, Query(alias="type")] = None,
                   ) -> list[dict[str, Any]]:
    """Scanners whose type is in the ``type`` bitmask, as ``/api/device/scanners``."""
    return dwt_devices.scanners(await rt.devices.list_devices(), dwt_devices.parse_mask(mask),
                                twain_types=rt.settings.compat_twain_types)


@router.post("/ScanJobs")
async def create_job(request: Request, rt: Rt, jobs: Engine,
                     who: Annotated[Principal, Depends(require_key)],
                     timeout: Annotated[str | None, Query(max_length=20)] = None,
                     ) -> PlainTextResponse:
    """Start a scan job; 201 with its uid as plain text."""
    body = await json_body(request)
    job = await create_from_body(rt, jobs, body, who.id or "anonymous", auto_run=True)
    return PlainTextResponse(job.uid, status_code=201)


@router.get("/ScanJobs/{uid}/NextDocument")
async def next_document(uid: str, request: Request, rt: Rt, jobs: Engine,
                        who: Who) -> Response:
    """The next page as JPEG; 410 when there are no more."""
    job = jobs.get(uid, who)
    try:
        found = await jobs.next_page(job, "page", request.is_disconnected)
    except ClientGone:
        return gone_client()
    if found is None:
        message = "No more pages: the job has ended."
        if job.error is not None:
            message = f"No more pages: the job failed: {job.error[1]}"
        return dwt_plain(410, BAD_JOB, message)
    return await page_image(rt, found[1], "jpeg")


@router.delete("/ScanJobs/{uid}")
async def delete_job(uid: str, jobs: Engine, who: Who) -> Response:
    """Cancel and delete the job with the pages it scanned; 200."""
    await jobs.delete(jobs.get(uid, who))
    return Response(status_code=200)
