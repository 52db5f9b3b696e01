"""The buffer's SQLite index: connection settings, versioned schema, transactions.

Settings and why:

- ``journal_mode=WAL``: readers never block the writer and a commit is one append to the WAL.
- ``synchronous=FULL`` when the store is durable (``fsync=True``, the default): in WAL mode
  NORMAL already survives a *process* crash (``kill -9``) but may lose the last commits on a
  power cut or OS crash; FULL fsyncs the WAL at every commit, so a page reported stored also
  survives a power cut, matching the fsync of the page file itself. The cost is one fsync per
  add (about a millisecond on an SSD), small next to writing a 3 MB page. ``fsync=False``
  selects NORMAL (tests, benchmarks, users who trade power-cut durability for speed).
- ``foreign_keys=ON`` (pages belong to documents), ``busy_timeout`` so a second process (the
  CLI) waits for a write lock instead of failing at once.
- The schema version is ``PRAGMA user_version``; :data:`MIGRATIONS` [i] upgrades version i to
  i+1 inside one transaction together with the version bump. A database from a newer Scanlet
  is refused rather than guessed at.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scanlet.errors import StorageError

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 10.0

MIGRATIONS: list[str] = [
    # 0 -> 1: documents, pages, jobs.
    """
    CREATE TABLE documents (
        id       TEXT PRIMARY KEY,
        name     TEXT NOT NULL DEFAULT '',
        created  TEXT NOT NULL,
        tags     TEXT NOT NULL DEFAULT '[]',
        metadata TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE pages (
        id          TEXT PRIMARY KEY,
        document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        width       INTEGER NOT NULL,
        height      INTEGER NOT NULL,
        dpi         REAL NOT NULL,
        bit_depth   INTEGER NOT NULL,
        mode        TEXT NOT NULL,
        format      TEXT NOT NULL,
        bytes       INTEGER NOT NULL,
        sha256      TEXT NOT NULL,
        source      TEXT,
        job_id      TEXT,
        created     TEXT NOT NULL,
        tags        TEXT NOT NULL DEFAULT '[]',
        metadata    TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX pages_by_document ON pages(document_id, position);
    CREATE TABLE jobs (
        id      TEXT PRIMARY KEY,
        state   TEXT NOT NULL,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        data    TEXT NOT NULL
    );
    CREATE INDEX jobs_by_state ON jobs(state);
    """,
    # 1 -> 2: page versions. An edit stores a new file and keeps the previous state here, so
    # it can be undone; the page row always describes the current version.
    """
    ALTER TABLE pages ADD COLUMN file_id TEXT;
    ALTER TABLE pages ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE page_versions (
        page_id   TEXT NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
        version   INTEGER NOT NULL,
        file_id   TEXT NOT NULL,
        width     INTEGER NOT NULL,
        height    INTEGER NOT NULL,
        dpi       REAL NOT NULL,
        bit_depth INTEGER NOT NULL,
        mode      TEXT NOT NULL,
        format    TEXT NOT NULL,
        bytes     INTEGER NOT NULL,
        sha256    TEXT NOT NULL,
        PRIMARY KEY (page_id, version)
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def _create_private(path: Path) -> None:
    """Create the database file 0600 so SQLite's -wal/-shm files inherit that mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def connect(path: Path, *, durable: bool) -> sqlite3.Connection:
    """Open (creating and migrating if needed) the index at ``path``.

    The connection is in autocommit mode (transactions are explicit, see :func:`transaction`)
    and may be used from any thread; the caller serializes access.
    """
    try:
        _create_private(path)
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"cannot open the page index {path}: {exc}") from exc
    try:
        conn.row_factory = sqlite3.Row
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StorageError(f"the page index {path} cannot use WAL mode (got {mode})")
        conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        migrate(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise StorageError(f"the page index {path} is unusable: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`."""
    with transaction(conn):
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"the page index {path} has schema version {version}, newer than this "
                f"Scanlet supports ({SCHEMA_VERSION}); upgrade Scanlet"
            )
        for step in range(version, SCHEMA_VERSION):
            logger.info("page index: migrating schema %d -> %d", step, step + 1)
            for statement in MIGRATIONS[step].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={step + 1}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction: ``BEGIN IMMEDIATE`` (take the write lock up front, so two
    writers cannot deadlock upgrading read locks), COMMIT on success, ROLLBACK otherwise."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn sqlite3 errors into StorageError naming the operation."""
    try:
        yield
    except sqlite3.Error as exc:
        logger.exception("page index failure during %s", what)
        raise StorageError(f"the page index failed during {what}: {exc}") from exc
