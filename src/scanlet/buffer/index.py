"""SQL on the buffer's index: documents and pages. No files, no locking, no policy.

Every function takes the connection; the store holds the lock and opens the transactions.
Names, tags and metadata are sealed on the way in and opened on the way out (``fields``,
sealed.py), so the store and everything above it see plain values. Nothing here searches or
sorts by a sealed column (SQL cannot see into them); order is by creation time and position.
Page positions are kept dense (0..n-1 per document): every mutation that changes the set or
order of a document's pages rewrites the positions that changed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from scanlet.buffer.rows import StoredPage, document_from_row, page_from_row, to_text
from scanlet.buffer.sealed import SEALED_COLUMNS, FieldSealer
from scanlet.errors import DocumentNotFound, PageNotFound
from scanlet.models import DocumentInfo, PageInfo

#: Ids bound per statement (SQLite's variable limit is 32766 in 3.32+, 999 before).
SQL_CHUNK = 500

_DOCUMENT_SELECT = (
    "SELECT d.*, (SELECT COUNT(*) FROM pages p WHERE p.document_id = d.id) AS page_count "
    "FROM documents d"
)


def chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    """``items`` in slices small enough to bind in one statement."""
    for start in range(0, len(items), SQL_CHUNK):
        yield items[start : start + SQL_CHUNK]


def _marks(items: Sequence[str]) -> str:
    return ",".join("?" * len(items))


# -- documents --------------------------------------------------------------------------------


def require_document(conn: sqlite3.Connection, document_id: str) -> None:
    if conn.execute("SELECT 1 FROM documents WHERE id = ?", (document_id,)).fetchone() is None:
        raise DocumentNotFound(f"no document {document_id}", document_id=document_id)


def insert_document(
    conn: sqlite3.Connection, fields: FieldSealer, document_id: str, name: str, tags: str,
    metadata: str, created: str,
) -> None:
    def sealed(column: str, text: str) -> bytes:
        return fields.seal("documents", column, document_id, text)

    conn.execute(
        "INSERT INTO documents (id, name, created, tags, metadata) VALUES (?, ?, ?, ?, ?)",
        (document_id, sealed("name", name), created, sealed("tags", tags),
         sealed("metadata", metadata)),
    )


def get_document(conn: sqlite3.Connection, fields: FieldSealer,
                 document_id: str) -> DocumentInfo:
    row = conn.execute(f"{_DOCUMENT_SELECT} WHERE d.id = ?", (document_id,)).fetchone()
    if row is None:
        raise DocumentNotFound(f"no document {document_id}", document_id=document_id)
    return document_from_row(row, fields)


def list_documents(conn: sqlite3.Connection, fields: FieldSealer) -> list[DocumentInfo]:
    rows = conn.execute(f"{_DOCUMENT_SELECT} ORDER BY d.created, d.rowid").fetchall()
    return [document_from_row(row, fields) for row in rows]


def update_columns(
    conn: sqlite3.Connection, fields: FieldSealer, table: str, row_id: str,
    changes: dict[str, str],
) -> None:
    """Set ``changes`` (column -> value) on one row, sealing the sealed columns; column names
    come from our code only."""
    if changes:
        sealed = SEALED_COLUMNS.get(table, ())
        values = [fields.seal(table, column, row_id, value) if column in sealed else value
                  for column, value in changes.items()]
        assignments = ", ".join(f"{column} = ?" for column in changes)
        conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", (*values, row_id))


def delete_document(conn: sqlite3.Connection, document_id: str) -> list[str]:
    """Delete a document and its page rows; returns the page ids."""
    require_document(conn, document_id)
    page_ids = page_order(conn, document_id)
    conn.execute("DELETE FROM pages WHERE document_id = ?", (document_id,))
    conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
    return page_ids


# -- pages ------------------------------------------------------------------------------------


def next_position(conn: sqlite3.Connection, document_id: str) -> int:
    row = conn.execute(
        "SELECT COALESCE(MAX(position) + 1, 0) FROM pages WHERE document_id = ?", (document_id,)
    ).fetchone()
    return int(row[0])


def insert_page(conn: sqlite3.Connection, fields: FieldSealer, info: PageInfo,
                sha256: str) -> None:
    """A new page row, with no tags and no metadata yet."""
    conn.execute(
        "INSERT INTO pages (id, document_id, position, width, height, dpi, bit_depth, mode, "
        "format, bytes, sha256, source, job_id, created, tags, metadata) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (info.id, info.document_id, info.index, info.width, info.height, info.dpi,
         info.bit_depth, info.mode.value, info.format, info.bytes, sha256,
         info.source.value if info.source else None, info.job_id, to_text(info.created),
         fields.seal("pages", "tags", info.id, "[]"),
         fields.seal("pages", "metadata", info.id, "{}")),
    )


def page_exists(conn: sqlite3.Connection, page_id: str) -> bool:
    return conn.execute("SELECT 1 FROM pages WHERE id = ?", (page_id,)).fetchone() is not None


def get_page(conn: sqlite3.Connection, fields: FieldSealer, page_id: str) -> StoredPage:
    row = conn.execute("SELECT * FROM pages WHERE id = ?", (page_id,)).fetchone()
    if row is None:
        raise PageNotFound(f"no page {page_id}", page_id=page_id)
    return page_from_row(row, fields)


def list_pages(conn: sqlite3.Connection, fields: FieldSealer,
               document_id: str) -> list[PageInfo]:
    require_document(conn, document_id)
    rows = conn.execute(
        "SELECT * FROM pages WHERE document_id = ? ORDER BY position", (document_id,)
    ).fetchall()
    return [page_from_row(row, fields).info for row in rows]


def page_order(conn: sqlite3.Connection, document_id: str) -> list[str]:
    """A document's page ids in order (the document must exist)."""
    require_document(conn, document_id)
    return [r[0] for r in conn.execute(
        "SELECT id FROM pages WHERE document_id = ? ORDER BY position", (document_id,))]


def write_order(conn: sqlite3.Connection, new: Sequence[str], old: Sequence[str]) -> None:
    """Store positions 0..n-1 for ``new`` (a permutation of ``old``), touching moved rows only."""
    conn.executemany(
        "UPDATE pages SET position = ? WHERE id = ?",
        [(index, page_id) for index, (page_id, before) in enumerate(zip(new, old, strict=True))
         if page_id != before],
    )


def compact(conn: sqlite3.Connection, document_id: str) -> None:
    """Renumber a document's remaining pages 0..n-1 after deletions."""
    rows = conn.execute(
        "SELECT id, position FROM pages WHERE document_id = ? ORDER BY position", (document_id,)
    ).fetchall()
    conn.executemany(
        "UPDATE pages SET position = ? WHERE id = ?",
        [(index, row[0]) for index, row in enumerate(rows) if row[1] != index],
    )


def page_owners(conn: sqlite3.Connection, page_ids: Sequence[str]) -> dict[str, str]:
    """page id -> document id for the ids that exist."""
    owners: dict[str, str] = {}
    for chunk in chunks(page_ids):
        owners.update(conn.execute(
            f"SELECT id, document_id FROM pages WHERE id IN ({_marks(chunk)})", chunk
        ).fetchall())
    return owners


def delete_pages(conn: sqlite3.Connection, page_ids: Sequence[str]) -> None:
    """Delete page rows (unknown ids are ignored) and compact the documents they were in."""
    documents = set(page_owners(conn, page_ids).values())
    for chunk in chunks(page_ids):
        conn.execute(f"DELETE FROM pages WHERE id IN ({_marks(chunk)})", chunk)
    for document_id in documents:
        compact(conn, document_id)


def page_ids(conn: sqlite3.Connection, document_id: str | None = None) -> list[str]:
    """Ids of a document's pages, or of every page when ``document_id`` is None."""
    if document_id is None:
        return [r[0] for r in conn.execute("SELECT id FROM pages")]
    return page_order(conn, document_id)


# -- versions ---------------------------------------------------------------------------------


def extra_files(conn: sqlite3.Connection, page_ids: Sequence[str]) -> list[str]:
    """File ids of these pages other than the page ids themselves: edited current files and
    every kept earlier version (deleted together with the pages)."""
    found: list[str] = []
    for chunk in chunks(page_ids):
        marks = _marks(chunk)
        found += [r[0] for r in conn.execute(
            f"SELECT file_id FROM pages WHERE id IN ({marks}) AND file_id IS NOT NULL "
            "AND file_id != id", chunk)]
        found += [r[0] for r in conn.execute(
            f"SELECT file_id FROM page_versions WHERE page_id IN ({marks})", chunk)]
    return found


def all_files(conn: sqlite3.Connection) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(page id -> current file id, page id -> earlier versions' file ids) of the buffer."""
    current = {r[0]: r[1] or r[0] for r in conn.execute("SELECT id, file_id FROM pages")}
    earlier: dict[str, list[str]] = {}
    for page_id, file_id in conn.execute("SELECT page_id, file_id FROM page_versions"):
        earlier.setdefault(page_id, []).append(file_id)
    return current, earlier


def push_version(conn: sqlite3.Connection, stored: StoredPage, new: PageInfo, sha256: str,
                 file_id: str) -> None:
    """Keep the current state as a version row and make ``new`` (in ``file_id``) current."""
    info = stored.info
    conn.execute(
        "INSERT INTO page_versions (page_id, version, file_id, width, height, dpi, bit_depth, "
        "mode, format, bytes, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (info.id, info.version, stored.file_id, info.width, info.height, info.dpi,
         info.bit_depth, info.mode.value, info.format, info.bytes, stored.sha256))
    conn.execute(
        "UPDATE pages SET width = ?, height = ?, dpi = ?, bit_depth = ?, mode = ?, format = ?, "
        "bytes = ?, sha256 = ?, file_id = ?, version = ? WHERE id = ?",
        (new.width, new.height, new.dpi, new.bit_depth, new.mode.value, new.format, new.bytes,
         sha256, file_id, info.version + 1, info.id))


def pop_version(conn: sqlite3.Connection, stored: StoredPage, *,
                to_original: bool) -> list[str] | None:
    """Make the previous (or the first) version current again; None when there is none.

    Returns the file ids no longer used (the current file and any versions passed over),
    for the caller to delete after the commit.
    """
    info = stored.info
    row = conn.execute(
        f"SELECT * FROM page_versions WHERE page_id = ? ORDER BY version "
        f"{'ASC' if to_original else 'DESC'} LIMIT 1", (info.id,)).fetchone()
    if row is None:
        return None
    unused = [stored.file_id] + [r[0] for r in conn.execute(
        "SELECT file_id FROM page_versions WHERE page_id = ? AND version > ?",
        (info.id, row["version"]))]
    conn.execute(
        "UPDATE pages SET width = ?, height = ?, dpi = ?, bit_depth = ?, mode = ?, format = ?, "
        "bytes = ?, sha256 = ?, file_id = ?, version = ? WHERE id = ?",
        (row["width"], row["height"], row["dpi"], row["bit_depth"], row["mode"], row["format"],
         row["bytes"], row["sha256"], None if row["file_id"] == info.id else row["file_id"],
         row["version"], info.id))
    conn.execute("DELETE FROM page_versions WHERE page_id = ? AND version >= ?",
                 (info.id, row["version"]))
    return unused


def transfer(conn: sqlite3.Connection, page_ids: Sequence[str], document_id: str) -> None:
    """Append pages (in this order) to another document; their old documents are compacted."""
    require_document(conn, document_id)
    sources = set(page_owners(conn, page_ids).values())
    start = next_position(conn, document_id)
    conn.executemany("UPDATE pages SET document_id = ?, position = ? WHERE id = ?",
                     [(document_id, start + i, page_id) for i, page_id in enumerate(page_ids)])
    for source in sources - {document_id}:
        compact(conn, source)
