"""Streaming FTP / FTPS upload of one file to a target that passed :func:`check_target`.

* ``ftp://`` uses :class:`ftplib.FTP`, ``ftps://`` :class:`ftplib.FTP_TLS` with explicit TLS
  (``AUTH TLS`` before ``USER``/``PASS``, then ``PBSZ 0``/``PROT P`` so the data channel is
  encrypted too).
* The control connection goes to the pinned :attr:`CheckedTarget.address` (never re-resolved);
  for ftps the TLS server name and the name the certificate must match is
  :attr:`CheckedTarget.server_hostname` (``ftplib`` wraps both channels with
  ``server_hostname=self.host``, which is set to it after connecting to the address).
* Passive mode (the default) keeps ``ftplib``'s ``trust_server_pasv_ipv4_address = False``:
  the address in a ``PASV`` reply is ignored and the data connection goes to the control
  connection's peer, i.e. the pinned address (``EPSV`` carries no address at all).
* The file is streamed from disk with ``STOR`` in 64 KiB blocks; ``progress(sent, total)`` is
  called after each block, ``cancel`` is checked before each block (the transfer is aborted with
  ``ABOR`` and the connection closed).
* Connection errors, timeouts and transient ``4xx`` replies are retried with exponential
  backoff; permanent ``5xx`` replies (e.g. ``530`` bad login, ``550`` no such directory) and
  certificate failures fail at once. Messages and logs name the target by
  :meth:`CheckedTarget.safe_url` only and never carry the password.
"""

from __future__ import annotations

import contextlib
import ftplib
import logging
import os
import socket
import ssl
import threading
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote

from scanlet.errors import InvalidSetting, UploadCancelled, UploadFailed
from scanlet.upload.http import Progress, UploadResult, wait_before_retry
from scanlet.upload.policy import CheckedTarget

__all__ = ["upload_ftp"]

log = logging.getLogger(__name__)

BLOCK_SIZE = 64 * 1024
_ABORT_TIMEOUT = 2.0
_BAD_CHARS = ("\r", "\n", "\0")


class _Cancelled(Exception):
    """Raised from inside ``storbinary`` when ``cancel`` is set."""


class _LocalReadError(Exception):
    """The local file could not be read (not a connection problem: never retried)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _Meter:
    """Progress that never goes backwards, also across retries."""

    def __init__(self, progress: Progress | None, cancel: threading.Event | None,
                 total: int) -> None:
        self._progress = progress
        self._cancel = cancel
        self.total = total
        self.sent = 0
        self.reported = 0

    def check(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise _Cancelled

    def block(self, data: bytes) -> None:
        self.sent += len(data)
        if self._progress is not None and data and self.sent > self.reported:
            self.reported = self.sent
            self._progress(self.sent, self.total)
        self.check()


class _Reader:
    """The file, read in blocks of at most ``size`` bytes; checks ``cancel`` before each."""

    def __init__(self, fh: BinaryIO, size: int, meter: _Meter) -> None:
        self._fh = fh
        self._left = size
        self._meter = meter
        fh.seek(0)

    def read(self, n: int = -1) -> bytes:
        self._meter.check()
        if self._left <= 0:
            return b""
        want = self._left if n < 0 else min(n, self._left)
        try:
            data = self._fh.read(want)
        except OSError as exc:
            raise _LocalReadError(exc) from exc
        if not data:
            raise _LocalReadError(OSError("the file became shorter while it was uploaded"))
        self._left -= len(data)
        return data


def _ssl_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _split_path(target: CheckedTarget) -> tuple[str, str]:
    """(directory relative to the login directory, last segment) of the URL path, decoded."""
    path = unquote(target.path)
    directory, _, name = path.rpartition("/")
    return directory.lstrip("/"), name


def _reply_code(text: str) -> int:
    head = text[:3]
    return int(head) if head.isdigit() else 0


def _scrub(text: str, password: str) -> str:
    text = text.strip()[:200]
    return text.replace(password, "***") if password else text


def upload_ftp(
    path: Path,
    target: CheckedTarget,
    *,
    user: str = "anonymous",
    password: str = "",
    directory: str | None = None,
    file_name: str | None = None,
    passive: bool = True,
    retries: int = 3,
    backoff: float = 0.5,
    timeout: float = 60.0,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    verify: ssl.SSLContext | bool = True,
) -> UploadResult:
    """Upload ``path`` to ``target`` (``ftp``/``ftps``); see the module docstring.

    ``directory`` defaults to the URL path's directory (relative to the login directory, as
    RFC 1738 reads FTP URLs; none for ``/``), ``file_name`` to the URL path's last segment or
    else ``path.name``. Directories are never created. ``retries`` is the number of attempts
    after the first; the wait before retry *n* is ``backoff * 2**(n-1)`` seconds, at most
    :data:`MAX_BACKOFF`. The result's ``status`` is the final reply code (e.g. ``226``) and
    ``body`` its text.

    Raises :class:`InvalidSetting`, :class:`UploadCancelled`, :class:`UploadFailed` (a permanent
    reply, a TLS failure, or transient failures after every retry) and :class:`OSError` when
    the file cannot be read.
    """
    if target.scheme not in ("ftp", "ftps"):
        raise InvalidSetting("This uploader sends only ftp(s)", setting="target")
    if retries < 0 or backoff < 0 or timeout <= 0:
        raise InvalidSetting("Invalid upload retry or timeout settings", setting="retries")
    url_dir, url_name = _split_path(target)
    name = file_name if file_name is not None else (url_name or path.name)
    folder = directory if directory is not None else url_dir
    if not name or "/" in name or any(c in name for c in _BAD_CHARS):
        raise InvalidSetting("Invalid upload file name", setting="file_name")
    if any(c in folder for c in _BAD_CHARS):
        raise InvalidSetting("Invalid upload directory", setting="directory")
    for label, value in (("user", user), ("password", password)):
        if any(c in value for c in _BAD_CHARS):
            raise InvalidSetting(f"Invalid FTP {label}", setting=label)
    context = _ssl_context(verify) if target.tls else None
    safe = target.safe_url()

    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    def stop() -> UploadCancelled:
        log.info("upload to %s cancelled", safe)
        return UploadCancelled("The upload was cancelled", target=safe)

    def failed(why: str, **detail: Any) -> UploadFailed:
        return UploadFailed(f"Upload to {safe} failed after {attempts} attempt(s): {why}",
                            target=safe, attempts=attempts, **detail)

    attempts = 0
    with path.open("rb") as fh:
        meter = _Meter(progress, cancel, os.fstat(fh.fileno()).st_size)
        while True:
            if cancelled():
                raise stop()
            attempts += 1
            problem: dict[str, Any]
            try:
                reply = _attempt(fh, target, context, user, password, folder, name, passive,
                                 timeout, meter)
            except _Cancelled:
                raise stop() from None
            except _LocalReadError as exc:
                raise exc.error from None
            except ftplib.error_perm as exc:
                code = _reply_code(str(exc))
                log.warning("upload to %s: attempt %d answered %d", safe, attempts, code)
                raise failed(f"FTP reply {code}", status=code,
                             reply=_scrub(str(exc), password)) from None
            except ssl.SSLCertVerificationError as exc:
                log.warning("upload to %s: TLS certificate not accepted", safe)
                raise failed(f"TLS certificate not accepted ({exc.verify_message})",
                             reason="tls", error=type(exc).__name__) from None
            except ftplib.error_temp as exc:
                code = _reply_code(str(exc))
                problem = {"status": code, "reply": _scrub(str(exc), password)}
                log.warning("upload to %s: attempt %d answered %d", safe, attempts, code)
            except (ftplib.error_reply, ftplib.error_proto) as exc:
                if cancelled():
                    raise stop() from None
                problem = {"reason": "protocol", "error": type(exc).__name__}
                log.warning("upload to %s: attempt %d got an unexpected reply", safe, attempts)
            except (OSError, EOFError) as exc:
                if cancelled():
                    raise stop() from None
                problem = {"reason": "connection", "error": type(exc).__name__}
                log.warning("upload to %s: attempt %d failed (%s)", safe, attempts,
                            type(exc).__name__)
            else:
                code = _reply_code(reply)
                log.info("upload to %s: reply %d after %d attempt(s)", safe, code, attempts)
                return UploadResult(status=code, headers={}, body=reply.encode("utf-8"),
                                    truncated=False, attempts=attempts, retried_statuses=[])
            if attempts > retries:
                why = (f"FTP reply {problem['status']}" if "status" in problem
                       else "no connection" if problem["reason"] == "connection"
                       else "unexpected FTP reply")
                raise failed(why, **problem)
            if wait_before_retry(attempts, backoff, cancel):
                raise stop()


def _attempt(
    fh: BinaryIO,
    target: CheckedTarget,
    context: ssl.SSLContext | None,
    user: str,
    password: str,
    folder: str,
    name: str,
    passive: bool,
    timeout: float,
    meter: _Meter,
) -> str:
    """One connection: log in, change directory, STOR; the final reply text."""
    ftp: ftplib.FTP
    if context is not None:
        ftp = ftplib.FTP_TLS(context=context, timeout=timeout)
    else:
        ftp = ftplib.FTP(timeout=timeout)
    # Never take the address from a PASV reply: the data connection goes to the control
    # connection's peer (the pinned address). False is ftplib's default; kept explicit.
    ftp.trust_server_pasv_ipv4_address = False  # type: ignore[attr-defined]
    try:
        ftp.connect(target.address, target.port, timeout=timeout)
        if isinstance(ftp, ftplib.FTP_TLS):
            # ftplib wraps the control and data sockets with server_hostname=self.host:
            # the checked name, not the address it connected to.
            ftp.host = target.server_hostname or target.host
            ftp.auth()
        ftp.login(user, password)
        if isinstance(ftp, ftplib.FTP_TLS):
            ftp.prot_p()
        ftp.set_pasv(passive)
        if folder:
            ftp.cwd(folder)
        reader = _Reader(fh, meter.total, meter)
        meter.sent = 0
        try:
            reply = ftp.storbinary(f"STOR {name}", reader, blocksize=BLOCK_SIZE,
                                   callback=meter.block)
        except _Cancelled:
            _abort(ftp)
            raise
        with contextlib.suppress(*ftplib.all_errors):
            ftp.quit()
        return reply
    finally:
        ftp.close()


def _abort(ftp: ftplib.FTP) -> None:
    """Tell the server to drop the transfer (best effort, briefly), then close."""
    sock = ftp.sock
    if sock is None:
        return
    with contextlib.suppress(*ftplib.all_errors):
        sock.settimeout(_ABORT_TIMEOUT)
        ftp.abort()
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
