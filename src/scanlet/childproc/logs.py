"""Log relay: a worker logs JSON lines to stderr (:func:`setup_child_logging`); the service
re-logs each at its level under a logger of its own (:func:`relay_stream` while the worker
runs, :func:`relog_file` for a worker whose stderr went to a file), so a worker's records land
in the service's log with the service's format and level filter.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
from pathlib import Path
from typing import IO

#: Bytes of a worker's log file re-logged at most (its end).
LOG_TAIL = 256 * 1024


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
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("PIL").setLevel(max(logging.INFO, root.level))


def relog_line(text: str, logger: logging.Logger, prefix: str = "") -> bool:
    """Log one line of a worker's stderr through ``logger``: a JSON record at its level, any
    other text (faulthandler, a C library) at WARNING. True when it was a JSON record."""
    try:
        record = json.loads(text)
        level = logging.getLevelName(str(record["level"]))
        message = f"{prefix}{record.get('logger')}: {record.get('msg')}"
    except (ValueError, KeyError, TypeError):
        if text.strip():
            logger.warning("%s%s", prefix, text)
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


def relay_stream(stream: IO[bytes], logger: logging.Logger, *, prefix: str = "",
                 name: str = "log-relay") -> threading.Thread:
    """Re-log a running worker's stderr line by line (:func:`relog_line`) from a daemon
    thread, until the stream ends; returns the thread."""
    def relay() -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in iter(stream.readline, b""):
                relog_line(line.decode("utf-8", "replace").rstrip("\n"), logger, prefix)

    thread = threading.Thread(target=relay, name=name, daemon=True)
    thread.start()
    return thread
