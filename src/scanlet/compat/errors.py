"""Scanlet errors as the reference service's error body: ``{code, message, statusCode}``.

The reference's codes are negative integers (``-2113`` bad parameter, ``-2800`` product key,
``-1043`` document password, ``-1034`` job, ``-1040`` document or page, ``-2112`` method,
``-1011`` sequence, ``-1004`` source busy). Scanlet's own errors map onto them by class; the
compatibility routes raise the classes in ``scanlet.errors`` whose ``dwt_code`` says it
directly.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from scanlet.disclosure import public_text
from scanlet.errors import (
    AccessError,
    DeviceBusy,
    JobNotFound,
    JobStateError,
    NotFound,
    RequestError,
    ScanletError,
)

#: Path prefixes of the compatibility APIs (v19 and legacy).
COMPAT_PREFIXES = ("/api/", "/DWTAPI/")

BAD_PARAMETER = -2113
BAD_PRODUCT_KEY = -2800
BAD_PASSWORD = -1043
BAD_JOB = -1034
BAD_UID = -1040
BAD_METHOD = -2112
OUT_OF_SEQUENCE = -1011
SOURCE_BUSY = -1004
#: Anything the reference has no code for (a failed scan, a server fault).
GENERIC = -1000


def is_compat_path(path: str) -> bool:
    return path.startswith(COMPAT_PREFIXES) or path in ("/api", "/DWTAPI")


def dwt_code(exc: ScanletError) -> tuple[int, int]:
    """The HTTP status and the reference's code for ``exc``."""
    explicit = getattr(exc, "dwt_code", None)
    if isinstance(explicit, int):
        return exc.http_status, explicit
    if isinstance(exc, AccessError):
        # The reference answers 403 for a missing or wrong key, so do its clients expect.
        status = 429 if exc.http_status == 429 else 403
        return status, BAD_PRODUCT_KEY
    if isinstance(exc, JobNotFound):
        return 404, BAD_JOB
    if isinstance(exc, NotFound):
        return 404, BAD_UID
    if isinstance(exc, DeviceBusy):
        return 423, SOURCE_BUSY
    if isinstance(exc, JobStateError):
        return 409, OUT_OF_SEQUENCE
    if isinstance(exc, RequestError) or 400 <= exc.http_status < 500:
        return (exc.http_status if exc.http_status in (400, 413, 415) else 400), BAD_PARAMETER
    return exc.http_status, GENERIC


def dwt_body(status: int, code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "statusCode": status, **extra}


def dwt_response(exc: ScanletError) -> JSONResponse:
    """``exc`` as the reference's error answer (the Scanlet code is kept as ``scanletCode``;
    local paths reduced, scanlet.disclosure)."""
    status, code = dwt_code(exc)
    response = JSONResponse(dwt_body(status, code, public_text(exc.message), scanletCode=exc.code),
                            status_code=status)
    if "retry_after" in exc.detail:
        response.headers["Retry-After"] = str(exc.detail["retry_after"])
    return response


def dwt_plain(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(dwt_body(status, code, message), status_code=status)
