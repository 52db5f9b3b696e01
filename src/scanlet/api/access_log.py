"""The request log: one INFO line on ``scanlet.access`` per HTTP request and per WebSocket.

An ASGI middleware outside the access control, so refused requests are logged too. The line is
written when the answer has been sent (for a WebSocket: when it closes) and carries, as text
and as extra fields (``[log] format = json``): ``method`` (``WS`` for WebSockets), ``path``,
``status`` (a WebSocket: 101 once accepted, 403 when refused at the handshake), ``duration_ms``,
``client``, ``bytes`` (response body) and, for WebSockets, ``close_code``.

- ``path`` is the raw request path with control characters escaped; the query string follows
  with every value masked except those of Scanlet's own harmless parameters
  (:data:`SHOWN_PARAMS`: ``format``, ``quality``, ...); the log's redaction filter masks tokens
  and keys anywhere else. Request and response bodies are never logged.
- ``client`` is the site's origin for paired pages, ``key:<id>`` for API keys, ``self`` for
  Scanlet's own pages; for requests the access control refused, the ``Origin`` header if any,
  else the peer address.

Successful health checks (``GET /v1/health`` answered 200; the monitor polls it every few
seconds) are logged at DEBUG. ``[log] requests = false`` leaves the middleware out. uvicorn's
own access log stays off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

log = logging.getLogger("scanlet.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Query parameters of Scanlet's routes whose values are logged; every other value is masked
#: (a client may add anything, a signature or a password, to a query string).
SHOWN_PARAMS = frozenset({
    "format", "pages", "quality", "progressive", "reencode_jpeg", "tiff_compression", "pdf_a",
    "width", "height", "dpi", "sensitivity", "formats", "region", "type", "timeout",
    "compression", "pagetype"})
#: (path, status) logged at DEBUG: the monitor's health check, every few seconds.
QUIET = frozenset({("/v1/health", 200)})
MAX_TARGET = 300
MAX_CLIENT = 120


def _printable(text: str, limit: int) -> str:
    clipped = text[:limit] + ("…" if len(text) > limit else "")
    return "".join(ch if " " <= ch < "\x7f" or ch > "\x9f" else f"\\x{ord(ch):02x}"
                   for ch in clipped)


def request_target(scope: Scope) -> str:
    """The path as sent (still percent-encoded) and the query with secret values masked."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) and raw else str(scope.get("path", ""))
    path = path.split("?", 1)[0]
    query = scope.get("query_string", b"")
    if query:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        # a part without a value ("?abc") may be a secret itself: masked whole
        masked = [(k, v) if k.lower() in SHOWN_PARAMS else (k, "***") if v else ("***", "")
                  for k, v in pairs]
        path += "?" + urlencode(masked, safe="*,:/")
    return _printable(path, MAX_TARGET)


def client_of(scope: Scope) -> str:
    """Who asked: the principal the access control found, else Origin or the peer address."""
    principal: Any = (scope.get("state") or {}).get("principal")
    kind = getattr(principal, "kind", None)
    if kind == "site" and principal.origin:
        return _printable(str(principal.origin), MAX_CLIENT)
    if kind == "key":
        return f"key:{principal.id}"
    if kind == "self":
        return "self"
    for name, value in scope.get("headers", []):
        if name.lower() == b"origin":
            return _printable(value.decode("latin-1"), MAX_CLIENT)
    peer = scope.get("client")
    if peer:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return "-"


class AccessLog:
    """Wraps the app (outside the access control): see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        websocket = scope["type"] == "websocket"
        start = time.perf_counter()
        state: dict[str, Any] = {"status": None, "bytes": 0, "close": None}

        async def logged_send(message: Message) -> None:
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start"):
                state["status"] = message.get("status")
            elif kind in ("http.response.body", "websocket.http.response.body"):
                state["bytes"] += len(message.get("body", b""))
            elif kind == "websocket.accept":
                state["status"] = 101
            elif kind == "websocket.close":
                if state["status"] is None:
                    state["status"] = 403  # closed before accepting: the handshake is refused
                state["close"] = message.get("code", 1000)
            await send(message)

        async def logged_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect" and state["close"] is None:
                state["close"] = message.get("code", 1005)
            return message

        failed = False
        try:
            await self.app(scope, logged_receive if websocket else receive, logged_send)
        except BaseException:
            failed = True
            raise
        finally:
            self._log(scope, websocket, start, state, failed)

    @staticmethod
    def _log(scope: Scope, websocket: bool, start: float, state: dict[str, Any],
             failed: bool) -> None:
        status = state["status"]
        if status is None:
            status = 500 if failed or not websocket else 403
        level = logging.DEBUG if (scope.get("path"), status) in QUIET else logging.INFO
        if not log.isEnabledFor(level):
            return
        duration = round((time.perf_counter() - start) * 1000, 1)
        method = "WS" if websocket else str(scope.get("method", "-"))
        target = request_target(scope)
        client = client_of(scope)
        extra: dict[str, Any] = {"method": method, "path": target, "status": status,
                                 "duration_ms": duration, "client": client,
                                 "bytes": state["bytes"]}
        if websocket:
            extra["close_code"] = state["close"]
            log.log(level, "%s %s %s %.1f ms %s close %s", method, target, status, duration,
                    client, state["close"], extra=extra)
        else:
            log.log(level, "%s %s %s %.1f ms %s", method, target, status, duration, client,
                    extra=extra)
