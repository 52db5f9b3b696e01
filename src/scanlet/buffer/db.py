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
- ``secure_delete=ON``: SQLite zeroes the content it frees, so a deleted or rewritten row
  leaves no old bytes behind in the file's free space.
- The schema version is ``PRAGMA user_version``; :data:`MIGRATIONS` [i] upgrades version i to
  i+1 inside one transaction together with the version bump (SQL, or a function for a step
  that converts values). A database from a newer Scanlet is refused rather than guessed at.
- Version 3 seals the user's text (sealed.py). A database that had rows before that step is
  then VACUUMed and its WAL truncated, so no plaintext copy stays in the file, its free pages
  or the WAL.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scanlet.buffer.sealed import FieldSealer, seal_existing
from scanlet.errors import StorageError

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 10.0

#: One schema step: SQL statements, or a function converting values.
Migration = str | Callable[[sqlite3.Connection, FieldSealer], object]

MIGRATIONS: list[Migration] = [
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
    # 2 -> 3: document names, tags and metadata, page tags and metadata sealed (sealed.py).
    seal_existing,
]

#: The first version whose user text is sealed: older databases with rows are VACUUMed.
SEALED_VERSION = 3

SCHEMA_VERSION = len(MIGRATIONS)


def _create_private(path: Path) -> None:
    """Create the database file 0600 so SQLite's -wal/-shm files inherit that mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def connect(path: Path, *, durable: bool, fields: FieldSealer) -> sqlite3.Connection:
    """Open (creating and migrating if needed) the index at ``path``.

    ``fields`` seals values during the migration to version 3. The connection is in
    autocommit mode (transactions are explicit, see :func:`transaction`) and may be used from
    any thread; the caller serializes access.
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
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        if 0 < migrate(conn, path, fields) < SEALED_VERSION:
            scrub(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise StorageError(f"the page index {path} is unusable: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: sqlite3.Connection, path: Path, fields: FieldSealer) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION`; returns the version found (0: new)."""
    with transaction(conn):
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"the page index {path} has schema version {version}, newer than this "
                f"Scanlet supports ({SCHEMA_VERSION}); upgrade Scanlet"
            )
        for step in range(version, SCHEMA_VERSION):
            logger.info("page index: migrating schema %d -> %d", step, step + 1)
            migration = MIGRATIONS[step]
            if isinstance(migration, str):
                for statement in migration.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            else:
                migration(conn, fields)
            conn.execute(f"PRAGMA user_version={step + 1}")
    return version


def scrub(conn: sqlite3.Connection) -> None:
    """After sealing an existing database: rebuild it (VACUUM) and truncate the WAL, so the
    plain values it held are in neither the file, its free pages, nor the WAL.

    A failure (another process holds the database open) is logged, not raised: the values are
    sealed already, ``secure_delete`` zeroed what the migration freed, and closing the store
    truncates the WAL.
    """
    try:
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        logger.warning("page index: could not compact the database after sealing its fields "
                       "(%s); old plain copies may remain in the WAL until the page store "
                       "is closed", exc)


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
