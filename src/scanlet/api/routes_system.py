"""Service-level endpoints: version and health."""

from __future__ import annotations

import platform
import sys
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from scanlet import __version__
from scanlet.api.deps import runtime
from scanlet.service.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["service"])
_STARTED = time.monotonic()


def build_id() -> str:
    """An identifier of this build: the version plus the Python it runs on."""
    return f"{__version__}+py{sys.version_info.major}{sys.version_info.minor}"


@router.get("/version", summary="Version, build and platform of the service")
def version() -> dict[str, Any]:
    return {
        "name": "scanlet",
        "version": __version__,
        "build": build_id(),
        "platform": {"system": platform.system(), "machine": platform.machine(),
                     "release": platform.release(),
                     "python": platform.python_version()},
    }


@router.get("/health", summary="Liveness and basic state of the service")
def health(rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    return {
        "status": "ok",
        "uptime_seconds": round(time.monotonic() - _STARTED, 3),
        "demo": rt.demo,
        "workers": len(rt.devices.worker_pids()),
    }
