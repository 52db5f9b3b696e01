"""Logging of the service process: ``log/scanlet.log`` (rotating) and stderr.

- Files rotate at ``[log] max_mb`` and keep ``[log] backups`` old files (``scanlet.log.1`` is
  the newest); with ``backups = 0`` the one file is emptied when it is full.
- ``[log] format``: ``text`` (one record per line; the continuation lines of a multi-line
  record, such as a traceback, are indented so no message can pose as a record of its own) or
  ``json`` (one object per line: ``time`` in ISO 8601 UTC, ``level``, ``logger``, ``message``,
  the record's extra fields such as ``method``/``path``/``status``/``duration_ms``/``client``,
  and ``exc_info`` as text).
- The level is ``[log] level`` at start and can be changed while the service runs
  (:func:`set_level`, ``PUT /v1/admin/log``); it applies to Scanlet's own loggers (and the scan
  workers' logs), other libraries stay at INFO or above, and those of :data:`QUIET_LOGGERS`
  (httpx, httpcore, PIL, asyncio, ...) at WARNING or above.
- Secrets never reach a handler: every handler has a :class:`RedactingFilter` that masks site
  tokens (``slt_…``), API keys (``slk_…``), ``Bearer``/``Basic`` credentials, product-key,
  PDF- and document-password and cookie header values, values named ``secret``, ``nonce``,
  ``token``, ``password``, ``key`` (``key=…`` or ``"key": …``), pairing codes, the query
  values and the password of every URL with a scheme
  (``https://u:***@host/p?X-Amz-Signature=***``; the request log masks the query of a
  request path itself), and literal secrets registered with :func:`add_secret` (the cache
  key); a bytes argument longer than :data:`MAX_BYTES_SHOWN`
  becomes ``<N bytes>``. The formatters mask the rendered line once more.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import logging.handlers
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanlet.errors import InvalidSetting

#: Levels the config and the API accept.
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("text", "json")
FILE_NAME = "scanlet.log"
#: Bytes arguments up to this length are logged as they are; longer ones as ``<N bytes>``.
MAX_BYTES_SHOWN = 64
MASK = "***"

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Libraries whose INFO and DEBUG lines carry request details (httpx logs every request's full
#: URL, a presigned upload URL's signature included) or only noise: WARNING and above.
QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "h11", "h2", "multipart", "python_multipart",
                 "PIL", "asyncio", "websockets", "urllib3", "pikepdf")

# -- redaction --------------------------------------------------------------------------------

#: A value ends at white space, quotes, separators or a backslash (so masking a value inside a
#: JSON string never eats an escape).
_VALUE = r"[^\s\"'`,;&<>(){}\[\]\\]+"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # site tokens and API keys, wherever they appear (also in scanlet.bearer.<token>)
    (re.compile(r"(?<![A-Za-z0-9])(sl[tk]_)[A-Za-z0-9_\-]+"), r"\1" + MASK),
    # Authorization values
    (re.compile(r"(?i)\b(bearer|basic)(\s+|%20|\+)" + _VALUE), r"\1\2" + MASK),
    (re.compile(r"(?i)(scanlet\.bearer\.)" + _VALUE), r"\1" + MASK),
    # header values: DWT-PRODUCT-KEY: x, X-PDF-Password: x, (b'authorization', b'Token x')
    (re.compile(r"(?i)\b((?:dwt-product-key|x-dics-license-key|x-pdf-password|"
                r"(?:dwt|x-dics)-(?:doc|source)-password)['\"]?\s*[:=,]\s*(?-i:b)?['\"]?)"
                + _VALUE), r"\1" + MASK),
    # a Cookie or Set-Cookie header: its whole value
    (re.compile(r"(?i)\b((?:set-)?cookie['\"]?\s*[:=,]\s*(?-i:b)?['\"]?)[^\r\n'\"]+"),
     r"\1" + MASK),
    (re.compile(r"(?i)\b(authorization['\"]?\s*[:=,]\s*(?-i:b)?['\"]?"
                r"(?:[A-Za-z]+(?:\s+|%20))?)(?!(?:bearer|basic)\b)" + _VALUE), r"\1" + MASK),
    # name=value and "name": "value" for secret-bearing names
    (re.compile(r"(?i)((?<![A-Za-z0-9_])['\"]?(?:secret|poll_secret|nonce|token|access_token|"
                r"password|passwd|pdf_password|api_key|product_key|cache_key)['\"]?\s*[:=]\s*"
                r"(?-i:b)?['\"]?)" + _VALUE), r"\1" + MASK),
    (re.compile(r"(?i)((?<![A-Za-z0-9_])(?:key\s*=|(?-i:b)?['\"]key['\"]\s*:)\s*(?-i:b)?['\"]?)"
                + _VALUE), r"\1" + MASK),
    # pairing codes ("123 456") where they are named
    (re.compile(r"(?i)(\bcode['\"]?\s*[:=]\s*['\"]?)\d{3} \d{3}\b"), r"\1" + MASK),
    # the password of a URL's user part: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/?#@:\"'<>]*:)[^\s/?#@\"'<>]+@"),
     r"\1" + MASK + "@"),
)
#: A URL with a scheme and a query string (a presigned upload URL carries its signature there).
_URL_QUERY = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s?#\"'<>\\]*\?)([^\s#\"'<>\\]+)")
_QUERY_PART = re.compile(r"([^&;=]*)(=?)[^&;]*")
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def add_secret(value: str | bytes) -> None:
    """Mask this literal value in every log line (bytes: their base64, base64url and hex)."""
    if isinstance(value, bytes):
        forms = {base64.b64encode(value).decode(), base64.urlsafe_b64encode(value).decode(),
                 value.hex()}
        forms |= {f.rstrip("=") for f in forms}
    else:
        forms = {value}
    with _secrets_lock:
        _secrets.update(f for f in forms if len(f) >= 8)


def redact(text: str) -> str:
    """``text`` with every secret Scanlet knows the shape (or the value) of masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    text = _URL_QUERY.sub(_mask_query, text)
    for secret in tuple(_secrets):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _mask_query(match: re.Match[str]) -> str:
    """A URL's query string with every value masked and the parameter names kept (a part
    without ``=`` may be a secret itself, so it is masked whole)."""
    return match.group(1) + _QUERY_PART.sub(
        lambda part: (part.group(1) + "=" + MASK if part.group(2) else MASK)
        if part.group(0) else "", match.group(2))


def _is_binary_text(value: str) -> bool:
    sample = value[:512]
    odd = sum(1 for ch in sample if (ch < " " and ch not in "\t\n\r") or "\x7f" <= ch < "\xa0")
    return odd * 10 > len(sample)


def _safe(value: Any) -> Any:
    """A log argument with payloads replaced by their size."""
    if isinstance(value, bytes | bytearray | memoryview):
        size = value.nbytes if isinstance(value, memoryview) else len(value)
        if size > MAX_BYTES_SHOWN:
            return f"<{size} bytes>"
        return bytes(value) if isinstance(value, memoryview) else value
    if isinstance(value, str) and len(value) > 256 and _is_binary_text(value):
        return f"<{len(value)} characters of binary data>"
    return value


_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName"}


class RedactingFilter(logging.Filter):
    """Renders the message with safe arguments and masks secrets in it, its traceback and
    its extra fields. The record keeps its level, logger and extras (masked)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.__dict__.get("_scanlet_redacted"):
            return True
        args: Any = record.args
        if isinstance(args, tuple):
            args = tuple(_safe(a) for a in args)
        elif isinstance(args, dict):
            args = {k: _safe(v) for k, v in args.items()}
        record.args = args
        record.msg = _safe(record.msg)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: the handler reports it as logging does
            return True
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name in _STANDARD or name.startswith("_"):
                continue
            value = _safe(value)
            if isinstance(value, str):
                value = redact(value)
            elif not isinstance(value, int | float | bool | type(None)):
                value = redact(repr(value))
            record.__dict__[name] = value
        record.__dict__["_scanlet_redacted"] = True
        return True


class NoServerAccessLines(logging.Filter):
    """Drops uvicorn's per-WebSocket lines (``"WebSocket /path?query" [accepted]``,
    ``connection open``/``closed``): the request log (``scanlet.access``) has one line per
    WebSocket, and uvicorn's would carry the query string unmasked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "uvicorn.error" or not isinstance(record.msg, str):
            return True
        return not (record.msg.startswith('%s - "WebSocket %s"')
                    or record.msg in ("connection open", "connection closed"))


# -- formatters -------------------------------------------------------------------------------

#: Control characters (except newline and tab) shown escaped in text lines.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F) if c not in (0x09, 0x0A)}


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``; continuation lines indented, control characters
    escaped, secrets masked."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record)).translate(_CONTROL)
        return text.replace("\n", "\n    ")


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        created = dt.datetime.fromtimestamp(record.created, dt.UTC)
        out: dict[str, Any] = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_") and name not in out:
                out[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc_info"] = record.exc_text
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return redact(json.dumps(out, ensure_ascii=False, default=repr))


def formatter(fmt: str) -> logging.Formatter:
    """The formatter of ``[log] format`` (``text`` or ``json``)."""
    return JsonFormatter() if fmt == "json" else TextFormatter()


class RotatingFile(logging.handlers.RotatingFileHandler):
    """Rotates at ``max_bytes`` keeping ``backups`` old files; with none, empties the file
    (the standard handler would let it grow without bound)."""

    def doRollover(self) -> None:
        if self.backupCount > 0:
            super().doRollover()
            return
        if self.stream:
            self.stream.close()
        self.stream = open(self.baseFilename, "w", encoding=self.encoding)  # noqa: SIM115


# -- set-up and the run-time level ------------------------------------------------------------


@dataclass(frozen=True)
class LogState:
    """What ``GET /v1/admin/log`` shows."""

    level: str
    format: str
    file: Path | None


_format = "text"
_file: Path | None = None


def check_level(level: str) -> str:
    """``level`` in upper case, or InvalidSetting naming the allowed ones."""
    name = str(level).strip().upper()
    if name not in LEVELS:
        raise InvalidSetting(f"log level {str(level)[:20]!r} is not one of {', '.join(LEVELS)}",
                             field="level", allowed=list(LEVELS))
    return name


def set_level(level: str) -> str:
    """Apply ``level`` at once: Scanlet's loggers get it, the root logger (other libraries)
    gets it but never below INFO. Returns the level's name; InvalidSetting if unknown."""
    name = check_level(level)
    number = logging.getLevelName(name)
    logging.getLogger("scanlet").setLevel(number)
    logging.getLogger().setLevel(max(number, logging.INFO))
    return name


def current() -> LogState:
    """The level in force now, the format and the log file (None before :func:`configure`)."""
    level = logging.getLevelName(logging.getLogger("scanlet").getEffectiveLevel())
    return LogState(str(level), _format, _file)


def configure(log_dir: Path, level: str, *, fmt: str = "text", max_mb: int = 5,
              backups: int = 5, file_name: str = FILE_NAME) -> Path:
    """Send Scanlet's logs to ``log_dir/file_name`` (rotating) and to stderr; returns the file.

    Replaces the root logger's handlers, so calling it again (tests) does not duplicate lines.
    """
    global _format, _file
    if fmt not in FORMATS:
        raise InvalidSetting(f"log format {fmt!r} is not one of {', '.join(FORMATS)}",
                             field="format", allowed=list(FORMATS))
    path = log_dir / file_name
    file_handler = RotatingFile(path, maxBytes=max(1, max_mb) * 2**20,
                                backupCount=max(0, backups), encoding="utf-8")
    stream = logging.StreamHandler(sys.stderr)
    root = logging.getLogger()
    for handler in (file_handler, stream):
        handler.setFormatter(formatter(fmt))
        handler.addFilter(NoServerAccessLines())
        handler.addFilter(RedactingFilter())
    old = root.handlers[:]
    root.handlers[:] = [file_handler, stream]
    for previous in old:
        if isinstance(previous, RotatingFile):
            previous.close()
    _format, _file = fmt, path
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    set_level(level)
    return path
