"""The SQLite index: WAL, durability setting, versioned schema."""

from __future__ import annotations

import sqlite3

import pytest

from scanlet.buffer import PageStore, db
from scanlet.config import Home
from scanlet.errors import StorageError
from tests.buffer.testdata import KEY


def pragma(home: Home, name: str) -> object:
    conn = sqlite3.connect(home.database)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def test_wal_and_version(home: Home) -> None:
    PageStore(home, KEY).close()
    assert pragma(home, "journal_mode") == "wal"
    assert pragma(home, "user_version") == db.SCHEMA_VERSION == 3


@pytest.mark.parametrize(("fsync", "level"), [(True, 2), (False, 1)])  # FULL=2, NORMAL=1
def test_synchronous_follows_fsync(home: Home, fsync: bool, level: int) -> None:
    with PageStore(home, KEY, fsync=fsync) as store:
        assert store._conn is not None
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == level


def test_newer_schema_refused(home: Home) -> None:
    PageStore(home, KEY).close()
    conn = sqlite3.connect(home.database)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StorageError, match="upgrade Scanlet"):
        PageStore(home, KEY)


def test_not_a_database(home: Home) -> None:
    home.database.write_bytes(b"garbage" * 100)
    with pytest.raises(StorageError):
        PageStore(home, KEY)
