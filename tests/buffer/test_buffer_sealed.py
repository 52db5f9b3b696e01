"""Sealed index fields (issue 14, item 12): no user text in buffer.sqlite3, its WAL or -shm.

A unique marker goes into every user field the buffer keeps (document name, tags, metadata;
page tags, metadata; a barcode read off a real page); the bytes of the database files must not
contain it while the store still returns every value. An index from before sealing is
converted on open, leaving no plain copy; a value moved between rows is refused.
"""

from __future__ import annotations

import io
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing

import pytest
from PIL import Image

from scanlet.buffer import PageStore, db
from scanlet.config import Home
from scanlet.errors import StorageError
from scanlet.models import PageProcessing
from scanlet.postprocess import process
from tests.barcodes.pages import symbol
from tests.buffer.testdata import KEY, make_jpeg


@pytest.fixture
def marker() -> str:
    return f"SEALTEST{secrets.token_hex(6)}"


def database_bytes(home: Home) -> Iterator[tuple[str, bytes]]:
    """The index's files as they are on disk now: the database, -wal and -shm."""
    for suffix in ("", "-wal", "-shm"):
        path = home.database.with_name(home.database.name + suffix)
        if path.exists():
            yield path.name, path.read_bytes()


def leaks(home: Home, marker: str) -> list[str]:
    """Files of the index that contain ``marker`` in UTF-8 or UTF-16 (SQLite's encodings)."""
    needles = [marker.encode("utf-8"), marker.encode("utf-16-le"), marker.encode("utf-16-be")]
    return [name for name, data in database_bytes(home) if any(n in data for n in needles)]


def barcode_page(content: str) -> bytes:
    """A white page (PNG, 150 dpi) with a QR code carrying ``content``."""
    page = Image.new("L", (600, 600), 255)
    page.paste(symbol("QRCode", content, 6), (100, 100))
    out = io.BytesIO()
    page.save(out, "PNG", dpi=(150, 150))
    return out.getvalue()


def test_no_user_text_in_the_index_files(home: Home, marker: str) -> None:
    with PageStore(home, KEY, fsync=False) as store:
        doc = store.create_document(f"name {marker}", tags=[f"tag-{marker}"],
                                    metadata={"note": f"meta {marker}", marker: 1})
        renamed = store.create_document("draft")
        store.update_document(renamed.id, name=f"renamed {marker}", tags=[marker],
                              metadata={"k": [marker]})
        page = store.add_image(doc.id, make_jpeg(), "jpeg")
        store.update_page(page.id, tags=[f"page-{marker}"], metadata={"p": marker})
        coded = store.add_image(doc.id, barcode_page(f"code {marker}"), "png")
        outcome = process(store, coded, PageProcessing(barcodes=True))
        assert outcome.page is not None
        assert [c["text"] for c in outcome.page.metadata["barcodes"]] == [f"code {marker}"]
        copy = store.copy_page(page.id, renamed.id)  # copies tags and metadata to a new row

        assert leaks(home, marker) == []  # the open store: rows in the WAL, -shm mapped

        # The store still gives back every value.
        assert store.get_document(doc.id).name == f"name {marker}"
        assert store.get_document(doc.id).tags == [f"tag-{marker}"]
        assert store.get_document(doc.id).metadata == {"note": f"meta {marker}", marker: 1}
        listed = {d.id: d for d in store.list_documents()}
        assert listed[renamed.id].name == f"renamed {marker}"
        assert listed[renamed.id].metadata == {"k": [marker]}
        pages = store.list_pages(doc.id)
        assert pages[0].tags == [f"page-{marker}"] and pages[0].metadata == {"p": marker}
        assert pages[1].metadata["barcodes"][0]["text"] == f"code {marker}"
        assert store.get_page(copy.id).metadata == {"p": marker}
        store.delete_document(doc.id)

    assert leaks(home, marker) == []  # closed: everything checkpointed into the file


def test_secure_delete_is_on(store: PageStore) -> None:
    assert store._conn is not None
    assert store._conn.execute("PRAGMA secure_delete").fetchone()[0] == 1


# -- tampering --------------------------------------------------------------------------------


def raw(home: Home) -> sqlite3.Connection:
    return sqlite3.connect(home.database, isolation_level=None)


def test_a_value_moved_to_another_row_is_refused(home: Home) -> None:
    with PageStore(home, KEY) as store:
        secret = store.create_document("Salary 2026", tags=["hr"])
        other = store.create_document("Shopping list")
        page = store.add_image(other.id, make_jpeg(), "jpeg")
        store.update_page(page.id, metadata={"a": 1})
    with closing(raw(home)) as conn:
        conn.execute("UPDATE documents SET name = (SELECT name FROM documents WHERE id = ?) "
                     "WHERE id = ?", (secret.id, other.id))
        # a document's metadata planted as a page's: same key, other table
        conn.execute("UPDATE pages SET metadata = (SELECT metadata FROM documents WHERE id = ?)"
                     " WHERE id = ?", (secret.id, page.id))
    with PageStore(home, KEY) as store:
        assert store.get_document(secret.id).name == "Salary 2026"  # untouched rows still open
        with pytest.raises(StorageError, match=rf"name of documents row {other.id}.*integrity"):
            store.get_document(other.id)
        with pytest.raises(StorageError, match="integrity check"):
            store.list_documents()
        with pytest.raises(StorageError, match=rf"metadata of pages row {page.id}.*integrity"):
            store.get_page(page.id)


def test_a_value_moved_to_another_column_is_refused(home: Home) -> None:
    with PageStore(home, KEY) as store:
        doc = store.create_document("name", tags=["a"])
    with closing(raw(home)) as conn:
        conn.execute("UPDATE documents SET tags = name WHERE id = ?", (doc.id,))
    with PageStore(home, KEY) as store, pytest.raises(StorageError, match=r"tags.*integrity"):
        store.get_document(doc.id)


def test_planted_plain_text_is_refused(home: Home) -> None:
    with PageStore(home, KEY) as store:
        doc = store.create_document("name")
    with closing(raw(home)) as conn:
        conn.execute("UPDATE documents SET name = 'planted' WHERE id = ?", (doc.id,))
    with PageStore(home, KEY) as store, pytest.raises(StorageError, match="not sealed"):
        store.get_document(doc.id)


# -- migration of an index from before sealing ------------------------------------------------


def old_index(home: Home, marker: str) -> sqlite3.Connection:
    """A schema-2 index (before sealing) in WAL mode with plain rows, as Scanlet left it; one
    deleted row's text is left in a free page. The connection stays open, so its WAL too still
    holds plain rows (as after a crash)."""
    conn = sqlite3.connect(home.database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for migration in db.MIGRATIONS[:2]:
        assert isinstance(migration, str)
        conn.executescript(migration)
    conn.execute("PRAGMA user_version=2")
    conn.execute("INSERT INTO documents (id, name, created, tags, metadata) VALUES "
                 "('doc1', ?, '2026-01-01T00:00:00+00:00', ?, ?)",
                 (f"old {marker}", f'["{marker}"]', f'{{"m": "{marker}"}}'))
    conn.execute("INSERT INTO documents (id, name, created) VALUES "
                 "('gone', ?, '2026-01-02T00:00:00+00:00')", (f"deleted {marker}",))
    conn.execute("INSERT INTO pages (id, document_id, position, width, height, dpi, bit_depth, "
                 "mode, format, bytes, sha256, created, tags, metadata) VALUES ('page1', "
                 "'doc1', 0, 10, 10, 300, 8, 'color', 'jpeg', 1, 'x', "
                 "'2026-01-01T00:00:00+00:00', ?, ?)",
                 (f'["p {marker}"]', f'{{"barcodes": [{{"text": "{marker}"}}]}}'))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the rows are in the database file
    conn.execute("DELETE FROM documents WHERE id = 'gone'")  # in the WAL; text in free space
    conn.execute("UPDATE documents SET tags = ? WHERE id = 'doc1'", (f'["{marker}", "b"]',))
    return conn


def test_old_plain_index_is_sealed_on_open(home: Home, marker: str) -> None:
    with closing(old_index(home, marker)):
        assert leaks(home, marker)  # the test's premise: plain text in the file and the WAL
        with PageStore(home, KEY) as store:
            assert leaks(home, marker) == []
            doc = store.get_document("doc1")
            assert (doc.name, doc.tags, doc.metadata) == (f"old {marker}", [marker, "b"],
                                                          {"m": marker})
            page = store.get_page("page1")
            assert page.tags == [f"p {marker}"]
            assert page.metadata == {"barcodes": [{"text": marker}]}
            assert [d.id for d in store.list_documents()] == ["doc1"]
    assert leaks(home, marker) == []
    with closing(raw(home)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
        (name,) = conn.execute("SELECT name FROM documents WHERE id = 'doc1'").fetchone()
        assert isinstance(name, bytes)


def test_failed_migration_changes_nothing(home: Home, marker: str) -> None:
    """The conversion is one transaction with the version bump: a row it cannot convert
    leaves the old index as it was (still version 2, still plain)."""
    with closing(old_index(home, marker)) as conn:
        conn.execute("INSERT INTO pages (id, document_id, position, width, height, dpi, "
                     "bit_depth, mode, format, bytes, sha256, created, tags, metadata) VALUES "
                     "('bad', 'doc1', 1, 10, 10, 300, 8, 'color', 'jpeg', 1, 'x', "
                     "'2026-01-01T00:00:00+00:00', CAST(X'80FF' AS TEXT), '{}')")  # not UTF-8
    with pytest.raises(StorageError, match="decode"):
        PageStore(home, KEY)
    with closing(raw(home)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        (name,) = conn.execute("SELECT name FROM documents WHERE id = 'doc1'").fetchone()
        assert name == f"old {marker}"
