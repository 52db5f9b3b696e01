"""Who holds access: paired sites' tokens, admin-allowed sites and API keys.

Only SHA-256 hashes of tokens and keys are stored (they are 256-bit random values, so a
plain hash is enough); the secret itself is shown once, to the page or the CLI user that gets
it. The database lives in ``keys/access.sqlite3``, private to the user, and is shared by the
service and the CLI: a ``scanlet sites revoke`` takes effect on the very next request because
every check reads the database (an indexed lookup of a few microseconds).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanlet.errors import InvalidSetting

#: What a web page may ask for: scan (scanners, jobs, the page buffer), camera, upload, files.
WEB_SCOPES = ("scan", "camera", "upload", "files")
#: API keys may also hold ``admin`` (sites, keys, log level).
ALL_SCOPES = (*WEB_SCOPES, "admin")

TOKEN_PREFIX = "slt_"
KEY_PREFIX = "slk_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    via TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS grants_origin ON grants(origin);
CREATE TABLE IF NOT EXISTS allowed_sites (
    origin TEXT PRIMARY KEY,
    scopes TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created REAL NOT NULL
);
"""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_scopes(scopes: Iterable[str], allowed: tuple[str, ...] = WEB_SCOPES) -> frozenset[str]:
    """The scopes as a set; an unknown scope is the caller's error."""
    found = frozenset(s.strip().lower() for s in scopes if s.strip())
    unknown = sorted(found - set(allowed))
    if unknown or not found:
        raise InvalidSetting(f"unknown or missing scopes {unknown}; allowed: {list(allowed)}",
                             field="scopes", allowed=list(allowed))
    return found


def _join(scopes: Iterable[str]) -> str:
    return " ".join(sorted(scopes))


@dataclass(frozen=True)
class Grant:
    """A token issued to one origin."""

    id: str
    origin: str
    scopes: frozenset[str]
    created: float
    expires: float
    via: str  # "pairing" (the user approved) or "allowed" (admin pre-approved the origin)


@dataclass(frozen=True)
class AllowedSite:
    origin: str
    scopes: frozenset[str]
    created: float


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: frozenset[str]
    created: float


@dataclass(frozen=True)
class SiteSummary:
    """One line of ``scanlet sites list``."""

    origin: str
    allowed_by: str  # "config", "admin" or "" (paired only)
    scopes: frozenset[str]
    tokens: int
    expires: float | None


class AccessStore:
    """The access database of one home."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _run(self, sql: str, *args: object) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    # Tokens of paired sites -------------------------------------------------------------

    def issue_token(self, origin: str, scopes: Iterable[str], days: float,
                    via: str = "pairing") -> tuple[str, Grant]:
        """A new random token for ``origin``; only its hash is kept."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        grant = Grant(secrets.token_hex(8), origin, frozenset(scopes), now, now + days * 86400,
                      via)
        self._run("INSERT INTO grants VALUES (?, ?, ?, ?, ?, ?, ?)", grant.id, origin,
                  hash_secret(token), _join(grant.scopes), now, grant.expires, via)
        return token, grant

    def lookup_token(self, token: str) -> Grant | None:
        """The live grant of a token, or None when unknown, revoked or expired."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        rows = self._rows("SELECT id, origin, scopes, created, expires, via FROM grants "
                          "WHERE token_hash = ?", hash_secret(token))
        if not rows:
            return None
        gid, origin, scopes, created, expires, via = rows[0]
        if float(expires) <= time.time():
            return None
        return Grant(str(gid), str(origin), frozenset(str(scopes).split()),
                     float(created), float(expires), str(via))

    def grants(self) -> list[Grant]:
        """Every live (unexpired) grant, oldest first; never the tokens (only hashes are kept)."""
        return [Grant(str(g), str(o), frozenset(str(s).split()), float(c), float(e), str(v))
                for g, o, s, c, e, v in self._rows(
                    "SELECT id, origin, scopes, created, expires, via FROM grants "
                    "WHERE expires > ? ORDER BY created", time.time())]

    def has_grant(self, origin: str) -> bool:
        return bool(self._rows("SELECT 1 FROM grants WHERE origin = ? AND expires > ? LIMIT 1",
                               origin, time.time()))

    # Sites an admin allowed -------------------------------------------------------------

    def allow_site(self, origin: str, scopes: Iterable[str]) -> AllowedSite:
        site = AllowedSite(origin, frozenset(scopes), time.time())
        self._run("INSERT OR REPLACE INTO allowed_sites VALUES (?, ?, ?)", origin,
                  _join(site.scopes), site.created)
        return site

    def allowed_site(self, origin: str) -> AllowedSite | None:
        rows = self._rows("SELECT scopes, created FROM allowed_sites WHERE origin = ?", origin)
        if not rows:
            return None
        return AllowedSite(origin, frozenset(str(rows[0][0]).split()),
                           float(rows[0][1]))

    def revoke_site(self, origin: str) -> int:
        """Forget an origin: its admin allowance and every token. Returns what was removed."""
        with self._lock, self._db:
            removed = self._db.execute("DELETE FROM grants WHERE origin = ?", (origin,)).rowcount
            removed += self._db.execute("DELETE FROM allowed_sites WHERE origin = ?",
                                        (origin,)).rowcount
        return removed

    def sites(self, config_origins: Iterable[str] = ()) -> list[SiteSummary]:
        now = time.time()
        summary: dict[str, SiteSummary] = {}
        for origin in config_origins:
            summary[origin] = SiteSummary(origin, "config", frozenset(WEB_SCOPES), 0, None)
        for origin, scopes, _created in self._rows("SELECT * FROM allowed_sites"):
            summary[str(origin)] = SiteSummary(str(origin), "admin", frozenset(str(scopes).split()),
                                               0, None)
        for origin, count, expires, scopes in self._rows(
                "SELECT origin, COUNT(*), MAX(expires), GROUP_CONCAT(scopes, ' ') FROM grants "
                "WHERE expires > ? GROUP BY origin", now):
            key = str(origin)
            base = summary.get(key)
            summary[key] = SiteSummary(
                key, base.allowed_by if base else "",
                (base.scopes if base else frozenset()) | frozenset(str(scopes).split()),
                int(count), float(expires))
        return sorted(summary.values(), key=lambda s: s.origin)

    # API keys of native clients ---------------------------------------------------------

    def create_key(self, name: str, scopes: Iterable[str]) -> tuple[str, ApiKey]:
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        info = ApiKey(secrets.token_hex(6), name, frozenset(scopes), time.time())
        try:
            self._run("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?)", info.id, name,
                      hash_secret(key), _join(info.scopes), info.created)
        except sqlite3.IntegrityError as exc:
            raise InvalidSetting(f"an API key named {name!r} exists; revoke it first or pick "
                                 "another name", field="name") from exc
        return key, info

    def lookup_key(self, key: str) -> ApiKey | None:
        if not key.startswith(KEY_PREFIX):
            return None
        rows = self._rows("SELECT id, name, scopes, created FROM api_keys WHERE key_hash = ?",
                          hash_secret(key))
        if not rows:
            return None
        kid, name, scopes, created = rows[0]
        return ApiKey(str(kid), str(name), frozenset(str(scopes).split()),
                      float(created))

    def api_keys(self) -> list[ApiKey]:
        return [ApiKey(str(k), str(n), frozenset(str(s).split()), float(c))
                for k, n, s, c in self._rows("SELECT id, name, scopes, created FROM api_keys "
                                             "ORDER BY created")]

    def revoke_key(self, id_or_name: str) -> bool:
        return self._run("DELETE FROM api_keys WHERE id = ? OR name = ?",
                         id_or_name, id_or_name) > 0


CLI_KEY_NAME = "scanlet-cli"


def cli_key(store: AccessStore, key_file: Path) -> str:
    """The API key this user's CLI uses, kept in a 0600 file; made (or remade) when needed."""
    try:
        key = key_file.read_text().strip()
        if store.lookup_key(key) is not None:
            return key
    except OSError:
        pass
    store.revoke_key(CLI_KEY_NAME)
    key, _ = store.create_key(CLI_KEY_NAME, ALL_SCOPES)
    tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    os.replace(tmp, key_file)
    return key
