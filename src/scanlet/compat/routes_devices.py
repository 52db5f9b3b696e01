"""``/api/device/scanners`` of the compatibility API: scanners and scan jobs (v19).

Bodies are JSON whatever the Content-Type (``bodies.json_body``); every field is checked here
and a bad one is 400 (code -2113). Long polls (``next-page``, ``next-page-info``,
``content``) answer as soon as the page is stored, 204 only at the real end of the job, and
stop waiting when the client hangs up; a scan that stalls ends with the job
(``[devices] worker_progress_timeout``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from scanlet.compat import devices as dwt_devices
from scanlet.compat import scan_config
from scanlet.compat.auth import principal, require_key
from scanlet.compat.bodies import json_body
from scanlet.compat.errors import dwt_plain
from scanlet.compat.jobs import ClientGone, DwtJob, DwtJobs, DwtState
from scanlet.compat.twain import capability_details
from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.errors import DeviceNotFound, InvalidSetting, JobStateError
from scanlet.models import ColorMode, Device, PageInfo
from scanlet.security.policy import Principal

#: Mounted under /api (compat/app.py).
router = APIRouter(prefix="/device/scanners", include_in_schema=False)
Rt = Annotated[Runtime, Depends(runtime)]
Who = Annotated[Principal, Depends(principal)]
ImageType = Annotated[str | None, Query(alias="type")]

IMAGE_TYPES: dict[str, Literal["png", "jpeg"]] = {
    "image/png": "png", "png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg",
    "jpeg": "jpeg", "jpg": "jpeg"}
#: Longest jobTimeout / scannerFailureTimeout accepted (a week), in seconds.
MAX_TIMEOUT = 7 * 24 * 3600


def engine(request: Request) -> DwtJobs:
    """The compatibility job engine of this sub-application (made in compat/app.py)."""
    jobs: DwtJobs = request.app.state.dwt_jobs
    return jobs


Engine = Annotated[DwtJobs, Depends(engine)]


# -- scanners --------------------------------------------------------------------------------

@router.get("")
async def list_scanners(rt: Rt, mask: Annotated[str | None, Query(alias="type")] = None,
                        ) -> list[dict[str, Any]]:
    """Scanners whose type is in the ``type`` bitmask (see compat/devices.py)."""
    wanted = dwt_devices.parse_mask(mask)
    return dwt_devices.scanners(await rt.devices.list_devices(), wanted,
                                twain_types=rt.settings.compat_twain_types)


async def pick_device(rt: Runtime, jobs: DwtJobs, raw: Any) -> Device:
    """The device a job body names, or the latest job's device, or the first listed."""
    if raw is None or raw == "":
        listed = await rt.devices.list_devices()
        if not listed:
            raise InvalidSetting("no scanner is connected", field="device")
        latest = next((d for d in listed if d.id == jobs.last_device), None)
        return latest or listed[0]
    device_id = dwt_devices.device_id_of(raw)
    try:
        return await rt.devices.get_device(device_id)
    except DeviceNotFound:
        raise InvalidSetting(f"the scanner {device_id} is not connected; list the scanners "
                             "again", field="device") from None


def _seconds(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not 0 <= value <= MAX_TIMEOUT:
        raise InvalidSetting(f"{name} must be a number of seconds from 0 to {MAX_TIMEOUT}",
                             field=name)
    return float(value)


async def create_from_body(rt: Runtime, jobs: DwtJobs, body: dict[str, Any], owner: str, *,
                           auto_run: bool | None = None) -> DwtJob:
    """Create a job from a CreateScanJobOptions body (also the legacy ScanJobs body)."""
    if auto_run is None:
        auto_run = body.get("autoRun", True)
        if not isinstance(auto_run, bool):
            raise InvalidSetting("autoRun must be true or false", field="autoRun")
    job_timeout = _seconds(body, "jobTimeout", 0)
    _seconds(body, "scannerFailureTimeout", 15)  # checked; the worker timeouts apply
    device = await pick_device(rt, jobs, body.get("device"))
    caps = await rt.devices.capabilities(device.id)
    wanted = scan_config.Wanted()
    scan_config.apply_settings(wanted, body.get("settings"))
    scan_config.apply_caps(wanted, body.get("caps"), caps)
    scan_config.apply_config(wanted, body.get("config"))
    request = scan_config.resolve(wanted, caps)
    return await jobs.create(owner=owner, device=device,
                             device_type=dwt_devices.native_type(device), request=request,
                             auto_run=auto_run, job_timeout=job_timeout)


@router.post("/jobs", status_code=201)
async def create_job(request: Request, rt: Rt, jobs: Engine,
                     who: Annotated[Principal, Depends(require_key)]) -> dict[str, Any]:
    """Create a scan job (CreateScanJobOptions); 201 ``{jobuid, status, scanner}``."""
    body = await json_body(request)
    job = await create_from_body(rt, jobs, body, who.id or "anonymous")
    return {"jobuid": job.uid, "status": str(job.state),
            "scanner": dwt_devices.scanner(job.device, job.device_type)}


# -- one job ---------------------------------------------------------------------------------

@router.get("/jobs/{uid}")
def job_status(uid: str, jobs: Engine, who: Who) -> dict[str, Any]:
    return jobs.get(uid, who).status()


@router.patch("/jobs/{uid}")
async def update_job(uid: str, request: Request, jobs: Engine, who: Who) -> dict[str, Any]:
    """``{"status": "running"}`` starts a pending job, ``{"status": "canceled"}`` cancels a
    pending or running one."""
    job = jobs.get(uid, who)
    wanted = (await json_body(request)).get("status")
    if wanted == DwtState.RUNNING:
        await jobs.start(job)
    elif wanted == DwtState.CANCELED:
        await jobs.cancel(job)
    else:
        raise InvalidSetting("status must be 'running' or 'canceled'", field="status")
    return {"status": str(job.state)}


@router.delete("/jobs/{uid}", status_code=204)
async def delete_job(uid: str, jobs: Engine, who: Who) -> Response:
    """Cancel and delete the job with the pages it scanned (see compat/jobs.py)."""
    await jobs.delete(jobs.get(uid, who))
    return Response(status_code=204)


def _pending(job: DwtJob) -> None:
    """409 (code -1011) unless the job is pending: a held device not yet scanning."""
    if job.state != DwtState.PENDING:
        raise JobStateError("The job is not pending.", job=job.uid, state=str(job.state))


@router.get("/jobs/{uid}/scanner/capabilities")
async def job_capabilities(uid: str, rt: Rt, jobs: Engine, who: Who,
                           caps: str | None = None) -> list[dict[str, Any]]:
    """CapabilityDetails of a pending job's scanner (``caps``: comma-separated ids)."""
    job = jobs.get(uid, who)
    _pending(job)
    wanted: set[int] | None = None
    if caps:
        try:
            wanted = {int(c, 0) for c in caps.split(",") if c.strip()}
        except ValueError:
            raise InvalidSetting("caps must be comma-separated capability numbers",
                                 field="caps") from None
    device = await rt.devices.capabilities(job.device.id)
    return capability_details(job.request, device.sources, wanted)


@router.get("/jobs/{uid}/scanner/settings")
def job_settings(uid: str, jobs: Engine, who: Who, showui: str | None = None,
                 ) -> dict[str, str]:
    """A pending job's settings as an opaque string for ``settings`` of a later job (the
    reference's TWAIN blob; ``showui`` is ignored: Scanlet shows no driver UI)."""
    job = jobs.get(uid, who)
    _pending(job)
    return {"settings": scan_config.settings_blob(job.request)}


# -- pages -----------------------------------------------------------------------------------

def image_format(raw: str | None) -> Literal["png", "jpeg"]:
    """``type`` of next-page and content: image/png (default) or image/jpeg."""
    if raw is None or raw == "":
        return "png"
    found = IMAGE_TYPES.get(raw.strip().lower())
    if found is None:
        raise InvalidSetting("type must be image/png or image/jpeg", field="type")
    return found


def page_url(request: Request, job: DwtJob, page_id: str) -> str:
    """The page's URL, on the scheme, host and port the client used."""
    base = str(request.base_url).rstrip("/")
    return f"{base}/api/device/scanners/jobs/{job.uid}/next-page?page={page_id}"


def image_info(page: PageInfo, number: int) -> dict[str, Any]:
    """The reference's ``imageInfo`` (TWAIN's TW_IMAGEINFO and image layout)."""
    samples = 3 if page.mode == ColorMode.COLOR else 1
    depth = 1 if page.mode == ColorMode.BW else page.bit_depth
    per_sample = [depth] * samples + [0] * (8 - samples)
    pixel_type = {ColorMode.BW: 0, ColorMode.GRAY: 1, ColorMode.COLOR: 2}[page.mode]
    dpi = page.dpi or 1.0
    return {
        "BitsPerPixel": depth * samples, "BitsPerSample": per_sample, "Compression": 0,
        "ImageLayout": {"DocumentNumber": 1, "FrameNumber": 1, "PageNumber": number,
                        "Frame": {"Left": 0, "Top": 0, "Right": round(page.width / dpi, 3),
                                  "Bottom": round(page.height / dpi, 3)}},
        "ImageLength": page.height, "ImageWidth": page.width, "PixelType": pixel_type,
        "Planar": False, "SamplesPerPixel": samples, "XResolution": dpi, "YResolution": dpi,
    }


def gone_client() -> Response:
    return dwt_plain(499, -1000, "The client closed the connection.")


async def page_image(rt: Runtime, page: PageInfo, fmt: Literal["png", "jpeg"]) -> Response:
    image = await asyncio.to_thread(rt.store.render, page.id, fmt=fmt)
    return Response(image.data, media_type=image.media_type,
                    headers={"Cache-Control": "no-store"})


@router.get("/jobs/{uid}/next-page-info")
async def next_page_info(uid: str, request: Request, jobs: Engine, who: Who) -> Response:
    """``[OutputInfo]`` of the next page this cursor has not described yet; 204 at the end."""
    job = jobs.get(uid, who)
    try:
        found = await jobs.next_page(job, "info", request.is_disconnected)
    except ClientGone:
        return gone_client()
    if found is None:
        return Response(status_code=204)
    number, page = found
    return JSONResponse([{"imageId": number, "imageuid": page.id,
                          "url": page_url(request, job, page.id),
                          "imageInfo": image_info(page, number), "extendedImageInfo": {}}])


@router.get("/jobs/{uid}/next-page")
async def next_page(uid: str, request: Request, rt: Rt, jobs: Engine, who: Who,
                    image_type: ImageType = None, page: str | None = None) -> Response:
    """The next page not returned yet (advancing), or ``page`` (a page id, not advancing);
    204 at the end."""
    fmt = image_format(image_type)
    job = jobs.get(uid, who)
    if page is not None:
        _, info = await jobs.page_by_id(job, page)
        return await page_image(rt, info, fmt)
    try:
        found = await jobs.next_page(job, "page", request.is_disconnected)
    except ClientGone:
        return gone_client()
    if found is None:
        return Response(status_code=204)
    return await page_image(rt, found[1], fmt)


@router.get("/jobs/{uid}/content")
async def content(uid: str, request: Request, rt: Rt, jobs: Engine, who: Who,
                  image_type: ImageType = None, page: str | None = None) -> Response:
    """The job's page at 0-based index ``page`` as ``type`` (409 while the job is
    pending)."""
    fmt = image_format(image_type)
    if page is None or not page.strip().isdigit():
        raise InvalidSetting("page must be a 0-based page index", field="page")
    job = jobs.get(uid, who)
    try:
        _, info = await jobs.page_at(job, int(page), request.is_disconnected)
    except ClientGone:
        return gone_client()
    return await page_image(rt, info, fmt)
