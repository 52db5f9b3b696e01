"""Scanlet errors as the reference service's error body: ``{code, message, statusCode}``.

The reference's codes are negative integers (``-2113`` bad parameter, ``-2800`` product key,
``-1043`` document password, ``-1034`` job, ``-1040`` document or page, ``-2112`` method,
``-1011`` sequence, ``-1004`` source busy). Scanlet's own errors map onto them by class; the
compatibility routes raise the classes in ``scanlet.errors`` whose ``dwt_code`` says it
directly.

:func:`install` registers the handlers of the compatibility sub-applications (every error a
compatibility route raises leaves in this body); the app factory hands :func:`dwt_response`
and :func:`is_compat_path` to the access middleware, which refuses requests before any route.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scanlet.disclosure import public_text, public_value
from scanlet.errors import (
    AccessError,
    DeviceBusy,
    JobNotFound,
    JobStateError,
    NotFound,
    RequestError,
    ScanletError,
)

log = logging.getLogger(__name__)

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


async def _scanlet_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ScanletError)
    if public_value([exc.message, exc.detail]) != [exc.message, exc.detail]:
        # the client gets the text without its paths; the log keeps them
        log.info("%s on %s %s: %s %s", exc.code, request.method, request.url.path, exc.message,
                 exc.detail or "")
    return dwt_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = (exc.errors() or [{}])[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
    return dwt_plain(400, BAD_PARAMETER, f"The parameter is not valid. ({where}: "
                     f"{first.get('msg', 'invalid')})")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code_number = BAD_METHOD if exc.status_code == 405 else BAD_PARAMETER
    answer = dwt_plain(exc.status_code, code_number, str(exc.detail))
    for name, value in (exc.headers or {}).items():  # e.g. Allow on 405
        answer.headers[name] = value
    return answer


class ContainUnexpected:
    """ASGI middleware of a compatibility sub-application: an unexpected exception becomes the
    reference's 500 answer here, logged once with its traceback and a correlation id that the
    answer names. (FastAPI's own server-error handler would re-raise it after answering, and
    the native app around the mount would log it a second time under another id.) An error
    after the answer has started goes on up, as in the native app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            if started:
                raise
            correlation = secrets.token_hex(6)
            log.error("unexpected error [%s] on %s %s", correlation, scope.get("method"),
                      scope.get("path"), exc_info=exc)
            answer = dwt_plain(500, GENERIC, f"Internal error; the service log names it "
                               f"{correlation}")
            await answer(scope, receive, send)


def install(app: FastAPI) -> None:
    """Register the handlers of a compatibility sub-application on ``app``."""
    app.add_exception_handler(ScanletError, _scanlet_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(ContainUnexpected)
