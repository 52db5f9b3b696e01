"""Sealed index fields: the user's text in ``buffer.sqlite3`` kept encrypted (AES-256-GCM).

Page files are encrypted with the cache key (scanlet.crypto); the index holds what the user
typed or what was read off the pages: document names, document and page tags, and document
and page metadata (which includes the barcodes read during a scan and anything a client or the
compatibility API stores there). Those columns hold a sealed value instead of text:
``VERSION(1) | nonce(12) | ciphertext+tag``, as a BLOB.

- The field key is derived from the cache key with HKDF-SHA256 under its own label, so a field
  and a page file never share a key.
- The associated data is ``table, column, row id``: a value copied into another row or column
  fails its integrity check instead of showing another document's name.
- A value that is not sealed (plain text written by something else) is refused the same way,
  so nobody can plant plaintext that the store would then trust.

What stays plain, and why: ids, timestamps, page geometry and format, sizes, digests, page
order, and the jobs table (scan settings and device names; no user text, and the crash
monitor reads it without the key). Values are not padded, so their lengths are visible.

:func:`seal_existing` is the schema migration that converts a database from before this
change; see db.py.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from scanlet.errors import StorageError

logger = logging.getLogger(__name__)

#: HKDF label of the field key (page files use the cache key itself: a distinct key).
_INFO = b"scanlet buffer index fields v1"
_VERSION = 1
_NONCE = 12
_TAG = 16

#: The sealed columns, by table.
SEALED_COLUMNS: dict[str, tuple[str, ...]] = {
    "documents": ("name", "tags", "metadata"),
    "pages": ("tags", "metadata"),
}


def _aad(table: str, column: str, row_id: str) -> bytes:
    return b"\0".join((b"scanlet-field", table.encode(), column.encode(), row_id.encode()))


class FieldSealer:
    """Seals and opens the index's text fields with a key derived from the cache key."""

    def __init__(self, cache_key: bytes) -> None:
        field_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                         info=_INFO).derive(cache_key)
        self._aead = AESGCM(field_key)

    def seal(self, table: str, column: str, row_id: str, text: str) -> bytes:
        """``text`` encrypted for ``table.column`` of row ``row_id``."""
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), _aad(table, column, row_id))
        return bytes((_VERSION,)) + nonce + sealed

    def open(self, table: str, column: str, row_id: str, value: object) -> str:
        """The text sealed in ``value``; StorageError when it is not a sealed value of this
        row and column under this key (altered, moved from another row, plain text)."""
        if (not isinstance(value, bytes) or len(value) < 1 + _NONCE + _TAG
                or value[0] != _VERSION):
            raise StorageError(f"the {column} of {table} row {row_id} in the page index is not "
                               "sealed; the index was altered outside Scanlet")
        nonce = value[1 : 1 + _NONCE]
        try:
            plain = self._aead.decrypt(nonce, value[1 + _NONCE :], _aad(table, column, row_id))
        except InvalidTag as exc:
            raise StorageError(
                f"the {column} of {table} row {row_id} in the page index failed its integrity "
                "check: it was altered or moved from another row, or the cache key changed"
            ) from exc
        return plain.decode("utf-8")


def seal_existing(conn: sqlite3.Connection, fields: FieldSealer) -> int:
    """Migration: replace every plain value of :data:`SEALED_COLUMNS` by its sealed form.

    Runs inside the migration's transaction; returns the number of rows converted. Values
    already sealed (a BLOB) are left alone, so a repeated run does no harm.
    """
    converted = 0
    for table, columns in SEALED_COLUMNS.items():
        rows = conn.execute(f"SELECT id, {', '.join(columns)} FROM {table}").fetchall()
        for row in rows:
            row_id = row[0]
            values = [
                value if isinstance(value, bytes)
                else fields.seal(table, column, row_id, str(value))
                for column, value in zip(columns, row[1:], strict=True)
            ]
            assignments = ", ".join(f"{column} = ?" for column in columns)
            conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", (*values, row_id))
            converted += 1
    if converted:
        logger.info("page index: sealed the names, tags and metadata of %d rows", converted)
    return converted
