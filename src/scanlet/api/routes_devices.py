"""Device endpoints: list scanners and read their capabilities."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from scanlet.api.deps import client_key
from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.models import Capabilities, Device

router = APIRouter(prefix="/v1/devices", tags=["devices"])
Rt = Annotated[Runtime, Depends(runtime)]


@router.get("", summary="List the scanners this computer can use")
async def list_devices(
    rt: Rt,
    refresh: Annotated[bool, Query(description="List the devices now and wait for it, "
                                   "instead of answering from the last listing")] = False,
) -> list[Device]:
    return await rt.devices.list_devices(refresh=refresh)


@router.get("/{device_id:path}/capabilities",
            summary="Normalized capabilities per paper source, plus the raw driver options")
async def capabilities(
    device_id: str, rt: Rt, request: Request,
    session: Annotated[str | None, Query(
        max_length=64, description="The client session (from the /v1/session WebSocket) "
        "that opens this device: its scan worker stays for the session")] = None,
) -> Capabilities:
    caps = await rt.devices.capabilities(device_id)
    if session is not None:
        rt.sessions.use(session, client_key(request.scope), device_id)
    return caps


@router.get("/{device_id:path}", summary="One scanner")
async def get_device(device_id: str, rt: Rt) -> Device:
    return await rt.devices.get_device(device_id)
