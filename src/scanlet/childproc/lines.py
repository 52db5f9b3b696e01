"""The JSON-lines protocol between the service and a worker process.

- The handshake: the service's first line on the worker's stdin is one JSON object
  (:func:`send_hello`, :func:`read_hello`). Secrets (a PDF's password, the cache key) travel
  there, never in argv, which ``ps`` shows to every user.
- Events: one JSON object per line (:func:`dumps_line`) on a private copy of the worker's
  stdout (:func:`claim_stdout`: fd 1 itself is pointed at stderr, so a C library printing to
  stdout cannot corrupt the protocol).
- The service reads them with a :class:`LineReader` thread into a queue (None at the end).
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
from typing import IO, Any

#: Longest line read (a longer one is cut; the event then does not parse).
LINE_LIMIT = 1 << 16


def dumps_line(message: dict[str, Any]) -> bytes:
    """``message`` as one protocol line (compact JSON and a newline)."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def parse_line(line: bytes) -> dict[str, Any]:
    """One line as an event; a line that is not a JSON object becomes
    ``{"ev": "garbage", "line": <the start of it>}`` (the caller decides what that means)."""
    try:
        event = json.loads(line)
    except ValueError:
        return {"ev": "garbage", "line": line[:200].decode(errors="replace")}
    return event if isinstance(event, dict) else {"ev": "garbage", "line": repr(event)[:200]}


def send_hello(stream: IO[bytes], hello: dict[str, Any]) -> None:
    """The service's side of the handshake: the first line on the worker's stdin."""
    stream.write(dumps_line(hello))
    stream.flush()


def read_hello(stream: IO[bytes]) -> dict[str, Any] | None:
    """The worker's side of the handshake: the first stdin line as a JSON object; None when
    the service sent nothing usable (it went away, or the line is not an object)."""
    line = stream.readline(LINE_LIMIT)
    if not line:
        return None
    try:
        hello = json.loads(line)
    except ValueError:
        return None
    return hello if isinstance(hello, dict) else None


def claim_stdout(buffering: int = 0) -> IO[bytes]:
    """In a worker: the protocol stream, a private copy of fd 1, with fd 1 itself (and
    ``sys.stdout``) pointed at stderr."""
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "wb", buffering=buffering)


class LineReader:
    """The service's side: a daemon thread that reads a worker's events into :attr:`events`
    (parsed with :func:`parse_line`) and puts None when the stream ends."""

    def __init__(self, stream: IO[bytes], *, name: str) -> None:
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True,
                                        name=name)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        try:
            for line in iter(lambda: stream.readline(LINE_LIMIT), b""):
                self.events.put(parse_line(line))
        except (OSError, ValueError):
            pass
        finally:
            self.events.put(None)
