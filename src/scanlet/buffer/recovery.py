"""Start-up recovery: make the page files and the index agree again after a crash.

Given the store's write order (file durable before its row commits; row deleted before its
file), a crash can only leave *files without rows*, never rows without files. Recovery:

- deletes everything in ``incoming/``: pages a worker wrote but the service never took over.
  Their job is marked interrupted separately; the pages were never reported stored;
- deletes ``*.part`` files of interrupted writes in ``pages/`` and ``thumbs/``, and the
  scratch folders of exports in ``tmp/``;
- deletes page files without a row, and renditions of pages that no longer exist;
- drops rows whose page file is missing (only possible if something outside Scanlet removed
  files), logging each at ERROR: keeping them would list pages that can never be read or
  exported, which the API promises never to do.

It must run in the one process that owns the home, before workers start and pages are added
(ids being added in this process are skipped, but ``incoming/`` is emptied regardless).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Set
from dataclasses import dataclass, field
from pathlib import Path

from scanlet.buffer import db, index
from scanlet.buffer.files import PageFiles

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecoveryReport:
    """What recovery cleaned up."""

    incoming_removed: int = 0
    partial_removed: int = 0
    temp_removed: int = 0
    orphan_files_removed: int = 0
    orphan_thumbs_removed: int = 0
    missing_pages_dropped: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when there was nothing to repair."""
        return not (self.incoming_removed or self.partial_removed or self.temp_removed
                    or self.orphan_files_removed
                    or self.orphan_thumbs_removed or self.missing_pages_dropped)


def unlink_all(paths: Iterable[Path]) -> int:
    """Delete ``paths``, logging (not raising) failures; returns how many went."""
    count = 0
    for path in paths:
        try:
            path.unlink(missing_ok=True)
            count += 1
        except OSError:
            logger.warning("could not delete stray file %s", path, exc_info=True)
    return count


def recover(conn: sqlite3.Connection, files: PageFiles, busy: Set[str]) -> RecoveryReport:
    """Repair files and index; ``busy`` are page ids being added right now (left alone).

    The caller holds the store's lock.
    """
    incoming = unlink_all(list(files.incoming_files()))
    partial = unlink_all(list(files.partial_files()))
    temp = files.clear_temp()
    current, earlier = index.all_files(conn)
    known = set(current)
    referenced = set(current.values()) | {f for files_ in earlier.values() for f in files_}
    on_disk = dict(files.page_files())
    orphans = unlink_all(path for file_id, path in on_disk.items()
                         if file_id not in referenced and file_id not in busy)
    missing = sorted(page_id for page_id, file_id in current.items() if file_id not in on_disk)
    if missing:
        for page_id in missing:
            logger.error("page %s lost its file; dropping it from the index", page_id)
        lost_versions = [f for page_id in missing for f in earlier.get(page_id, [])]
        with db.transaction(conn):
            index.delete_pages(conn, missing)
        unlink_all(on_disk[f] for f in lost_versions if f in on_disk)
    gone = [(page_id, f) for page_id, files_ in earlier.items() if page_id not in missing
            for f in files_ if f not in on_disk]
    if gone:
        logger.error("%d earlier page versions lost their files; they can no longer be "
                     "restored", len(gone))
        with db.transaction(conn):
            conn.executemany("DELETE FROM page_versions WHERE page_id = ? AND file_id = ?",
                             gone)
    alive = known - set(missing)
    thumbs = unlink_all([path for page_id, path in files.thumb_files()
                         if page_id not in alive and page_id not in busy])
    report = RecoveryReport(incoming, partial, temp, orphans, thumbs, missing)
    if not report.clean:
        logger.warning("buffer recovery: %s", report)
    return report
