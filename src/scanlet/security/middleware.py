"""ASGI middleware that applies the access policy before any route runs.

It reads the raw headers (never a rebuilt URL, never X-Forwarded-*), answers CORS preflights,
refuses (or closes a WebSocket handshake with 403), caps request bodies while they stream in,
rate-limits scans and OCR tasks per client, and adds the security headers to every answer.

What a refusal looks like is not decided here: the app factory (``scanlet.app_factory``)
passes an ``error_format`` that picks, per request path, the :class:`ErrorFormat` of the API
that serves the path (problem+json for ``/v1``, the reference's body for the compatibility
API), so this layer imports neither API.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

from starlette.responses import Response

from scanlet.errors import AccessError, PayloadTooLarge, RateLimited, ScanletError
from scanlet.security.origins import parse_origin
from scanlet.security.peer import same_user
from scanlet.security.policy import (
    ABSOLUTE_TARGET,
    ALLOWED_METHODS,
    ALLOWED_REQUEST_HEADERS,
    EXPOSED_HEADERS,
    LEGACY_PRODUCT_KEY_HEADER,
    PRODUCT_KEY_HEADER,
    SAFE_METHODS,
    WS_PROTOCOL,
    WS_TOKEN_PROTOCOL,
    AccessPolicy,
    Facts,
    classify,
    rate_limited_action,
)
from scanlet.security.ratelimit import RateLimiter

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class ErrorFormat:
    """How the middleware's refusals look on the paths of one API."""

    #: The answer for an error (status, headers and body in the API's own format).
    render: Callable[[ScanletError], Response]
    #: A refusal may carry the CORS headers a page needs to read it (the native API).
    cors: bool = True
    #: A 401 carries ``WWW-Authenticate: Bearer`` (the native API).
    challenge: bool = True


#: Chooses the error format for a request path (given by the app factory).
ErrorFormatFor = Callable[[str], ErrorFormat]

_HTML_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
             "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def read_facts(scope: Scope) -> tuple[Facts, dict[str, list[str]]]:
    """The request facts, from the raw header list (every value, duplicates kept)."""
    headers: dict[str, list[str]] = {}
    for raw_name, raw_value in scope.get("headers", []):
        headers.setdefault(raw_name.decode("latin-1").lower(), []).append(
            raw_value.decode("latin-1"))
    websocket = scope["type"] == "websocket"
    server = scope.get("server") or ("", 0)
    raw_scheme = str(scope.get("scheme") or "http")
    scheme = {"ws": "http", "wss": "https"}.get(raw_scheme, raw_scheme)
    tokens = [p[len(WS_TOKEN_PROTOCOL):] for p in scope.get("subprotocols", [])
              if p.startswith(WS_TOKEN_PROTOCOL)] if websocket else []
    length = (headers.get("content-length") or ["0"])[0].strip()
    facts = Facts(
        method="GET" if websocket else scope["method"],
        path=scope.get("path", ""),
        scheme=scheme,
        port=int(server[1] or 0),
        hosts=headers.get("host", []),
        origins=headers.get("origin", []),
        authorization=headers.get("authorization", []),
        product_keys=[*headers.get(PRODUCT_KEY_HEADER, []),
                      *headers.get(LEGACY_PRODUCT_KEY_HEADER, [])],
        content_type=_first(headers, "content-type"),
        has_body=bool(headers.get("transfer-encoding")) or length not in ("", "0"),
        fetch_site=_first(headers, "sec-fetch-site"),
        fetch_mode=_first(headers, "sec-fetch-mode"),
        websocket=websocket,
        ws_tokens=tokens,
        absolute_target=absolute_target(scope),
    )
    return facts, headers


def absolute_target(scope: Scope) -> tuple[str, str] | None:
    """The scheme and authority of an absolute-form request target (``GET http://host:port/
    HTTP/1.1``), which the HTTP protocol (service/connections.py) records in the scope."""
    target = (scope.get("extensions") or {}).get(ABSOLUTE_TARGET)
    if not isinstance(target, dict):
        return None
    return str(target.get("scheme", "")), str(target.get("authority", ""))


def _first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


class AccessControl:
    """Wraps the app: nothing reaches a route unless the policy allows it."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy, *, error_format: ErrorFormatFor,
                 max_body_bytes: int, max_file_bytes: int, scans_per_minute: int,
                 ocr_tasks_per_minute: int | None = None) -> None:
        self.app = app
        self.policy = policy
        self.error_format = error_format
        self.max_body = max_body_bytes
        self.max_file = max_file_bytes
        if ocr_tasks_per_minute is None:
            ocr_tasks_per_minute = policy.settings.ocr_tasks_per_minute
        #: Per-client token buckets of the expensive requests (see policy.rate_limited_action).
        self.limiters = {"scan": RateLimiter(scans_per_minute),
                         "ocr": RateLimiter(ocr_tasks_per_minute),
                         "upload": RateLimiter(policy.settings.upload_tasks_per_minute)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        facts, headers = read_facts(scope)
        if not facts.websocket and facts.method == "OPTIONS" \
                and "access-control-request-method" in headers:
            await self._preflight(scope, receive, send, facts, headers)
            return
        route = classify(facts.method, facts.path)
        if self.policy.claims_own(facts) or route.kind == "compat":
            facts = replace(facts, peer_trusted=same_user(scope))
        compat_body: list[Message] | None = None
        if route.kind == "compat" and not facts.websocket and facts.has_body \
                and not facts.authorization and not [k for k in facts.product_keys if k.strip()]:
            # The reference's older clients send the key as the JSON body's "license" field.
            compat_body = await self._read_body(headers, receive)
            if compat_body is None:
                too_large = PayloadTooLarge(f"at most {self.max_body} bytes",
                                            limit=self.max_body)
                await self._refuse(scope, receive, send, too_large, None)
                return
            license_key = body_license(compat_body)
            if license_key:
                facts = replace(facts, product_keys=[license_key])
        try:
            verdict = self.policy.decide(facts)
            action = rate_limited_action(facts.method, facts.path)
            if action is not None:
                wait = self.limiters[action.name].take(verdict.principal.id or "anonymous")
                if wait:
                    raise RateLimited(f"too many {action.what} started; wait a little",
                                      retry_after=max(1, round(wait)), action=action.name)
        except AccessError as exc:
            log.info("refused %s %s: %s (%s)", facts.method, facts.path[:200], exc.code,
                     exc.message)
            await self._refuse(scope, receive, send, exc, self._public_cors(facts))
            return
        scope.setdefault("state", {})["principal"] = verdict.principal
        if facts.websocket:
            await self.app(scope, receive, self._ws_send(scope, send))
            return
        wrapped_send = self._http_send(facts, verdict.cors_origin, send)
        if compat_body is not None:
            await self.app(scope, _replay(compat_body, receive), wrapped_send)
            return
        if facts.method in SAFE_METHODS or not facts.has_body:
            await self.app(scope, receive, wrapped_send)
            return
        if route.binary:
            # Files stream through to the route (which spools them to disk); the cap is
            # enforced as the bytes arrive.
            await self.app(scope, _capped(receive, self.max_file), wrapped_send)
            return
        body = await self._read_body(headers, receive)
        if body is None:
            too_large = PayloadTooLarge(f"at most {self.max_body} bytes", limit=self.max_body)
            await self._refuse(scope, receive, send, too_large, verdict.cors_origin)
            return
        await self.app(scope, _replay(body, receive), wrapped_send)

    def _public_cors(self, facts: Facts) -> str | None:
        """Refusals on public routes stay readable by the page (it needs the error code)."""
        if classify(facts.method, facts.path).kind != "public" or len(facts.origins) != 1:
            return None
        return parse_origin(facts.origins[0])

    async def _read_body(self, headers: dict[str, list[str]], receive: Receive) -> list[Message]\
            | None:
        """The whole body (as the messages that carried it), or None once it exceeds the cap."""
        try:
            declared = int((headers.get("content-length") or ["0"])[0])
        except ValueError:
            declared = 0
        if declared > self.max_body:
            return None
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            if size > self.max_body:
                return None
            if not message.get("more_body", False):
                return messages

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: AccessError,
                      cors_origin: str | None) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": exc.code})
            return
        facts, _ = read_facts(scope)
        fmt = self.error_format(facts.path)
        response = fmt.render(exc)
        if fmt.challenge and exc.http_status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="scanlet"'
        await response(scope, receive,
                       self._http_send(facts, cors_origin if fmt.cors else None, send))

    async def _preflight(self, scope: Scope, receive: Receive, send: Send, facts: Facts,
                         headers: dict[str, list[str]]) -> None:
        requested = [h.strip().lower() for value in headers.get(
            "access-control-request-headers", []) for h in value.split(",") if h.strip()]
        method = headers["access-control-request-method"][0].strip().upper()
        try:
            origin = self.policy.preflight(
                Facts(**{**facts.__dict__, "method": method}), requested)
        except AccessError as exc:
            log.info("refused preflight %s %s: %s", method, facts.path[:200], exc.code)
            await self._refuse(scope, receive, send, exc, None)
            return
        out = [
            (b"access-control-allow-origin", origin.encode()),
            (b"vary", b"Origin"),
            (b"access-control-allow-methods", ", ".join(ALLOWED_METHODS).encode()),
            (b"access-control-allow-headers", ", ".join(ALLOWED_REQUEST_HEADERS).encode()),
            (b"access-control-max-age", b"600"),
            (b"content-length", b"0"),
            (b"cache-control", b"no-store"),
        ]
        if [v.strip().lower() for v in headers.get("access-control-request-private-network",
                                                   [])] == ["true"]:
            out.append((b"access-control-allow-private-network", b"true"))
        await send({"type": "http.response.start", "status": 204, "headers": out})
        await send({"type": "http.response.body", "body": b""})

    def _http_send(self, facts: Facts, cors_origin: str | None, send: Send) -> Send:
        api = facts.path.startswith("/v1/") and facts.path not in ("/v1/docs",)

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _secure_headers(list(message.get("headers", [])), api,
                                                     cors_origin)
            await send(message)

        return wrapped

    def _ws_send(self, scope: Scope, send: Send) -> Send:
        offered = scope.get("subprotocols", [])

        async def wrapped(message: Message) -> None:
            if message["type"] == "websocket.accept" and not message.get("subprotocol") \
                    and WS_PROTOCOL in offered:
                message["subprotocol"] = WS_PROTOCOL
            await send(message)

        return wrapped


def _secure_headers(headers: list[tuple[bytes, bytes]], api: bool,
                    cors_origin: str | None) -> list[tuple[bytes, bytes]]:
    names = {name.lower() for name, _ in headers}

    def add(name: bytes, value: bytes) -> None:
        if name not in names:
            headers.append((name, value))
            names.add(name)

    add(b"x-content-type-options", b"nosniff")
    content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
    if content_type.startswith(b"text/html"):
        add(b"content-security-policy", _HTML_CSP.encode())
        add(b"x-frame-options", b"DENY")
        add(b"cache-control", b"no-store")
        # Not no-referrer: under it a browser sends "Origin: null" with the page's own form
        # posts, and the consent decision needs Scanlet's origin. Nothing leaves the origin.
        add(b"referrer-policy", b"same-origin")
        # The page that opened the consent window gets no handle on it.
        add(b"cross-origin-opener-policy", b"same-origin")
    add(b"referrer-policy", b"no-referrer")
    if api:
        add(b"cache-control", b"no-store")
        add(b"cross-origin-resource-policy", b"same-origin")
        add(b"vary", b"Origin")
    if cors_origin is not None:
        headers.append((b"access-control-allow-origin", cors_origin.encode()))
        headers.append((b"access-control-expose-headers", ", ".join(EXPOSED_HEADERS).encode()))
        add(b"vary", b"Origin")
    return headers


def body_license(messages: list[Message]) -> str | None:
    """The ``license`` field of a JSON object body, whatever its Content-Type says."""
    raw = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    value = data.get("license") if isinstance(data, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out the buffered body first, then the real channel."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _capped(receive: Receive, limit: int) -> Receive:
    """A receive that raises PayloadTooLarge (a 413 problem) once the body passes ``limit``."""
    seen = 0

    async def guarded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"files may have at most {limit} bytes", limit=limit)
        return message

    return guarded
