"""Errors as RFC 9457 ``application/problem+json`` with Scanlet's stable ``code``.

Every error leaves the API through here: Scanlet errors by their class data, request
validation errors as 422 ``invalid_request`` (400 ``malformed_json`` for unparsable bodies),
unknown routes as 404 ``not_found``, and anything unexpected as 500 ``internal`` with a
correlation id (never a traceback). Messages and details reach the client with their local
filesystem paths reduced to the last part (scanlet.disclosure); the log keeps them. The
compatibility APIs (``/api``, ``/DWTAPI``) are sub-applications with their own handlers
(``compat/errors.py``); these never see their requests.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from scanlet.disclosure import public_text, public_value
from scanlet.errors import ScanletError

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 413: "too_large",
    415: "unsupported_media_type", 429: "too_many_requests",
}


def problem(status: int, code: str, title: str, detail: str | None = None,
            **extra: Any) -> JSONResponse:
    """Build a problem+json response."""
    body: dict[str, Any] = {"type": f"urn:scanlet:error:{code}", "title": title,
                            "status": status, "code": code}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def problem_for(exc: ScanletError) -> JSONResponse:
    """``exc`` as problem+json; its message and detail with local paths reduced (a client never
    learns the user's name or the disk's layout from an error, scanlet.disclosure)."""
    extra = {k: public_value(v) for k, v in exc.detail.items()
             if k not in ("type", "title", "status", "code")}
    response = problem(exc.http_status, exc.code, exc.title, public_text(exc.message), **extra)
    if "retry_after" in exc.detail:
        response.headers["Retry-After"] = str(exc.detail["retry_after"])
    return response


async def _scanlet_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ScanletError)
    if public_value([exc.message, exc.detail]) != [exc.message, exc.detail]:
        # the client gets the text without its paths; the log keeps them
        log.info("%s on %s %s: %s %s", exc.code, request.method, request.url.path, exc.message,
                 exc.detail or "")
    return problem_for(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return problem(400, "malformed_json", "The request body is not valid JSON",
                           str(err.get("msg", "")))
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        entry: dict[str, Any] = {"field": ".".join(loc), "message": err.get("msg", "")}
        ctx = err.get("ctx") or {}
        if "expected" in ctx:
            entry["allowed"] = str(ctx["expected"])
        errors.append(entry)
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    return problem(422, "invalid_request", "The request is invalid",
                   f"{first['field'] or 'request'}: {first['message']}",
                   field=first["field"], errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    response = problem(exc.status_code, code, str(exc.detail))
    for name, value in (exc.headers or {}).items():  # e.g. Allow on 405
        response.headers[name] = value
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    correlation = secrets.token_hex(6)
    log.error("unexpected error [%s] on %s %s", correlation, request.method, request.url.path,
              exc_info=exc)
    return problem(500, "internal", "Internal error",
                   f"an unexpected error occurred; the service log names it {correlation}",
                   correlation_id=correlation)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ScanletError, _scanlet_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
