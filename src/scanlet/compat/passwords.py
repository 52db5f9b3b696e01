"""Document passwords of the compatibility API (``POST /api/storage/documents {password}``).

The reference protects a stored document with a password of up to 32 characters, sent back
as ``DWT-DOC-PASSWORD`` (19.1+) or ``X-DICS-DOC-PASSWORD`` (19.0) on every call about the
document. Scanlet keeps only a salted scrypt hash of it (standard library; compared in
constant time), in ``<home>/keys/document-passwords.json``: private to the user (0600, in the
0700 ``keys`` folder), written atomically, so it survives a restart, and outside the page
buffer, so ``/v1`` neither shows nor changes it.

What the password guards: the ``/api/storage/documents/{uid}...`` view of the document, and
the use of its pages as a ``source`` by ``/api`` calls. It is an access check, not an
encryption key: every buffer page is already encrypted at rest with the install's cache key.
``/v1`` is not restricted by it, since its callers hold a Scanlet API key or a paired token,
which already reaches every buffer page.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fastapi import Request

from scanlet.config import Home
from scanlet.errors import DocumentPasswordInvalid, InvalidSetting, StorageError

log = logging.getLogger(__name__)

FILE_NAME = "document-passwords.json"
#: The reference's limit on document passwords.
MAX_CHARS = 32
#: Header names, newest first.
HEADERS = ("DWT-DOC-PASSWORD", "X-DICS-DOC-PASSWORD")
# scrypt cost: about 16 MiB and a few tens of ms per check; a password is checked once per call.
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32
_VERSION = 1


def check_new_password(value: object) -> str | None:
    """A password from a create body: None for none (missing or empty); InvalidSetting for
    anything but a string of at most :data:`MAX_CHARS` characters."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_CHARS:
        raise InvalidSetting(f"password must be a string of at most {MAX_CHARS} characters",
                             field="password")
    return value


def sent_password(headers: Mapping[str, str]) -> str:
    """The password a request sends ('' for none): ``DWT-DOC-PASSWORD`` unless it is empty,
    else ``X-DICS-DOC-PASSWORD``."""
    for name in HEADERS:
        value = headers.get(name)
        if value:
            return value
    return ""


def _hash(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_DKLEN,
                          maxmem=128 * n * r * 2)


class DocumentPasswords:
    """Salted password hashes by buffer document id, kept in one JSON file (see module doc).

    Thread-safe; the file is read once and rewritten (atomically) on each change.
    """

    def __init__(self, home: Home) -> None:
        self._path = home.keys / FILE_NAME
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = self._load()

    @property
    def path(self) -> Path:
        return self._path

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # Fail closed: an unreadable file must not open every protected document.
            raise StorageError(f"cannot read {self._path}: {exc}") from exc
        entries = raw.get("documents") if isinstance(raw, dict) else None
        if not isinstance(entries, dict):
            raise StorageError(f"{self._path} is not a document password file")
        return {str(k): v for k, v in entries.items() if isinstance(v, dict)}

    def _save(self) -> None:
        """Write the file atomically (temporary file, fsync, rename), mode 0600."""
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = json.dumps({"version": _VERSION, "documents": self._entries}, sort_keys=True)
        tmp = self._path.with_name(f".{self._path.name}.{secrets.token_hex(4)}.part")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"cannot write {self._path}: {exc}") from exc

    def protected(self, document_id: str) -> bool:
        with self._lock:
            return document_id in self._entries

    def set(self, document_id: str, password: str) -> None:
        """Protect a document with ``password`` (replacing any earlier one)."""
        salt = secrets.token_bytes(16)
        entry = {"salt": salt.hex(), "n": _N, "r": _R, "p": _P,
                 "hash": _hash(password, salt, _N, _R, _P).hex()}
        with self._lock:
            self._entries[document_id] = entry
            self._save()

    def forget(self, document_ids: Iterable[str]) -> None:
        """Drop the passwords of documents that were deleted (unknown ids are fine)."""
        with self._lock:
            gone = [d for d in document_ids if d in self._entries]
            for document_id in gone:
                del self._entries[document_id]
            if gone:
                self._save()

    def keep_only(self, document_ids: Iterable[str]) -> None:
        """Drop the passwords of every document not in ``document_ids`` (deleted through
        ``/v1`` meanwhile; ids are random and never reused, so this is tidiness only)."""
        alive = set(document_ids)
        with self._lock:
            stale = [d for d in self._entries if d not in alive]
        if stale:
            log.info("dropping the passwords of %d deleted documents", len(stale))
            self.forget(stale)

    def verify(self, document_id: str, password: str) -> None:
        """Nothing when the document has no password or ``password`` is right;
        DocumentPasswordInvalid (403, code -1043) otherwise."""
        with self._lock:
            entry = self._entries.get(document_id)
        if entry is None:
            return
        if not password or len(password) > MAX_CHARS:
            raise DocumentPasswordInvalid(
                "this document is protected: send its password as DWT-DOC-PASSWORD")
        try:
            expected = bytes.fromhex(entry["hash"])
            actual = _hash(password, bytes.fromhex(entry["salt"]), int(entry["n"]),
                           int(entry["r"]), int(entry["p"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise StorageError(f"the password entry of document {document_id} in "
                               f"{self._path} is damaged") from exc
        if not hmac.compare_digest(expected, actual):
            raise DocumentPasswordInvalid("the document password is wrong")


_app_lock = threading.Lock()


def for_request(request: Request) -> DocumentPasswords:
    """The app's password store (a FastAPI dependency), opened on first use; passwords of
    documents deleted meanwhile (through ``/v1``) are dropped then."""
    state = request.app.state
    found = getattr(state, "dwt_passwords", None)
    if isinstance(found, DocumentPasswords):
        return found
    with _app_lock:
        found = getattr(state, "dwt_passwords", None)
        if not isinstance(found, DocumentPasswords):
            rt = state.runtime
            found = DocumentPasswords(rt.home)
            found.keep_only(d.id for d in rt.store.list_documents())
            state.dwt_passwords = found
    return found
