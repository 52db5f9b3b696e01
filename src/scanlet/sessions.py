"""Client sessions: a web app's open connection to the service, and the devices it uses.

The reference product starts its scanning module when a web app uses a scanner and stops it
when the app closes. Here a client opens a session (the ``/v1/session`` WebSocket: the session
lasts as long as the socket) and names it when it uses a device (``session`` in a job or a
capabilities request). The device manager keeps that device's scan worker for the session;
when the last session holding a device ends, the worker stops as soon as it is idle rather
than after ``[devices] worker_idle_timeout``. A client that never opens a session gets the
idle timeout alone.

A session belongs to the client that opened it (its principal id): another client cannot use
or end it. The number of open sessions is bounded, for the service and for each client
(``[limits] sessions_per_client``), so that one paired site cannot take every place and
lock out the others and the CLI.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

from scanlet.devices.manager import DeviceManager
from scanlet.errors import InvalidSetting, TooManySessions

log = logging.getLogger(__name__)

#: Open sessions the service keeps at most (each is one WebSocket).
MAX_SESSIONS = 64
SESSION_PREFIX = "ses_"


@dataclass
class _Session:
    owner: str
    devices: set[str] = field(default_factory=set)


class ClientSessions:
    """See the module docstring."""

    def __init__(self, devices: DeviceManager, *, limit: int = MAX_SESSIONS,
                 per_client: int = MAX_SESSIONS) -> None:
        self._devices = devices
        self._limit = limit
        self._per_client = per_client
        self._open: dict[str, _Session] = {}

    def __len__(self) -> int:
        return len(self._open)

    def open(self, owner: str) -> str:
        """A new session of ``owner``; TooManySessions when the service or the owner has its
        fill."""
        mine = sum(1 for session in self._open.values() if session.owner == owner)
        if mine >= self._per_client:
            raise TooManySessions(f"this client already has {self._per_client} sessions open; "
                                  "close one (or reload the page that leaks them)",
                                  limit=self._per_client)
        if len(self._open) >= self._limit:
            raise TooManySessions(f"the service already has {self._limit} client sessions "
                                  "open; close one (or reload the page that leaks them)",
                                  limit=self._limit)
        session_id = SESSION_PREFIX + secrets.token_urlsafe(12)
        self._open[session_id] = _Session(owner)
        log.debug("session %s opened", session_id)
        return session_id

    def use(self, session_id: str, owner: str, device_id: str) -> None:
        """Session ``session_id`` of ``owner`` uses ``device_id`` (its worker stays for it).

        InvalidSetting (field ``session``) for a session that is not open or is another
        client's: the two are not told apart, so ids of others cannot be probed.
        """
        session = self._open.get(session_id)
        if session is None or session.owner != owner:
            raise InvalidSetting(f"no open session {session_id!r} of this client; open one on "
                                 "the /v1/session WebSocket", field="session")
        session.devices.add(device_id)
        self._devices.hold(session_id, device_id)

    def close(self, session_id: str) -> None:
        """The session ended: the devices only it held stop their workers once idle."""
        session = self._open.pop(session_id, None)
        if session is None:
            return
        self._devices.let_go(session_id)
        log.debug("session %s closed (devices: %s)", session_id,
                  ", ".join(sorted(session.devices)) or "none")
