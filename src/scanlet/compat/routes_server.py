"""``/api/server`` and ``/api/server/version`` of the compatibility API.

The reference's ``logLevel`` is 0 (off), 1 (errors and information, its default) or 30
(verbose). Scanlet maps 0 to ERROR (it always logs errors), 1 to INFO and anything above to
DEBUG, the same run-time change as ``PUT /v1/admin/log`` (service and scan workers, not
persisted); reading gives 30 for DEBUG and 1 otherwise.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from scanlet import __version__
from scanlet.compat.bodies import json_body
from scanlet.core import logs
from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.errors import InvalidSetting

log = logging.getLogger(__name__)
# The reference documents this API; it stays out of Scanlet's own OpenAPI schema.
#: Mounted under /api (compat/app.py).
router = APIRouter(prefix="/server", include_in_schema=False)
Rt = Annotated[Runtime, Depends(runtime)]

VERBOSE = 30


class ServerSettings(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    log_level: int = Field(alias="logLevel", serialization_alias="logLevel")


def _settings() -> dict[str, Any]:
    return {"logLevel": VERBOSE if logs.current().level == "DEBUG" else 1}


@router.get("/version", summary="Version of the service (reference-compatible)")
def version() -> dict[str, Any]:
    return {"version": __version__, "compatible": True,
            "moduleVersions": {"core": [__version__]}}


@router.get("", summary="Server settings: logLevel (reference-compatible)")
def get_settings() -> dict[str, Any]:
    return _settings()


@router.patch("", summary="Change logLevel now, without a restart (reference-compatible)")
async def patch_settings(request: Request, rt: Rt) -> dict[str, Any]:
    body = await json_body(request)
    raw = body.get("logLevel")
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise InvalidSetting("logLevel must be 0, 1 or 30", field="logLevel")
    level = "ERROR" if raw == 0 else "INFO" if raw == 1 else "DEBUG"
    log.info("log level set to %s through the compatibility API (logLevel %d)", level, raw)
    logs.set_level(level)
    await rt.devices.set_log_level(level)
    return _settings()
