"""The JSON-lines protocol between the service and a worker process.

- The handshake: the service's first line on the worker's stdin is one JSON object
  (:func:`send_hello`, :func:`read_hello`). Secrets (a PDF's password, the cache key) travel
  there, never in argv, which ``ps`` shows to every user.
- Events: one JSON object per line (:func:`dumps_line`) on a private copy of the worker's
  stdout (:func:`claim_stdout`: fd 1 itself is pointed at stderr, so a C library printing to
  stdout cannot corrupt the protocol).
- Requests in: :func:`read_line` / :func:`iter_lines` on the worker's stdin; events out from
  any thread through a :class:`LineWriter`.
- The service reads them with a :class:`LineReader` thread (or, in the asyncio service, an
  :class:`AsyncLineReader` task) into a queue (None at the end).

A line that is not a JSON object is parsed as a :data:`GARBAGE` event (:func:`parse_line`);
what that means is the caller's decision.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

log = logging.getLogger(__name__)

#: Longest line read (a longer one is cut; the event then does not parse).
LINE_LIMIT = 1 << 16
#: The ``ev`` of a line that is not a JSON object (:func:`parse_line`).
GARBAGE = "garbage"


def dumps_line(message: dict[str, Any]) -> bytes:
    """``message`` as one protocol line (compact JSON and a newline)."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def parse_line(line: bytes) -> dict[str, Any]:
    """One line as an event; a line that is not a JSON object becomes
    ``{"ev": "garbage", "line": <the start of it>}`` (the caller decides what that means)."""
    try:
        event = json.loads(line)
    except ValueError:
        return {"ev": GARBAGE, "line": line[:200].decode(errors="replace")}
    return event if isinstance(event, dict) else {"ev": GARBAGE, "line": repr(event)[:200]}


def is_garbage(event: dict[str, Any]) -> bool:
    """Whether ``event`` is :func:`parse_line`'s stand-in for a line that was no object."""
    return event.get("ev") == GARBAGE


def read_line(stream: IO[bytes], limit: int = LINE_LIMIT) -> dict[str, Any] | None:
    """The next line of ``stream`` parsed (:func:`parse_line`); None at its end."""
    line = stream.readline(limit)
    return parse_line(line) if line else None


def iter_lines(stream: IO[bytes], limit: int = LINE_LIMIT) -> Iterator[dict[str, Any]]:
    """Every further line of ``stream`` parsed (:func:`parse_line`), until its end."""
    while (message := read_line(stream, limit)) is not None:
        yield message


def send_hello(stream: IO[bytes], hello: dict[str, Any]) -> None:
    """The service's side of the handshake: the first line on the worker's stdin."""
    stream.write(dumps_line(hello))
    stream.flush()


def read_hello(stream: IO[bytes]) -> dict[str, Any] | None:
    """The worker's side of the handshake: the first stdin line as a JSON object; None when
    the service sent nothing usable (it went away, or the line is not an object)."""
    hello = read_line(stream)
    return None if hello is None or is_garbage(hello) else hello


def claim_stdout(buffering: int = 0) -> IO[bytes]:
    """In a worker: the protocol stream, a private copy of fd 1, with fd 1 itself (and
    ``sys.stdout``) pointed at stderr."""
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "wb", buffering=buffering)


class LineWriter:
    """The worker's side: writes each message as one line (:func:`dumps_line`) and flushes;
    thread-safe, so a worker's threads can all send events."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = dumps_line(message)
        with self._lock:
            self._stream.write(data)
            self._stream.flush()


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


class AsyncLineReader:
    """:class:`LineReader` for the asyncio service: a task that reads a worker's events
    (``asyncio.StreamReader``, whose own limit bounds a line) into :attr:`events` and puts
    None when the stream ends; a stream that fails (a line over the limit, a broken pipe) is
    logged through ``logger`` and ends like a closed one."""

    def __init__(self, stream: asyncio.StreamReader, *, name: str,
                 logger: logging.Logger = log, prefix: str = "") -> None:
        self.events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._logger = logger
        self._prefix = prefix
        self.task = asyncio.create_task(self._read(stream), name=name)

    async def _read(self, stream: asyncio.StreamReader) -> None:
        try:
            while line := await stream.readline():
                self.events.put_nowait(parse_line(line))
        except (ValueError, ConnectionError) as exc:  # over-long line, broken pipe
            self._logger.error("%sprotocol stream failed: %s", self._prefix, exc)
        finally:
            self.events.put_nowait(None)
