"""Persistence of scan jobs in the buffer's index (the job layer owns their logic).

A job is stored as its JSON form plus the columns needed to query it (state, times), so the
job model can grow fields without a schema migration. Callers hold the store's lock.
"""

from __future__ import annotations

import logging
import sqlite3

from pydantic import ValidationError

from scanlet.buffer.db import transaction
from scanlet.buffer.rows import now, to_text
from scanlet.errors import JobNotFound, StorageError
from scanlet.models import JobInfo, JobState

logger = logging.getLogger(__name__)

_UNFINISHED = (JobState.PENDING.value, JobState.RUNNING.value)


def _decode(row: sqlite3.Row) -> JobInfo:
    try:
        return JobInfo.model_validate_json(row["data"])
    except ValidationError as exc:
        raise StorageError(f"stored job {row['id']} is unreadable: {exc}") from exc


def save(conn: sqlite3.Connection, job: JobInfo) -> None:
    """Insert or replace ``job``."""
    with transaction(conn):
        conn.execute(
            "INSERT INTO jobs (id, state, created, updated, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET state = excluded.state, "
            "updated = excluded.updated, data = excluded.data",
            (job.id, job.state.value, to_text(job.created), to_text(job.updated),
             job.model_dump_json()),
        )


def get(conn: sqlite3.Connection, job_id: str) -> JobInfo:
    row = conn.execute("SELECT id, data FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(f"no job {job_id}", job_id=job_id)
    return _decode(row)


def list_all(conn: sqlite3.Connection) -> list[JobInfo]:
    rows = conn.execute("SELECT id, data FROM jobs ORDER BY created, rowid").fetchall()
    return [_decode(row) for row in rows]


def mark_unfinished_interrupted(conn: sqlite3.Connection) -> list[str]:
    """Pending/running jobs from a previous run become ``interrupted`` (error cleared).

    The state itself says what happened; pages those jobs stored stay in their documents, and
    ``pages_stored`` is recounted from them (the job layer does not persist every page's
    count, the page rows are the truth).
    """
    marked: list[str] = []
    with transaction(conn):
        rows = conn.execute(
            "SELECT id, data FROM jobs WHERE state IN (?, ?) ORDER BY created, rowid",
            _UNFINISHED,
        ).fetchall()
        stamp = now()
        for row in rows:
            (stored,) = conn.execute("SELECT COUNT(*) FROM pages WHERE job_id = ?",
                                     (row["id"],)).fetchone()
            job = _decode(row).model_copy(
                update={"state": JobState.INTERRUPTED, "error": None, "updated": stamp,
                        "pages_stored": stored}
            )
            conn.execute(
                "UPDATE jobs SET state = ?, updated = ?, data = ? WHERE id = ?",
                (job.state.value, to_text(stamp), job.model_dump_json(), job.id),
            )
            marked.append(job.id)
    if marked:
        logger.warning("jobs interrupted by the last shutdown: %s", ", ".join(marked))
    return marked
