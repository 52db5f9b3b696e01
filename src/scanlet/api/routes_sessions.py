"""The client-session WebSocket: a web app holds its devices' scan workers while it is open.

See scanlet/sessions.py. The first message names the session::

    {"type": "session", "id": "ses_...", "worker_idle_timeout": 60}

The client passes that id as ``session`` when it creates a job or reads a device's
capabilities. It may send ``{"type": "ping"}`` (answered ``{"type": "pong"}``); anything else
is ignored. Closing the socket (or the page) ends the session.
"""

from __future__ import annotations

import contextlib
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from scanlet.api.deps import client_key
from scanlet.errors import TooManySessions
from scanlet.service.runtime import Runtime

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
    try:
        await websocket.accept()
        await websocket.send_json({"type": "session", "id": session_id,
                                   "worker_idle_timeout": rt.settings.worker_idle_timeout})
        while True:
            message = await websocket.receive_text()
            if len(message) <= MAX_MESSAGE and _is_ping(message):
                await websocket.send_json({"type": "pong"})
    except WebSocketDisconnect:
        pass
    finally:
        rt.sessions.close(session_id)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()


def _is_ping(message: str) -> bool:
    try:
        value = json.loads(message)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("type") == "ping"
