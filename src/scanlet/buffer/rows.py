"""Conversions between index rows and the shared models, and validation of user fields.

Tags are a list of non-empty strings, kept in the order given, duplicates dropped. Metadata is
any JSON object; both are stored as JSON text, sealed like document names (sealed.py).
Timestamps are stored as ISO 8601 UTC.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scanlet.buffer.sealed import FieldSealer
from scanlet.errors import InvalidSetting
from scanlet.models import DocumentInfo, PageInfo

MAX_TAGS = 100
MAX_TAG_CHARS = 200
MAX_METADATA_CHARS = 64 * 1024


def now() -> datetime:
    return datetime.now(UTC)


def to_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text)


def clean_tags(tags: list[str] | None) -> list[str]:
    """Validated tags, duplicates removed (first occurrence kept)."""
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidSetting("tags must be a list of strings", field="tags")
    result = list(dict.fromkeys(t.strip() for t in tags))
    if any(not t or len(t) > MAX_TAG_CHARS for t in result):
        raise InvalidSetting(f"tags must be 1-{MAX_TAG_CHARS} characters", field="tags")
    if len(result) > MAX_TAGS:
        raise InvalidSetting(f"at most {MAX_TAGS} tags", field="tags")
    return result


def tags_json(tags: list[str]) -> str:
    """Cleaned tags as JSON text."""
    return json.dumps(tags, ensure_ascii=False)


def metadata_json(metadata: dict[str, Any] | None) -> str:
    """Metadata as JSON text; refuses what JSON cannot hold and oversized objects."""
    if metadata is None:
        return "{}"
    if not isinstance(metadata, dict):
        raise InvalidSetting("metadata must be a JSON object", field="metadata")
    try:
        text = json.dumps(metadata, ensure_ascii=False, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidSetting(f"metadata is not JSON-serializable: {exc}", field="metadata") \
            from exc
    if len(text) > MAX_METADATA_CHARS:
        raise InvalidSetting(
            f"metadata is larger than {MAX_METADATA_CHARS} characters as JSON", field="metadata"
        )
    return text


def _opened(fields: FieldSealer, table: str, row: sqlite3.Row, column: str) -> str:
    """A sealed column's text (StorageError when it does not belong to this row)."""
    return fields.open(table, column, row["id"], row[column])


def document_from_row(row: sqlite3.Row, fields: FieldSealer) -> DocumentInfo:
    return DocumentInfo(
        id=row["id"],
        name=_opened(fields, "documents", row, "name"),
        created=from_text(row["created"]),
        page_count=row["page_count"],
        tags=json.loads(_opened(fields, "documents", row, "tags")),
        metadata=json.loads(_opened(fields, "documents", row, "metadata")),
    )


@dataclass(frozen=True)
class StoredPage:
    """A page row: the public info plus what only the store needs."""

    info: PageInfo
    sha256: str
    file_id: str  # the current version's file (the page id itself until the first edit)


def page_from_row(row: sqlite3.Row, fields: FieldSealer) -> StoredPage:
    info = PageInfo(
        id=row["id"],
        document_id=row["document_id"],
        index=row["position"],
        width=row["width"],
        height=row["height"],
        dpi=row["dpi"],
        bit_depth=row["bit_depth"],
        mode=row["mode"],
        format=row["format"],
        bytes=row["bytes"],
        source=row["source"],
        job_id=row["job_id"],
        created=from_text(row["created"]),
        tags=json.loads(_opened(fields, "pages", row, "tags")),
        metadata=json.loads(_opened(fields, "pages", row, "metadata")),
        version=row["version"],
    )
    return StoredPage(info=info, sha256=row["sha256"], file_id=row["file_id"] or row["id"])
