"""Where the buffer's files live and the few file-system moves it makes, done durably.

Layout under ``<home>/cache``::

    pages/<page id>.slc              encrypted original (crypto.write_encrypted layout)
    thumbs/<page id>.<tag>.slc       encrypted rendition, tag = hash of content + parameters
    incoming/...                     encrypted pages handed over by scan workers
    tmp/...                          scratch folders of running exports (plaintext, 0700)
    .<name>.<random>.part            write_encrypted's temporary names (never a finished file)

Durability rules the store relies on (POSIX): a file is fsynced before it gets its final name
(crypto.write_encrypted does that), and the *directory* is fsynced after a rename, so the new
name survives a power cut before the index row that points at it is committed. Windows cannot
open directories for fsync; NTFS journals renames itself, so :func:`fsync_dir` is a no-op there.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from scanlet.buffer.ids import is_id
from scanlet.config import Home
from scanlet.errors import StorageError

logger = logging.getLogger(__name__)

PAGE_SUFFIX = ".slc"
PART_SUFFIX = ".part"


def fsync_dir(path: Path) -> None:
    """Make renames and creations in ``path`` durable (no-op where unsupported)."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class PageFiles:
    """File naming and file operations of one buffer."""

    home: Home

    @property
    def pages_dir(self) -> Path:
        return self.home.pages

    @property
    def thumbs_dir(self) -> Path:
        return self.home.thumbnails

    @property
    def incoming_dir(self) -> Path:
        return self.home.incoming

    @property
    def temp_dir(self) -> Path:
        """Scratch space of large exports: on the cache's disk (not a RAM-backed /tmp) and
        emptied by recovery, so nothing outlives a crash for longer than one restart."""
        return self.home.cache / "tmp"

    def ensure_dirs(self) -> None:
        """Create the cache folders (private to the user) if missing."""
        for folder in (self.home.cache, self.pages_dir, self.thumbs_dir, self.incoming_dir,
                       self.temp_dir):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def page_path(self, page_id: str) -> Path:
        return self.pages_dir / f"{page_id}{PAGE_SUFFIX}"

    def thumb_path(self, page_id: str, tag: str) -> Path:
        return self.thumbs_dir / f"{page_id}.{tag}{PAGE_SUFFIX}"

    def incoming_file(self, raw_path: str) -> Path:
        """The handed-over file as a path, refusing anything outside ``incoming/``.

        The path comes from another process; the store must not be talked into moving (and
        later deleting) an arbitrary file of the user's.
        """
        path = Path(raw_path)
        try:
            resolved_parent = path.parent.resolve(strict=True)
        except OSError as exc:
            raise StorageError(f"handed-over page {raw_path} does not exist") from exc
        if resolved_parent != self.incoming_dir.resolve() or path.is_symlink():
            raise StorageError(
                f"handed-over page {raw_path} is not a file in {self.incoming_dir}",
                path=raw_path,
            )
        return resolved_parent / path.name

    def remove_pages(self, page_ids: Collection[str],
                     extra_files: Collection[str] = ()) -> list[str]:
        """Delete pages' files (plus ``extra_files``: their edited versions) and all their
        renditions (one pass over thumbs/, however many pages); missing files are fine.
        Returns the ids whose files could not be deleted."""
        failed: set[str] = set()
        for file_id in [*page_ids, *extra_files]:
            try:
                self.page_path(file_id).unlink(missing_ok=True)
            except OSError:
                logger.warning("could not delete page file %s", file_id, exc_info=True)
                failed.add(file_id)
        doomed = set(page_ids)
        for page_id, thumb in self.thumb_files():
            if page_id in doomed:
                try:
                    thumb.unlink(missing_ok=True)
                except OSError:
                    logger.warning("could not delete rendition %s", thumb.name, exc_info=True)
                    failed.add(page_id)
        return sorted(failed)

    # -- recovery scans ---------------------------------------------------------------------

    def page_files(self) -> Iterator[tuple[str, Path]]:
        """(page id, path) of every finished page file on disk."""
        for path in self.pages_dir.iterdir():
            stem = path.name.removesuffix(PAGE_SUFFIX)
            if path.name.endswith(PAGE_SUFFIX) and is_id(stem):
                yield stem, path

    def thumb_files(self) -> Iterator[tuple[str, Path]]:
        """(page id, path) of every finished rendition on disk."""
        for path in self.thumbs_dir.iterdir():
            page_id = path.name.split(".", 1)[0]
            if path.name.endswith(PAGE_SUFFIX) and is_id(page_id):
                yield page_id, path

    def partial_files(self) -> Iterator[Path]:
        """Temporary files of interrupted writes in pages/ and thumbs/."""
        for folder in (self.pages_dir, self.thumbs_dir):
            yield from (p for p in folder.iterdir() if p.name.endswith(PART_SUFFIX))

    def incoming_files(self) -> Iterator[Path]:
        """Everything left in incoming/ (files only)."""
        yield from (p for p in self.incoming_dir.iterdir() if p.is_file() or p.is_symlink())

    def clear_temp(self) -> int:
        """Delete everything in tmp/ (call only when no export runs); returns entries removed."""
        removed = 0
        for entry in self.temp_dir.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
        return removed
