"""The page buffer: documents of ordered pages, encrypted on disk, indexed in SQLite.

``PageStore`` orchestrates the parts: files.py (paths, durable renames), db.py (connection,
schema), index.py (SQL), ordering.py (move/reorder logic), renditions.py (thumbnails),
recovery.py (start-up repair), cache.py (RAM LRU) and scanlet.crypto (encryption at rest:
page files; sealed.py seals the names, tags and metadata in the index).

Thread safety: one SQLite connection guarded by one re-entrant lock; only index work (and the
commit's fsync) runs under it. Reading, decrypting, decoding and encrypting files run outside
it, so viewers and a running scan do not wait on each other's pixels.

Crash safety (``kill -9`` or a power cut at any instant):

- Adding: the encrypted file is complete and fsynced under a temporary name, renamed to
  ``pages/<id>.slc``, the folder is fsynced, and only then is the index row committed
  (``synchronous=FULL``). A crash before the commit leaves a file without a row, which
  :meth:`PageStore.recover` deletes; a page whose ``add_page`` returned has its row and its
  file. A listed page therefore always has a complete file.
- Deleting: rows are deleted and committed first, files removed after. A crash in between
  leaves files without rows, again removed by recovery.
- Every read checks the AES-GCM tag and the SHA-256 recorded at add time, so a damaged or
  swapped file is reported as PageCorrupt, never served.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from scanlet.buffer import db, index, jobs, ordering
from scanlet.buffer.cache import ByteLRU
from scanlet.buffer.files import PageFiles, fsync_dir
from scanlet.buffer.ids import new_id
from scanlet.buffer.recovery import RecoveryReport, recover
from scanlet.buffer.renditions import CacheKey, RenderedImage, Renditions
from scanlet.buffer.rows import StoredPage, clean_tags, metadata_json, now, tags_json, to_text
from scanlet.buffer.sealed import FieldSealer
from scanlet.codecs.decode import (
    MEDIA_TYPE,
    ImageDecodeError,
    ImageFacts,
    ImageFormat,
    decoded,
    inspect,
)
from scanlet.codecs.render import preview_of_image
from scanlet.config import Home
from scanlet.crypto import ENCRYPTION_OVERHEAD, KEY_BYTES, read_encrypted, write_encrypted
from scanlet.errors import InvalidSetting, PageCorrupt, PageNotFound, StorageError
from scanlet.models import DocumentInfo, JobInfo, PageInfo, ScannedPage, Source

logger = logging.getLogger(__name__)

#: dpi assumed for an imported image whose file records none (the usual scan resolution).
DEFAULT_DPI = 300.0
MAX_NAME_CHARS = 500


def _annotation_changes(tags: list[str] | None,
                        metadata: dict[str, Any] | None) -> dict[str, str]:
    """Column values for the tags/metadata given (None = unchanged; replaced whole)."""
    changes: dict[str, str] = {}
    if tags is not None:
        changes["tags"] = tags_json(clean_tags(tags))
    if metadata is not None:
        changes["metadata"] = metadata_json(metadata)
    return changes


def _valid_dpi(dpi: float) -> bool:
    return math.isfinite(dpi) and 0 < dpi <= 100_000


class PageStore:
    """Documents of ordered pages, kept encrypted under ``<home>/cache`` (see module doc).

    ``key`` is the install's cache key (crypto.load_or_create_key). ``ram_cache_bytes`` bounds
    the LRU cache of decrypted originals and renditions (0 disables it). ``fsync=False`` skips
    fsyncs: pages then survive a process crash but not a power cut.
    """

    def __init__(
        self,
        home: Home,
        key: bytes,
        *,
        ram_cache_bytes: int = 256 * 2**20,
        fsync: bool = True,
    ) -> None:
        if len(key) != KEY_BYTES:
            raise StorageError(f"the cache key must be {KEY_BYTES} bytes, got {len(key)}")
        self._home = home
        self._key = key
        self._fsync = fsync
        self._files = PageFiles(home)
        self._files.ensure_dirs()
        self._cache: ByteLRU[CacheKey] = ByteLRU(ram_cache_bytes)
        self._renditions = Renditions(
            self._files, key, self._cache, lambda stored, cache: self._original(stored, cache=cache)
        )
        self._lock = threading.RLock()
        self._adding: set[str] = set()
        self._fields = FieldSealer(key)
        self._conn: sqlite3.Connection | None = db.connect(home.database, durable=fsync,
                                                          fields=self._fields)
        logger.debug("page store opened at %s (fsync=%s)", home.cache, fsync)

    # -- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the index and drop the RAM cache; later calls raise StorageError.

        The WAL is checkpointed into the database and truncated first, so a stopped service
        leaves one self-contained file (and the next start has no WAL to replay).
        """
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("PRAGMA optimize")
                except sqlite3.Error:
                    logger.debug("PRAGMA optimize failed on close", exc_info=True)
                try:
                    busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                    if busy:
                        logger.info("page index: WAL checkpoint incomplete (another "
                                    "connection reads); SQLite finishes it later")
                except sqlite3.Error:
                    logger.warning("page index: WAL checkpoint failed on close", exc_info=True)
                self._conn.close()
                self._conn = None
            self._cache.clear()

    def __enter__(self) -> PageStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def home(self) -> Home:
        return self._home

    @property
    def temp_dir(self) -> Path:
        """Scratch folder for large exports (``cache/tmp``, emptied by :meth:`recover`)."""
        return self._files.temp_dir

    @property
    def ram_cache(self) -> ByteLRU[CacheKey]:
        """The RAM cache (for metrics: ``size``, ``max_bytes``, ``hits``, ``misses``)."""
        return self._cache

    @contextmanager
    def _locked(self, what: str, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection under the lock, in a write transaction if ``write``."""
        with self._lock, db.translated(what):
            if self._conn is None:
                raise StorageError("the page store is closed")
            if write:
                with db.transaction(self._conn):
                    yield self._conn
            else:
                yield self._conn

    # -- documents ----------------------------------------------------------------------------

    def create_document(
        self, name: str = "", tags: list[str] | None = None, metadata: dict[str, Any] | None = None
    ) -> DocumentInfo:
        """A new empty document."""
        values = (self._clean_name(name), tags_json(clean_tags(tags)), metadata_json(metadata))
        document_id = new_id()
        with self._locked("create_document", write=True) as conn:
            index.insert_document(conn, self._fields, document_id, *values, created=to_text(now()))
            return index.get_document(conn, self._fields, document_id)

    def list_documents(self) -> list[DocumentInfo]:
        """All documents, oldest first."""
        with self._locked("list_documents") as conn:
            return index.list_documents(conn, self._fields)

    def get_document(self, document_id: str) -> DocumentInfo:
        """One document; DocumentNotFound if unknown."""
        with self._locked("get_document") as conn:
            return index.get_document(conn, self._fields, document_id)

    def update_document(
        self,
        document_id: str,
        *,
        name: str | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> DocumentInfo:
        """Change the given fields (None = unchanged; tags and metadata are replaced whole)."""
        changes = _annotation_changes(tags, metadata)
        if name is not None:
            changes["name"] = self._clean_name(name)
        with self._locked("update_document", write=True) as conn:
            index.require_document(conn, document_id)
            index.update_columns(conn, self._fields, "documents", document_id, changes)
            return index.get_document(conn, self._fields, document_id)

    def delete_document(self, document_id: str) -> None:
        """Delete a document with its pages and their files."""
        with self._locked("delete_document", write=True) as conn:
            index.require_document(conn, document_id)
            extra = index.extra_files(conn, index.page_ids(conn, document_id))
            page_ids = index.delete_document(conn, document_id)
        self._forget_pages(page_ids, extra)
        logger.info("deleted document %s with %d pages", document_id, len(page_ids))

    # -- adding pages -------------------------------------------------------------------------

    def add_page(
        self, document_id: str, page: ScannedPage, *, job_id: str | None = None
    ) -> PageInfo:
        """Take ownership of a scanned page's encrypted file and append it to a document.

        The file must be in ``cache/incoming``. It is decrypted once to check the key, the
        integrity tag and the image header, moved to ``cache/pages`` and indexed. On any
        error the file stays where it was. Where the worker's declared size, mode or bit depth
        disagree with the file, the file wins (and a warning is logged).
        Raises DocumentNotFound, PageCorrupt (wrong key, damaged, not the declared format) or
        StorageError.
        """
        source_path = self._files.incoming_file(page.path)
        if page.sha256 is not None:
            facts, digest, size = self._declared(page, source_path)
        else:
            facts, digest, size = self._inspected(page, source_path)
        if not _valid_dpi(page.dpi):
            raise StorageError(f"handed-over page {page.path} has an invalid dpi {page.dpi}")

        def place(destination: Path) -> Callable[[], None]:
            try:
                os.replace(source_path, destination)
            except OSError as exc:
                raise StorageError(f"cannot move {page.path} into the buffer: {exc}") from exc
            return lambda: self._undo_move(destination, source_path)

        info = self._add(document_id, facts, digest, size, place, dpi=page.dpi,
                         source=page.source, job_id=job_id)
        if page.preview_path is not None:
            self._adopt_preview(info.id, digest, page.preview_path)
        return info

    def _adopt_preview(self, page_id: str, digest: str, raw_path: str) -> None:
        """Keep the preview a scan worker made with the page (already encrypted with the cache
        key, so a rename). A cache: any problem only costs making it later."""
        try:
            source = self._files.incoming_file(raw_path)
        except StorageError as exc:
            logger.warning("ignoring a handed-over preview: %s", exc)
            return
        try:
            self._renditions.adopt_preview(page_id, digest, source)
        except OSError as exc:
            logger.warning("could not keep the preview %s: %s", source.name, exc)
            source.unlink(missing_ok=True)

    def _declared(self, page: ScannedPage, path: Path) -> tuple[ImageFacts, str, int]:
        """Facts of a page whose writer (our scan worker) declared them with its digest.

        Not decrypted again here (that costs ~10 ms of the service's CPU per A4 page); the
        file's size must match the declared size, and every later read checks the AES-GCM tag
        and this digest.
        """
        try:
            stored_size = path.stat().st_size
        except OSError as exc:
            raise PageCorrupt(f"handed-over page {page.path} is missing: {exc}") from exc
        if stored_size != page.bytes + ENCRYPTION_OVERHEAD:
            raise PageCorrupt(f"handed-over page {page.path} has {stored_size} bytes, expected "
                              f"{page.bytes + ENCRYPTION_OVERHEAD}")
        facts = ImageFacts(format=page.format, width=page.width, height=page.height,
                           mode=page.mode, bit_depth=page.bit_depth, pil_mode="", dpi=page.dpi)
        return facts, str(page.sha256), page.bytes

    def _inspected(self, page: ScannedPage, path: Path) -> tuple[ImageFacts, str, int]:
        """Facts read from the file itself: decrypted once to check key, tag and header."""
        data = read_encrypted(path, self._key)
        try:
            facts = inspect(data, page.format)
        except ImageDecodeError as exc:
            raise PageCorrupt(f"handed-over page {page.path} is unusable: {exc}") from exc
        declared = (page.width, page.height, page.mode, page.bit_depth, page.bytes)
        actual = (facts.width, facts.height, facts.mode, facts.bit_depth, len(data))
        if declared != actual:
            logger.warning("handed-over page %s declares %s but the file is %s; using the "
                           "file's values", page.path, declared, actual)
        return facts, hashlib.sha256(data).hexdigest(), len(data)

    def add_image(
        self,
        document_id: str,
        data: bytes,
        fmt: Literal["jpeg", "png"],
        *,
        dpi: float | None = None,
        source: Source | None = None,
        decoded: tuple[bytes | None] | None = None,
    ) -> PageInfo:
        """Import encoded image bytes as a new last page of a document.

        The image is fully decoded once to prove it is complete; other formats, unsupported
        pixel layouts (see codecs.decode.ACCEPTED_MODES) and decompression bombs are refused
        with InvalidSetting. ``dpi`` defaults to the file's own, else :data:`DEFAULT_DPI`.

        ``decoded=(preview,)`` says an import worker already decoded these very bytes in full
        and made their preview (None: the page is small enough to need none): only the header
        is read here, so this process never decodes a client's pixels (security.md 5.1).
        """
        if fmt not in MEDIA_TYPE:
            raise InvalidSetting(f"unsupported format {fmt!r}", field="format",
                                 allowed=sorted(MEDIA_TYPE))
        if dpi is not None and not _valid_dpi(float(dpi)):
            raise InvalidSetting("dpi must be a positive number", field="dpi")
        try:
            source = Source(source) if source is not None else None
        except ValueError as exc:
            raise InvalidSetting(f"unknown source {source!r}", field="source",
                                 allowed=[s.value for s in Source]) from exc
        if decoded is None:
            facts, preview = self._checked_image(data, fmt)
        else:
            facts, preview = self._header_facts(data, fmt), decoded[0]

        digest = hashlib.sha256(data).hexdigest()
        info = self._add(document_id, facts, digest, len(data), self._placer(data),
                         dpi=float(dpi) if dpi is not None else (facts.dpi or DEFAULT_DPI),
                         source=source, job_id=None)
        if preview is not None:
            self._renditions.keep_preview(info.id, digest, preview)
        return info

    def copy_page(self, page_id: str, document_id: str, *,
                  to_index: int | None = None) -> PageInfo:
        """Copy a page's current image (with its dpi, source, tags and metadata, not its edit
        history) into a document as a new page; the original stays where it is.

        The copy is inserted at the 0-based ``to_index`` (0 to the document's page count;
        ``None`` appends). Its bytes are read back and verified, then written under a fresh
        encryption nonce, through the same durable add path as an import. PageNotFound,
        DocumentNotFound, PageCorrupt, InvalidSetting (``to_index`` out of range).
        """
        stored = self._stored(page_id)
        info = stored.info
        data = self._original(stored, cache=False)
        facts = ImageFacts(format=info.format, width=info.width, height=info.height,
                           mode=info.mode, bit_depth=info.bit_depth, pil_mode="", dpi=info.dpi)

        with self._locked("copy_page") as conn:  # check the target before writing a file
            order = index.page_order(conn, document_id)
        if to_index is not None and not 0 <= to_index <= len(order):
            raise InvalidSetting(f"to_index must be 0-{len(order)}", field="to_index",
                                 allowed=[0, len(order)])
        copy = self._add(document_id, facts, stored.sha256, len(data), self._placer(data),
                         dpi=info.dpi, source=info.source, job_id=None)
        if info.tags or info.metadata:
            copy = self.update_page(copy.id, tags=info.tags, metadata=info.metadata)
        if to_index is not None and to_index < copy.index:
            self.move_pages(document_id, [copy.id], to_index)
            copy = self.get_page(copy.id)
        return copy

    def _placer(self, data: bytes) -> Callable[[Path], Callable[[], None]]:
        """For :meth:`_add`: writes ``data`` encrypted as the new page file and gives back
        how to remove it again (when the database commit fails)."""
        def place(destination: Path) -> Callable[[], None]:
            try:
                write_encrypted(destination, self._key, data, fsync=self._fsync)
            except OSError as exc:
                raise StorageError(f"cannot write the page file: {exc}") from exc
            return lambda: destination.unlink(missing_ok=True)

        return place

    @staticmethod
    def _header_facts(data: bytes, fmt: ImageFormat) -> ImageFacts:
        """Facts of image bytes a worker decoded already: the header only, no pixels."""
        try:
            return inspect(data, fmt)
        except ImageDecodeError as exc:
            raise InvalidSetting(str(exc), field="data") from exc

    @staticmethod
    def _checked_image(data: bytes, fmt: ImageFormat) -> tuple[ImageFacts, bytes | None]:
        """Facts of image bytes from outside (an import, an edit), fully decoded to prove them
        complete; and the page's preview, made from those pixels while they are in hand (about
        11 ms, against 40 ms to decode the stored page again for its first thumbnail).
        InvalidSetting for anything that does not decode."""
        try:
            facts = inspect(data, fmt)
            with decoded(data, fmt, "view") as image:
                return facts, preview_of_image(image)
        except ImageDecodeError as exc:
            raise InvalidSetting(str(exc), field="data") from exc

    def _add(
        self,
        document_id: str,
        facts: ImageFacts,
        digest: str,
        size: int,
        place: Callable[[Path], Callable[[], None]],
        *,
        dpi: float,
        source: Source | None,
        job_id: str | None,
    ) -> PageInfo:
        """Shared add path: file durable at its final name first, then the row commits.

        ``place`` puts the encrypted file at the given path and returns how to undo that.
        """
        with self._locked("add_page") as conn:
            index.require_document(conn, document_id)  # fail before touching files
            page_id = new_id()
            self._adding.add(page_id)  # recovery in this process leaves it alone
        try:
            undo = place(self._files.page_path(page_id))
            committed = False
            try:
                if self._fsync:
                    fsync_dir(self._files.pages_dir)
                info = self._insert(document_id, page_id, facts, digest, size, dpi, source,
                                    job_id)
                committed = True
            finally:
                if not committed:
                    undo()
        finally:
            with self._lock:
                self._adding.discard(page_id)
        # Not put in the RAM cache: a long job would fill it with originals nobody asked for
        # (viewers ask for thumbnails); the service's peak memory stays flat during a job.
        return info

    def _insert(
        self, document_id: str, page_id: str, facts: ImageFacts, digest: str, size: int,
        dpi: float, source: Source | None, job_id: str | None,
    ) -> PageInfo:
        with self._locked("add_page", write=True) as conn:
            index.require_document(conn, document_id)
            info = PageInfo(
                id=page_id, document_id=document_id,
                index=index.next_position(conn, document_id), width=facts.width,
                height=facts.height, dpi=dpi, bit_depth=facts.bit_depth, mode=facts.mode,
                format=facts.format, bytes=size, source=source, job_id=job_id,
                created=now(),
            )
            index.insert_page(conn, self._fields, info, digest)
        return info

    def _undo_move(self, moved: Path, original: Path) -> None:
        try:
            os.replace(moved, original)
        except OSError:
            logger.exception("could not move %s back to %s; deleting it", moved, original)
            moved.unlink(missing_ok=True)

    # -- reading pages ------------------------------------------------------------------------

    def list_pages(self, document_id: str) -> list[PageInfo]:
        """A document's pages in order; DocumentNotFound if unknown."""
        with self._locked("list_pages") as conn:
            return index.list_pages(conn, self._fields, document_id)

    def get_page(self, page_id: str) -> PageInfo:
        """One page; PageNotFound if unknown."""
        return self._stored(page_id).info

    def _stored(self, page_id: str) -> StoredPage:
        with self._locked("get_page") as conn:
            return index.get_page(conn, self._fields, page_id)

    def ensure_preview(self, page_id: str) -> None:
        """Make and keep the page's preview now if it has none (codecs/render.py), so that its
        first thumbnail is cheap. PageNotFound, PageCorrupt."""
        self._renditions.preview(self._stored(page_id))

    def read_original(self, page_id: str, *, cache: bool = True) -> bytes:
        """The page's original encoded bytes, decrypted and verified.

        ``cache=False`` still uses a cached copy but does not add one (bulk readers such as
        exports use it so they do not evict what viewers are looking at).
        Raises PageNotFound, or PageCorrupt for a missing, damaged or wrong-key file.
        """
        return self._original(self._stored(page_id), cache=cache)

    def _original(self, stored: StoredPage, *, cache: bool = True) -> bytes:
        key: CacheKey = ("o", stored.info.id, stored.sha256)
        data = self._cache.get(key)
        if data is not None:
            return data
        data = read_encrypted(self._files.page_path(stored.file_id), self._key)
        if hashlib.sha256(data).hexdigest() != stored.sha256:
            raise PageCorrupt(f"page {stored.info.id}'s file does not match its index entry",
                              page_id=stored.info.id)
        if cache:
            self._cache.put(key, data)
        return data

    def render(
        self,
        page_id: str,
        *,
        width: int | None = None,
        height: int | None = None,
        fmt: Literal["jpeg", "png"] = "jpeg",
        quality: int = 85,
    ) -> RenderedImage:
        """The page fitted into ``width`` x ``height`` (aspect kept, never upscaled) as ``fmt``.

        With no resize and the page's own format, the original bytes are returned untouched.
        Other renditions are cached in RAM and encrypted in ``cache/thumbs``, keyed by page
        content and parameters; ``quality`` applies to JPEG only. InvalidSetting for bad
        parameters, PageNotFound, PageCorrupt.
        """
        return self._renditions.render(self._stored(page_id), width, height, fmt, quality)

    # -- changing pages -----------------------------------------------------------------------

    def update_page(
        self,
        page_id: str,
        *,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> PageInfo:
        """Change a page's tags and/or metadata (None = unchanged; replaced whole)."""
        changes = _annotation_changes(tags, metadata)
        with self._locked("update_page", write=True) as conn:
            index.get_page(conn, self._fields, page_id)
            index.update_columns(conn, self._fields, "pages", page_id, changes)
            return index.get_page(conn, self._fields, page_id).info

    def transfer_pages(self, page_ids: list[str], document_id: str) -> list[PageInfo]:
        """Move pages (in this order) to the end of another document, versions and all.
        All or nothing: PageNotFound if any is unknown, DocumentNotFound for the target."""
        unique = list(dict.fromkeys(page_ids))
        with self._locked("transfer_pages", write=True) as conn:
            owners = index.page_owners(conn, unique)
            missing = [p for p in unique if p not in owners]
            if missing:
                raise PageNotFound(f"no page {missing[0]}", page_ids=missing)
            index.transfer(conn, unique, document_id)
            return index.list_pages(conn, self._fields, document_id)

    # -- editing ------------------------------------------------------------------------------

    def replace_image(self, page_id: str, data: bytes, fmt: Literal["jpeg", "png"], *,
                      dpi: float) -> PageInfo:
        """Store ``data`` as the page's new current version; the previous one is kept so the
        edit can be undone (:meth:`undo_edit`) until the page is deleted.

        The new file is durable before the row commits; a crash in between leaves a stray
        file that :meth:`recover` deletes. InvalidSetting for undecodable data or a bad dpi,
        PageNotFound, StorageError.
        """
        if fmt not in MEDIA_TYPE:
            raise InvalidSetting(f"unsupported format {fmt!r}", field="format",
                                 allowed=sorted(MEDIA_TYPE))
        if not _valid_dpi(float(dpi)):
            raise InvalidSetting("dpi must be a positive number", field="dpi")
        facts, preview = self._checked_image(data, fmt)
        self._stored(page_id)  # PageNotFound before writing anything
        file_id = new_id()
        path = self._files.page_path(file_id)
        with self._lock:
            self._adding.add(file_id)
        try:
            try:
                write_encrypted(path, self._key, data, fsync=self._fsync)
                if self._fsync:
                    fsync_dir(self._files.pages_dir)
            except OSError as exc:
                path.unlink(missing_ok=True)
                raise StorageError(f"cannot write the page file: {exc}") from exc
            try:
                with self._locked("replace_image", write=True) as conn:
                    stored = index.get_page(conn, self._fields, page_id)
                    new = stored.info.model_copy(update={
                        "width": facts.width, "height": facts.height, "dpi": float(dpi),
                        "bit_depth": facts.bit_depth, "mode": facts.mode,
                        "format": facts.format, "bytes": len(data)})
                    index.push_version(conn, stored, new, hashlib.sha256(data).hexdigest(),
                                       file_id)
                    info = index.get_page(conn, self._fields, page_id).info
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        finally:
            with self._lock:
                self._adding.discard(file_id)
        if preview is not None:
            self._renditions.keep_preview(page_id, hashlib.sha256(data).hexdigest(), preview)
        return info

    def undo_edit(self, page_id: str, *, to_original: bool = False) -> PageInfo:
        """Make the previous version current (or the first, with ``to_original``); the
        undone versions' files are deleted. InvalidSetting when the page was never edited."""
        with self._locked("undo_edit", write=True) as conn:
            stored = index.get_page(conn, self._fields, page_id)
            unused = index.pop_version(conn, stored, to_original=to_original)
            if unused is None:
                raise InvalidSetting(f"page {page_id} has no edit to undo", field="page_id")
            info = index.get_page(conn, self._fields, page_id).info
        for file_id in unused:
            try:
                self._files.page_path(file_id).unlink(missing_ok=True)
            except OSError:
                logger.warning("could not delete undone version %s", file_id, exc_info=True)
        self._cache.discard_if(lambda key: key[0] == "o" and key[1] == page_id)
        return info

    def move_pages(self, document_id: str, page_ids: list[str], to_index: int) -> list[PageInfo]:
        """Move a selection of a document's pages so the first lands at ``to_index``.

        The selection keeps its relative order in the document, whatever order the ids are
        given in; ``to_index`` is the index of the first moved page in the result, from 0 to
        ``page_count - len(page_ids)``. Unknown ids raise PageNotFound; pages of another
        document, duplicates, an empty selection or an index out of range raise
        InvalidSetting. Returns the document's pages in their new order.
        """
        ordering.check_selection(page_ids)
        with self._locked("move_pages", write=True) as conn:
            order = index.page_order(conn, document_id)
            self._require_members(conn, document_id, order, page_ids)
            index.write_order(conn, ordering.moved(order, page_ids, to_index), order)
            return index.list_pages(conn, self._fields, document_id)

    def reorder(self, document_id: str, page_ids: list[str]) -> list[PageInfo]:
        """Give a document a complete new page order; InvalidSetting unless a permutation."""
        with self._locked("reorder", write=True) as conn:
            order = index.page_order(conn, document_id)
            ordering.check_permutation(order, page_ids)
            index.write_order(conn, page_ids, order)
            return index.list_pages(conn, self._fields, document_id)

    def delete_pages(self, page_ids: list[str]) -> int:
        """Delete pages of any documents; all or nothing: PageNotFound if any is unknown."""
        unique = list(dict.fromkeys(page_ids))
        if not unique:
            return 0
        with self._locked("delete_pages", write=True) as conn:
            owners = index.page_owners(conn, unique)
            missing = [p for p in unique if p not in owners]
            if missing:
                raise PageNotFound(f"no page {missing[0]}", page_ids=missing)
            extra = index.extra_files(conn, unique)
            index.delete_pages(conn, unique)
        self._forget_pages(unique, extra)
        return len(unique)

    def delete_all_pages(self, document_id: str | None = None) -> int:
        """Delete every page of a document, or of the whole buffer (documents are kept)."""
        with self._locked("delete_all_pages", write=True) as conn:
            page_ids = index.page_ids(conn, document_id)
            extra = index.extra_files(conn, page_ids)
            index.delete_pages(conn, page_ids)
        self._forget_pages(page_ids, extra)
        logger.info("deleted %d pages of %s", len(page_ids), document_id or "the whole buffer")
        return len(page_ids)

    # -- jobs ---------------------------------------------------------------------------------

    def save_job(self, job: JobInfo) -> None:
        """Insert or replace a job's persisted state."""
        with self._locked("save_job") as conn:
            jobs.save(conn, job)

    def get_job(self, job_id: str) -> JobInfo:
        """One job; JobNotFound if unknown."""
        with self._locked("get_job") as conn:
            return jobs.get(conn, job_id)

    def list_jobs(self) -> list[JobInfo]:
        """All jobs, oldest first."""
        with self._locked("list_jobs") as conn:
            return jobs.list_all(conn)

    def mark_unfinished_jobs_interrupted(self) -> list[str]:
        """At start-up: pending/running jobs become ``interrupted`` (error None); their ids."""
        with self._locked("mark_unfinished_jobs_interrupted") as conn:
            return jobs.mark_unfinished_interrupted(conn)

    # -- recovery -----------------------------------------------------------------------------

    def recover(self) -> RecoveryReport:
        """Repair files and index after a crash; call once at start-up (see recovery.py).

        Deletes ``incoming/`` leftovers, ``*.part`` files, export scratch folders, page files
        without a row and renditions of unknown pages; drops rows whose file is missing
        (logged at ERROR).
        """
        with self._locked("recover") as conn:
            report = recover(conn, self._files, frozenset(self._adding))
        if report.missing_pages_dropped:
            dropped = set(report.missing_pages_dropped)
            self._cache.discard_if(lambda key: key[1] in dropped)
        return report

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _clean_name(name: str) -> str:
        if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
            raise InvalidSetting(f"name must be a string of at most {MAX_NAME_CHARS} characters",
                                 field="name")
        return name

    @staticmethod
    def _require_members(
        conn: sqlite3.Connection, document_id: str, order: list[str], page_ids: list[str]
    ) -> None:
        members = set(order)
        for page_id in page_ids:
            if page_id in members:
                continue
            if not index.page_exists(conn, page_id):
                raise PageNotFound(f"no page {page_id}", page_id=page_id)
            raise InvalidSetting(f"page {page_id} is not in document {document_id}",
                                 field="page_ids")

    def _forget_pages(self, page_ids: list[str], extra_files: Sequence[str] = ()) -> None:
        """After the rows are committed: remove files (the pages' own and ``extra_files``:
        edited versions) and cached bytes (best effort; files left behind are deleted by the
        next :meth:`recover`)."""
        if not page_ids:
            return
        failed = self._files.remove_pages(page_ids, extra_files)
        if failed:
            logger.warning("files of %d deleted pages remain until the next start-up",
                           len(failed))
        doomed = set(page_ids)
        self._cache.discard_if(lambda key: key[1] in doomed)
