"""Streaming HTTP(S) upload of one file to a target that passed :func:`check_target`.

* ``PUT`` sends the file as the raw body, ``POST`` as ``multipart/form-data`` (the extra
  fields first, then the file part). Both stream the file from disk in 1 MiB chunks with a
  known ``Content-Length``: the file is never read into memory. The multipart body is httpx's
  own streaming encoder (``files=``), which reads the file object lazily and sizes it with
  ``fstat``.
* The connection goes to the pinned :attr:`CheckedTarget.address` (never re-resolved); the
  ``Host`` header is the original host and, for https, :attr:`CheckedTarget.server_hostname`
  is the TLS server name and the name the certificate must match.
* Redirects are never followed (a 3xx is the result); cookies are never sent (a fresh client
  per attempt, no cookie jar use, a caller's ``Cookie`` header is dropped).
* Connection errors and 5xx answers (except 501) are retried with exponential backoff; 4xx
  answers are returned to the caller. ``cancel`` is honoured between attempts and while the
  body is sent (a blocked send is interrupted by shutting the socket down).
* Messages and logs name the target by :meth:`CheckedTarget.safe_url` only: no query string,
  no header values.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal
from urllib.parse import quote

import httpcore
import httpx

from scanlet.errors import InvalidSetting, UploadCancelled, UploadFailed
from scanlet.upload.policy import DEFAULT_PORTS, CheckedTarget

__all__ = ["Progress", "UploadResult", "upload_file"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

CHUNK_SIZE = 1024 * 1024
MAX_BACKOFF = 30.0
RESPONSE_HEADERS = ("content-type", "location", "etag", "content-length")
USER_AGENT = "Scanlet"

# Headers a caller (possibly a web page) may not set: the client owns them.
_REFUSED_HEADERS = frozenset({
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te",
    "trailer", "upgrade", "proxy-connection", "expect", "content-type", "accept-encoding",
})
_DROPPED_HEADERS = frozenset({"cookie", "cookie2"})
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
#: What a header value may hold here: visible ASCII, spaces and tabs (httpx sends ASCII only).
_HEADER_VALUE = re.compile(r"^[\t\x20-\x7e]*$")
_POLL = 0.05  # seconds between cancel checks of the watcher thread


@dataclass(frozen=True)
class UploadResult:
    """The target's final answer (2xx, 3xx or 4xx; 5xx only ends in :class:`UploadFailed`)."""

    status: int
    headers: dict[str, str]  # lower-case names: content-type, location, etag, content-length
    body: bytes  # at most ``response_limit`` bytes
    truncated: bool  # the body was longer than ``response_limit``
    attempts: int
    retried_statuses: list[int] = field(default_factory=list)


class _Cancelled(Exception):
    """Raised inside the body stream when ``cancel`` is set."""


class _Tracker:
    """The sockets of one attempt, so that a cancel can interrupt a blocked send or read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: list[httpcore.NetworkStream] = []
        self.aborted = False

    def add(self, stream: httpcore.NetworkStream) -> None:
        with self._lock:
            self._streams.append(stream)
            aborted = self.aborted
        if aborted:
            _shutdown(stream)

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            streams = list(self._streams)
        for stream in streams:
            _shutdown(stream)


def _shutdown(stream: httpcore.NetworkStream) -> None:
    sock = stream.get_extra_info("socket")
    if isinstance(sock, socket.socket):
        # The plain socket method also for an SSLSocket: wakes a thread blocked in send or
        # recv without touching the TLS object that thread is using.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _TrackedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, tracker: _Tracker) -> None:
        self._inner = inner
        self._tracker = tracker
        tracker.add(self)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _TrackedStream(
            self._inner.start_tls(ssl_context, server_hostname, timeout), self._tracker
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _TrackingBackend(httpcore.NetworkBackend):
    def __init__(self, tracker: _Tracker) -> None:
        self._inner = httpcore.SyncBackend()
        self._tracker = tracker

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        if self._tracker.aborted:
            raise httpcore.ConnectError("cancelled")
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _TrackedStream(stream, self._tracker)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:  # pragma: no cover - never used
        raise httpcore.ConnectError("unix sockets are not used for uploads")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's transport with one HTTP/1.1 connection through a :class:`_TrackingBackend`."""

    def __init__(self, ssl_context: ssl.SSLContext, tracker: _Tracker) -> None:
        super().__init__(verify=ssl_context, trust_env=False, retries=0)
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=1,
            max_keepalive_connections=0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=_TrackingBackend(tracker),
        )


class _Meter:
    """Counts the bytes of each attempt; reports progress without ever going backwards."""

    def __init__(self, progress: Progress | None, cancel: threading.Event | None) -> None:
        self._progress = progress
        self._cancel = cancel
        self.reported = 0
        self.sent = 0
        self.total = 0

    def start(self, total: int) -> int:
        self.sent = 0
        self.total = total
        return total

    def chunk(self, n: int) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise _Cancelled
        self.sent += n
        if self._progress is not None and n and self.sent > self.reported:
            self.reported = self.sent
            self._progress(self.sent, self.total)


class _Body(httpx.SyncByteStream):
    """Wraps a request body: checks ``cancel`` and reports progress per chunk."""

    def __init__(self, chunks: Iterator[bytes] | httpx.SyncByteStream,
                 on_chunk: Callable[[int], None]) -> None:
        self._chunks = chunks
        self._on_chunk = on_chunk

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if chunk:
                self._on_chunk(0)  # raises _Cancelled when cancelled
                yield chunk
                self._on_chunk(len(chunk))


def _file_chunks(fh: BinaryIO, size: int) -> Iterator[bytes]:
    """Exactly ``size`` bytes of ``fh`` from its start, in chunks (a shrinking file fails)."""
    fh.seek(0)
    left = size
    while left > 0:
        chunk = fh.read(min(CHUNK_SIZE, left))
        if not chunk:
            raise OSError("the file became shorter while it was uploaded")
        left -= len(chunk)
        yield chunk


def wait_before_retry(attempts: int, backoff: float, cancel: threading.Event | None) -> bool:
    """Wait ``backoff * 2**(attempts-1)`` seconds (at most :data:`MAX_BACKOFF`) before the
    next attempt; True when ``cancel`` was set meanwhile."""
    delay = min(backoff * 2 ** (attempts - 1), MAX_BACKOFF)
    if cancel is not None:
        return cancel.wait(delay)
    time.sleep(delay)
    return False


def check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The caller's headers to send; refuses the ones the client owns, drops cookies."""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise InvalidSetting("An upload header name is not a valid HTTP token",
                                 setting="headers")
        lower = name.lower()
        if lower in _DROPPED_HEADERS:
            continue
        if lower in _REFUSED_HEADERS:
            raise InvalidSetting(f"The upload header {name!r} may not be set",
                                 setting="headers", header=lower)
        if not isinstance(value, str) or not _HEADER_VALUE.match(value):
            # Never echo the value: it may be a credential.
            raise InvalidSetting(f"The value of the upload header {name!r} is not valid: "
                                 "visible ASCII characters, spaces and tabs only",
                                 setting="headers", header=lower)
        kept[name] = value
    return kept


def check_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """The caller's extra form fields, checked (non-empty names without control characters,
    text values)."""
    for name, value in fields.items():
        if not isinstance(name, str) or not isinstance(value, str) or not name \
                or _has_control(name):
            raise InvalidSetting("Upload form fields must be non-empty names without control "
                                 "characters, with text values", setting="fields")
    return dict(fields)


def check_part_names(field_name: str, file_name: str) -> None:
    """Refuses a file part's field or file name that a multipart header cannot carry as it
    is: empty, or with control characters (parsers would see a tab as ``%09``); a file name
    also without path separators, which receivers might act on."""
    if not field_name or _has_control(field_name):
        raise InvalidSetting("Invalid upload field name", setting="field_name")
    if not file_name.strip() or _has_control(file_name) or any(c in file_name for c in "/\\"):
        raise InvalidSetting("Invalid upload file name: no control characters or slashes",
                             setting="file_name")


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _host_header(target: CheckedTarget) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    if target.port == DEFAULT_PORTS.get(target.scheme):
        return host
    return f"{host}:{target.port}"


def _ssl_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    return httpx.create_ssl_context(verify=verify, trust_env=False)


def upload_file(
    path: Path,
    target: CheckedTarget,
    *,
    method: Literal["POST", "PUT"],
    field_name: str = "file",
    file_name: str | None = None,
    content_type: str = "application/octet-stream",
    fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    retries: int = 3,
    backoff: float = 0.5,
    timeout: float = 60.0,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    response_limit: int = 64 * 1024,
    verify: ssl.SSLContext | bool = True,
) -> UploadResult:
    """Upload ``path`` to ``target``; see the module docstring.

    ``retries`` is the number of attempts after the first; the wait before retry *n* is
    ``backoff * 2**(n-1)`` seconds, at most :data:`MAX_BACKOFF`. ``progress(sent, total)`` is
    called as body chunks are sent (``total`` is the body size, multipart framing included),
    with ``sent`` never decreasing, also across retries, and ending at ``total``.

    Raises :class:`InvalidSetting` (bad arguments or headers), :class:`UploadCancelled`,
    :class:`UploadFailed` (5xx other than 501, or no connection, after every retry) and
    :class:`OSError` when the file cannot be read.
    """
    if method not in ("POST", "PUT"):
        raise InvalidSetting("The upload method must be POST or PUT", setting="method")
    if target.scheme not in ("http", "https"):
        raise InvalidSetting("This uploader sends only http(s)", setting="target")
    if retries < 0 or backoff < 0 or timeout <= 0 or response_limit < 0:
        raise InvalidSetting("Invalid upload retry, timeout or limit settings",
                             setting="retries")
    name = file_name if file_name is not None else path.name
    check_part_names(field_name, name)
    if _has_control(content_type) or not content_type.isascii():
        raise InvalidSetting("Invalid upload content type", setting="content_type")
    send_headers = check_headers(headers or {})
    form = check_fields(fields or {})
    ssl_context = _ssl_context(verify) if target.tls else None
    safe = target.safe_url()
    host = f"[{target.address}]" if ":" in target.address else target.address
    url = httpx.URL(scheme=target.scheme, host=host, port=target.port,
                    raw_path=_ascii(target.request_target).encode("ascii"))
    extensions: dict[str, Any] = {"timeout": httpx.Timeout(timeout).as_dict()}
    if target.tls and target.server_hostname:
        extensions["sni_hostname"] = target.server_hostname

    meter = _Meter(progress, cancel)

    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    def stop() -> UploadCancelled:
        log.info("upload to %s cancelled", safe)
        return UploadCancelled("The upload was cancelled", target=safe)

    retried: list[int] = []
    attempts = 0
    with path.open("rb") as fh:
        while True:
            if cancelled():
                raise stop()
            attempts += 1
            tracker = _Tracker()
            base = {"Host": _host_header(target), "User-Agent": USER_AGENT,
                    "Accept-Encoding": "identity", **send_headers}
            if method == "PUT":
                total = meter.start(_file_size(fh))
                request = httpx.Request(
                    "PUT", url,
                    headers={**base, "Content-Type": content_type,
                             "Content-Length": str(total)},
                    stream=_Body(_file_chunks(fh, total), meter.chunk),
                    extensions=extensions,
                )
            else:
                request = httpx.Request(
                    "POST", url, headers=base, data=form,
                    files={field_name: (name, fh, content_type)},
                    extensions=extensions,
                )
                length = request.headers.get("content-length")
                if length is None:  # pragma: no cover - httpx sizes real files with fstat
                    raise OSError("cannot determine the size of the file to upload")
                total = meter.start(int(length))
                assert isinstance(request.stream, httpx.SyncByteStream)
                request.stream = _Body(request.stream, meter.chunk)

            outcome = _attempt(request, ssl_context, tracker, cancel, response_limit)
            # An answer that arrived is returned even if cancel was set meanwhile: the target
            # has the file. A broken connection while cancelled is the cancel.
            if isinstance(outcome, _Cancelled) or (
                    isinstance(outcome, httpx.TransportError) and cancelled()):
                raise stop()
            if isinstance(outcome, httpx.TransportError):
                problem: dict[str, Any] = {"reason": "connection",
                                           "error": type(outcome).__name__}
                log.warning("upload to %s: attempt %d failed (%s)", safe, attempts,
                            type(outcome).__name__)
            else:
                status, resp_headers, body, truncated = outcome
                if not (500 <= status <= 599 and status != 501):
                    log.info("upload to %s: status %d after %d attempt(s)", safe, status,
                             attempts)
                    return UploadResult(status=status, headers=resp_headers, body=body,
                                        truncated=truncated, attempts=attempts,
                                        retried_statuses=retried)
                problem = {"status": status}
                log.warning("upload to %s: attempt %d answered %d", safe, attempts, status)
            if attempts > retries:
                why = (f"status {problem['status']}" if "status" in problem
                       else "no connection")
                raise UploadFailed(
                    f"Upload to {safe} failed after {attempts} attempt(s): {why}",
                    target=safe, attempts=attempts, **problem,
                )
            if "status" in problem:
                retried.append(problem["status"])
            if wait_before_retry(attempts, backoff, cancel):
                raise stop()


def _ascii(text: str) -> str:
    """The request target with non-ASCII characters percent-encoded (as UTF-8)."""
    return "".join(c if c.isascii() else quote(c, safe="") for c in text)


def _file_size(fh: BinaryIO) -> int:
    return os.fstat(fh.fileno()).st_size


_Answer = tuple[int, dict[str, str], bytes, bool]


def _attempt(
    request: httpx.Request,
    ssl_context: ssl.SSLContext | None,
    tracker: _Tracker,
    cancel: threading.Event | None,
    response_limit: int,
) -> _Answer | httpx.TransportError | _Cancelled:
    """One request on a fresh client: the answer, or the connection error / cancel."""
    done = threading.Event()
    watcher: threading.Thread | None = None
    if cancel is not None:
        def watch() -> None:
            # Waits on ``done``, not on ``cancel``: the join after the request returns at once
            # instead of at the end of a poll interval (which cost up to 50 ms an upload).
            while not done.wait(_POLL):
                if cancel.is_set():
                    tracker.abort()
                    return

        watcher = threading.Thread(target=watch, name="upload-cancel", daemon=True)
        watcher.start()
    # Plain http never uses the context: a bare one avoids loading a trust store per attempt.
    transport = _PinnedTransport(ssl_context or ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), tracker)
    try:
        with httpx.Client(transport=transport, follow_redirects=False, trust_env=False) as client:
            response = client.send(request, stream=True)
            try:
                body = bytearray()
                truncated = False
                for chunk in response.iter_raw():
                    room = response_limit - len(body)
                    if len(chunk) > room:
                        body += chunk[:room]
                        truncated = True
                        break
                    body += chunk
                picked = {k: response.headers[k] for k in RESPONSE_HEADERS
                          if k in response.headers}
                return response.status_code, picked, bytes(body), truncated
            finally:
                response.close()
    except _Cancelled as exc:
        return exc
    except httpx.TransportError as exc:
        return exc
    except Exception:
        if tracker.aborted:  # a cancel broke the connection in some other way
            return _Cancelled()
        raise
    finally:
        done.set()
        if watcher is not None:
            watcher.join()
