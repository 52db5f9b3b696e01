"""The listeners' connection rules, applied by the HTTP and WebSocket protocols themselves.

uvicorn builds one protocol object per accepted connection; :func:`protocol_classes` gives it
subclasses of the ones it would pick (httptools for HTTP/1.1, the websockets sans-I/O
protocol after an upgrade) that add, per connection:

- **Who the peer is**, decided once in ``connection_made`` (security/peer.py) and handed to
  every request and WebSocket of the connection in the ASGI scope's ``state``. The access
  control never reads ``/proc`` at request time, so a client that resets its connection
  right after sending cannot make its owner unknown; a connection without a record is
  foreign.
- **A cap on open connections per peer** (``[limits] max_connections_per_peer``; per OS user
  on loopback, else per address), across all listeners: one more gets 503 and is closed.
- **A header-read timeout** (``[limits] header_timeout``): a request head must be complete
  within that many seconds of the connection's start or of the head's first byte.
- **A body-read idle timeout** (``[limits] body_timeout``): while a request body is still
  coming in and the service is reading it, the client may not pause longer than that.
- **Absolute-form targets** (``GET http://host:port/path HTTP/1.1``): their scheme and
  authority go into the scope (extension ``scanlet.absolute_target``) for the Host check;
  anything else that is not a path (or ``*``) is a 400, and so is a WebSocket handshake in
  absolute form.

Idle keep-alive connections are closed by uvicorn after ``timeout_keep_alive`` (5 s).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

from scanlet.security.peer import PEER_STATE, Peer, decide_peer
from scanlet.security.policy import ABSOLUTE_TARGET

log = logging.getLogger(__name__)

#: The key of a connection's :class:`Slot` in the ASGI scope's ``state``.
SLOT_STATE = "scanlet.connection_slot"

_TOO_MANY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
             b"content-length: 37\r\nconnection: close\r\nretry-after: 5\r\n\r\n"
             b"too many connections from this client")


@dataclass(frozen=True)
class ConnectionLimits:
    """``[limits]`` header_timeout, body_timeout (seconds) and max_connections_per_peer."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    per_peer: int = 256  # 0: unlimited


@dataclass
class Slot:
    """One admitted connection's place in the table; released once when it closes."""

    table: ConnectionTable
    peer: Peer
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.table.release(self.peer)


@dataclass
class ConnectionTable:
    """Open connections per peer, shared by every listener of the service."""

    limit: int
    open: Counter[str] = field(default_factory=Counter)

    def admit(self, peer: Peer) -> Slot | None:
        """A slot for a new connection of ``peer``, or None when it has its fill."""
        if self.limit and self.open[peer.key] >= self.limit:
            return None
        self.open[peer.key] += 1
        return Slot(self, peer)

    def release(self, peer: Peer) -> None:
        self.open[peer.key] -= 1
        if self.open[peer.key] <= 0:
            del self.open[peer.key]


class AbsoluteFormRefused(httptools.HttpParserError):
    """A request target uvicorn should not route (answered 400 by the protocol)."""


def _absolute_target(url: bytes) -> dict[str, str] | None:
    """The scheme and authority of an absolute-form target; None for a path or ``*``."""
    if url.startswith(b"/") or url == b"*":
        return None
    scheme, sep, rest = url.partition(b"://")
    if not sep or not scheme:
        raise AbsoluteFormRefused("the request target is neither a path nor an absolute URL")
    authority = rest
    for stop in (b"/", b"?", b"#"):
        authority = authority.split(stop, 1)[0]
    return {"scheme": scheme.decode("latin-1"), "authority": authority.decode("latin-1")}


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with this module's rules (bound by protocol_classes)."""

    table: ConnectionTable
    limits: ConnectionLimits

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._slot: Slot | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = decide_peer(self.client, self.server)
        self._slot = self.table.admit(peer)
        if self._slot is None:
            log.warning("refused a connection from %s: it already has %d open",
                        peer.key, self.table.limit)
            transport.write(_TOO_MANY)
            transport.close()
            return
        # Each request's scope state is a copy of app_state, and an upgrade hands it to the
        # WebSocket protocol: the record follows the connection wherever it goes.
        self.app_state = {**self.app_state, PEER_STATE: peer, SLOT_STATE: self._slot}
        self._arm_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self._slot is not None:
            self._slot.release()
        super().connection_lost(exc)

    # Timers --------------------------------------------------------------------------------

    def _arm_head(self) -> None:
        if self._head_timer is None and self.limits.header_timeout > 0:
            self._head_timer = self.loop.call_later(self.limits.header_timeout,
                                                    self._head_expired)

    def _head_expired(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            log.info("closed a connection from %s: no complete request head within %s s",
                     self.client, self.limits.header_timeout)
            self.transport.close()

    def _arm_body(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        if self.limits.body_timeout > 0:
            self._body_timer = self.loop.call_later(self.limits.body_timeout,
                                                    self._body_expired)

    def _body_expired(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:  # the service is not reading: the client is not late
            self._arm_body()
            return
        log.info("closed a connection from %s: the request body paused longer than %s s",
                 self.client, self.limits.body_timeout)
        self.transport.close()

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    # Parser callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_head()

    def on_headers_complete(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        target = _absolute_target(self.url)
        upgrade = self.parser.should_upgrade() and self._should_upgrade()
        if target is not None:
            if upgrade:
                raise AbsoluteFormRefused("a WebSocket handshake needs an origin-form target")
            extensions: dict[str, dict[object, object]] = dict(
                self.scope.get("extensions") or {})
            extensions[ABSOLUTE_TARGET] = {k: v for k, v in target.items()}
            self.scope["extensions"] = extensions
        super().on_headers_complete()
        if not upgrade:
            self._arm_body()  # on_message_complete cancels it (at once when there is no body)

    def on_body(self, body: bytes) -> None:
        self._arm_body()
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._cancel_timers()  # the WebSocket protocol has its own pings from here on
        super().handle_websocket_upgrade()


class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol that gives the connection's slot back when it closes."""

    def connection_lost(self, exc: Exception | None) -> None:
        slot = self.app_state.get(SLOT_STATE)
        if isinstance(slot, Slot):
            slot.release()
        super().connection_lost(exc)


def protocol_classes(table: ConnectionTable, limits: ConnectionLimits
                     ) -> tuple[type[GuardedHttpProtocol], type[GuardedWebSocketProtocol]]:
    """The HTTP and WebSocket protocol classes for uvicorn.Config(http=..., ws=...)."""

    class HttpProtocol(GuardedHttpProtocol):
        pass

    HttpProtocol.table = table
    HttpProtocol.limits = limits
    return HttpProtocol, GuardedWebSocketProtocol
