"""Log relay: a worker logs JSON lines to stderr (:func:`setup_child_logging`, and
:func:`set_child_log_level` when the service's level changes); the service re-logs each at its
level under a logger of its own (:func:`relay_stream` while the worker runs,
:func:`relay_stream_async` in the asyncio service, :func:`relog_file` for a worker whose stderr
went to a file), so a worker's records land in the service's log with the service's format and
level filter. A :class:`StderrTail` keeps the last lines for a crash report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
from collections import deque
from pathlib import Path
from typing import IO, Any

#: Bytes of a worker's log file re-logged at most (its end).
LOG_TAIL = 256 * 1024
#: Level names a worker accepts when the service's level changes.
CHILD_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class JsonLogFormatter(logging.Formatter):
    """``{"level", "logger", "msg"}`` per record, the traceback appended to ``msg``."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return json.dumps({"level": record.levelname, "logger": record.name, "msg": message})


def setup_child_logging(level: str) -> None:
    """In a worker: every record as a JSON line on stderr, at ``level`` (PIL's chatter at
    INFO at least)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    logging.getLogger().handlers[:] = [handler]
    _set_level(level)


def _set_level(level: str) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    logging.getLogger("PIL").setLevel(max(logging.INFO, root.level))


def set_child_log_level(level: str) -> bool:
    """In a worker: log at ``level`` from now on (the service's level changed); False, and
    nothing changes, for a name not in :data:`CHILD_LEVELS`. The worker says so itself,
    under its own logger."""
    if level not in CHILD_LEVELS:
        return False
    _set_level(level)
    return True


class StderrTail:
    """The last lines of a worker's stderr, for a crash report: :attr:`output` holds its log
    records (``LEVEL logger: msg``) and other text alike, :attr:`faults` only the text that
    was no log record (the tracebacks faulthandler prints, a C library's messages)."""

    def __init__(self, output: int = 40, faults: int = 400) -> None:
        self.output: deque[str] = deque(maxlen=output)
        self.faults: deque[str] = deque(maxlen=faults)

    def add(self, text: str, record: dict[str, Any] | None) -> None:
        if record is None:
            self.faults.append(text)
            self.output.append(text)
        else:
            self.output.append(f"{record['level']} {record.get('logger')}: "
                               f"{record.get('msg')}")


def relog_line(text: str, logger: logging.Logger, prefix: str = "", *,
               other_level: int = logging.WARNING, tail: StderrTail | None = None) -> bool:
    """Log one line of a worker's stderr through ``logger``: a JSON record at its level, any
    other text (faulthandler, a C library) at ``other_level``; ``tail`` keeps it. True when
    it was a JSON record."""
    record: dict[str, Any] | None
    try:
        record = json.loads(text)
        if not isinstance(record, dict):
            raise TypeError("not a record")
        level = logging.getLevelName(str(record["level"]))
        message = f"{prefix}{record.get('logger')}: {record.get('msg')}"
    except (ValueError, KeyError, TypeError):
        record = None
    if tail is not None and (record is not None or text.strip()):
        tail.add(text, record)
    if record is None:
        if text.strip():
            logger.log(other_level, "%s%s", prefix, text)
        return False
    logger.log(level if isinstance(level, int) else logging.INFO, "%s", message)
    return True


def relog_file(path: Path, logger: logging.Logger, *, tail: int = LOG_TAIL) -> None:
    """Re-log a worker's log file (its last ``tail`` bytes) line by line (:func:`relog_line`)."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - tail))
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return
    for line in lines:
        relog_line(line, logger)


def _relog_bytes(line: bytes, logger: logging.Logger, prefix: str, **options: Any) -> None:
    relog_line(line.decode("utf-8", "replace").rstrip("\n"), logger, prefix, **options)


def relay_stream(stream: IO[bytes], logger: logging.Logger, *, prefix: str = "",
                 name: str = "log-relay", other_level: int = logging.WARNING,
                 tail: StderrTail | None = None) -> threading.Thread:
    """Re-log a running worker's stderr line by line (:func:`relog_line`) from a daemon
    thread, until the stream ends; returns the thread."""
    def relay() -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in iter(stream.readline, b""):
                _relog_bytes(line, logger, prefix, other_level=other_level, tail=tail)

    thread = threading.Thread(target=relay, name=name, daemon=True)
    thread.start()
    return thread


def relay_stream_async(stream: asyncio.StreamReader, logger: logging.Logger, *,
                       prefix: str = "", name: str = "log-relay",
                       other_level: int = logging.WARNING,
                       tail: StderrTail | None = None) -> asyncio.Task[None]:
    """:func:`relay_stream` for the asyncio service: a task instead of a thread."""
    async def relay() -> None:
        with contextlib.suppress(ValueError, ConnectionError):
            while line := await stream.readline():
                _relog_bytes(line, logger, prefix, other_level=other_level, tail=tail)

    return asyncio.create_task(relay(), name=name)
