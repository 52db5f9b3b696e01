"""The client-session WebSocket: a web app holds its devices' scan workers while it is open.

See scanlet/sessions.py. The first message names the session::

    {"type": "session", "id": "ses_...", "worker_idle_timeout": 60}

The client passes that id as ``session`` when it creates a job or reads a device's
capabilities. It may send ``{"type": "ping"}`` (answered ``{"type": "pong"}``); anything else
is ignored. Closing the socket (or the page) ends the session.

When a device listing finds devices added or gone (devices/listing_cache.py), the service
sends ``{"type": "devices_changed", "added": ["sane:..."], "removed": [...]}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from scanlet.api.deps import client_key
from scanlet.core.runtime import Runtime
from scanlet.errors import TooManySessions

router = APIRouter(prefix="/v1/session", tags=["sessions"])

#: Largest client message read (pings are tiny; nothing else is expected).
MAX_MESSAGE = 1024
#: WebSocket close code "try again later" (RFC 6455 registry).
TRY_AGAIN_LATER = 1013


@router.websocket("")
async def session(websocket: WebSocket) -> None:
    """Open a client session for as long as this socket stays open."""
    rt: Runtime = websocket.app.state.runtime
    try:
        session_id = rt.sessions.open(client_key(websocket.scope))
    except TooManySessions as exc:
        await websocket.close(code=TRY_AGAIN_LATER, reason=exc.message[:120])
        return
    events = rt.devices.listing.subscribe()
    sending = asyncio.Lock()
    forward: asyncio.Task[None] | None = None
    try:
        await websocket.accept()
        await websocket.send_json({"type": "session", "id": session_id,
                                   "worker_idle_timeout": rt.settings.worker_idle_timeout})
        forward = asyncio.create_task(_forward(websocket, events, sending))
        while True:
            message = await websocket.receive_text()
            if len(message) <= MAX_MESSAGE and _is_ping(message):
                async with sending:
                    await websocket.send_json({"type": "pong"})
    except WebSocketDisconnect:
        pass
    finally:
        rt.devices.listing.unsubscribe(events)
        if forward is not None:
            forward.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await forward  # a send that failed on the closing socket
        rt.sessions.close(session_id)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()


async def _forward(websocket: WebSocket, events: asyncio.Queue[dict[str, Any]],
                   sending: asyncio.Lock) -> None:
    """Send the device events to the client until the socket closes."""
    while True:
        event = await events.get()
        async with sending:
            await websocket.send_json(event)


def _is_ping(message: str) -> bool:
    try:
        value = json.loads(message)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("type") == "ping"
