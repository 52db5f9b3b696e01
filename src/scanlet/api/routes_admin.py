"""Administration endpoints (scope ``admin``): the service log.

``PUT /v1/admin/log`` changes the log level at once, in the service and in every running scan
worker (new workers start with it). The change lasts until the service stops: ``[log] level``
in the config is the persistent setting.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from scanlet.api.deps import runtime
from scanlet.service import logs
from scanlet.service.runtime import Runtime

router = APIRouter(prefix="/v1/admin", tags=["admin"])
Rt = Annotated[Runtime, Depends(runtime)]
log = logging.getLogger(__name__)


class LogSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        description="The level in force now (Scanlet's loggers and the scan workers)")
    configured_level: str = Field(description="`[log] level`: the level after a restart")
    format: Literal["text", "json"]
    file: str | None = Field(description="The current log file (rotated files sit beside it)")
    max_mb: int
    backups: int
    requests: bool = Field(description="Whether every request is logged (`[log] requests`)")


class LogLevelChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: str = Field(max_length=20, description="DEBUG, INFO, WARNING or ERROR "
                       "(case-insensitive)")


def _settings(rt: Runtime) -> LogSettings:
    state = logs.current()
    settings = rt.settings
    return LogSettings.model_validate({
        "level": state.level, "configured_level": settings.log_level, "format": state.format,
        "file": str(state.file) if state.file else None, "max_mb": settings.log_max_mb,
        "backups": settings.log_backups, "requests": settings.log_requests})


@router.get("/log", summary="The service log: level in force, format, file")
def get_log(rt: Rt) -> LogSettings:
    return _settings(rt)


@router.put("/log", summary="Change the log level now, without a restart (not persisted)")
async def put_log(body: LogLevelChange, rt: Rt) -> LogSettings:
    before = logs.current().level
    level = logs.check_level(body.level)  # InvalidSetting (422) for an unknown level
    # The line goes out under the more verbose of the two levels.
    quieter = logging.getLevelName(level) > logging.getLevelName(before)
    if quieter:
        log.info("log level changed from %s to %s", before, level)
    logs.set_level(level)
    if not quieter:
        log.info("log level changed from %s to %s", before, level)
    await rt.devices.set_log_level(level)
    return _settings(rt)
