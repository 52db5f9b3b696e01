"""Service-level endpoints: version and health.

``GET /v1/version`` is public (any origin may ask, so that a page can find the service): it
names the product and its version only. The build, the kernel, Python and library versions
help an attacker pick an exploit, so they are at ``GET /v1/admin/version`` (scope ``admin``,
:func:`platform_details`).
"""

from __future__ import annotations

import platform
import sys
import time
from importlib import metadata
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from scanlet import __version__
from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["service"])
_STARTED = time.monotonic()


def build_id() -> str:
    """An identifier of this build: the version plus the Python it runs on."""
    return f"{__version__}+py{sys.version_info.major}{sys.version_info.minor}"


#: Libraries whose versions ``GET /v1/admin/version`` lists (distribution names).
LIBRARIES = ("fastapi", "starlette", "uvicorn", "pydantic", "httpx", "pillow", "pikepdf",
             "pypdfium2", "python-sane", "cryptography", "websockets")


def platform_details() -> dict[str, Any]:
    """The build, the OS and Python the service runs on, and its main libraries' versions:
    for the administrator only (``GET /v1/admin/version``)."""
    libraries: dict[str, str] = {}
    for name in LIBRARIES:
        try:
            libraries[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "build": build_id(),
        "platform": {"system": platform.system(), "machine": platform.machine(),
                     "release": platform.release(), "python": platform.python_version(),
                     "implementation": platform.python_implementation()},
        "libraries": libraries,
    }


@router.get("/version", summary="Name and version of the service (public; the platform "
            "details are at /v1/admin/version)")
def version() -> dict[str, Any]:
    return {"name": "scanlet", "version": __version__}


@router.get("/health", summary="Liveness and basic state of the service")
def health(rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    return {
        "status": "ok",
        "uptime_seconds": round(time.monotonic() - _STARTED, 3),
        "demo": rt.demo,
        "workers": len(rt.devices.worker_pids()),
    }
