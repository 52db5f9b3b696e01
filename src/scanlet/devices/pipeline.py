"""The page pipeline of a scan: encode and store page N while N+1 is scanned.

::

    scan thread --frame()--> encoder thread(s) --in order--> writer thread --> emit_page
    (driver.scan)            (JPEG/PNG encode)               (encrypt, write, fsync)
               --encoded()-----------------------^  (already encoded: stored as delivered)

:class:`PagePipeline` is the :class:`~scanlet.devices.driver.PageSink` every driver hands its
pages to; the worker (worker.py) makes one per scan, whatever the driver, so encoding,
encryption and writing are the same for SANE and every later technology. An image the device
delivered already encoded (:class:`~scanlet.devices.driver.DeliveredImage`, a JPEG from an
eSCL scanner) skips the encoders and is stored byte for byte, without a preview (the service
makes it later, see buffer/backfill).

Reading a page from the device, encoding it and writing it encrypted each take tens of
milliseconds for an A4 colour page; running them one after the other would add them up.
Memory stays bounded: at most ``depth`` raw pages exist at once (the one being scanned
counts) and at most ``2 * depth`` pages wait to be written, because
:meth:`PagePipeline.wait_for_room` blocks the scan thread until an encoder (or the writer, on a
slow disk) has caught up. Pages are emitted strictly in scan order, each only after its file is
complete on disk, so a receiver never learns about a half-written page.

Each page also gets its preview (codecs/render.py) from the pixels in hand, about 10 ms that
save the service 40 ms at the page's first thumbnail, unless the scan thread had to wait for
room before reading it: then the encoders are the bottleneck (a device faster than this
machine's CPU) and the preview is left to the service, so that it never slows a scan down.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import queue
import secrets
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from scanlet.crypto import write_encrypted
from scanlet.devices.driver import DeliveredImage, PageEmitter
from scanlet.devices.encode import EncodedPage, RawPage, encode_page
from scanlet.errors import ScanletError, StorageError
from scanlet.models import Compression, ScannedPage

log = logging.getLogger(__name__)

_EXTENSIONS = {"jpeg": "jpg", "png": "png"}


def default_encoders() -> int:
    """Encoder threads: two where there are two cores (measured fastest on 2 vCPUs: the scan
    thread mostly waits on the device), one on a single core."""
    return max(1, min(2, os.cpu_count() or 1))


@dataclass(frozen=True)
class PageStore:
    """Where the worker puts finished pages: encrypted files in the service's incoming dir."""

    incoming_dir: Path
    key: bytes
    fsync: bool = True

    def write(self, page: EncodedPage) -> ScannedPage:
        """Encrypt and atomically write ``page``; the returned record hands the file over."""
        stem = f"page-{secrets.token_hex(10)}"
        path = self.incoming_dir / f"{stem}.{_EXTENSIONS[page.format]}.enc"
        try:
            write_encrypted(path, self.key, page.data, fsync=self.fsync)
        except OSError as exc:
            raise StorageError(f"could not write a scanned page to {self.incoming_dir}: {exc}",
                               path=str(path), errno=exc.errno) from exc
        return ScannedPage(
            path=str(path), format=page.format, width=page.width, height=page.height,
            dpi=page.dpi, bit_depth=page.bit_depth, mode=page.mode, bytes=len(page.data),
            source=page.source, sha256=hashlib.sha256(page.data).hexdigest(),
            preview_path=self._write_preview(stem, page.preview),
        )

    def _write_preview(self, stem: str, preview: bytes | None) -> str | None:
        """Write the page's preview next to it; a cache, so not fsynced, and a failure only
        costs the service the time to make it itself (hence None, not an error)."""
        if preview is None:
            return None
        path = self.incoming_dir / f"{stem}.preview.jpg.enc"
        try:
            write_encrypted(path, self.key, preview, fsync=False)
        except OSError as exc:
            log.warning("could not write a page preview to %s: %s", self.incoming_dir, exc)
            path.unlink(missing_ok=True)
            return None
        return str(path)


class PagePipeline:
    """Bounded, ordered encode/write pipeline for one scan: the
    :class:`~scanlet.devices.driver.PageSink` drivers write to; see the module docstring.

    Use from a single scan thread: ``wait_for_room()`` before reading each page from the
    device, ``frame()`` or ``encoded()`` once it is read, ``finish()`` at the end (the worker
    calls it also after a scan error, so the pages read before it are still stored and
    emitted).
    """

    def __init__(self, store: PageStore, emit: PageEmitter, *, compression: Compression,
                 jpeg_quality: int, depth: int = 2, encoders: int | None = None) -> None:
        if depth < 1:
            raise ValueError("depth must be >= 1")
        self._store = store
        self._emit = emit
        self._compression = compression
        self._quality = jpeg_quality
        self._depth = depth
        self._pool = ThreadPoolExecutor(encoders or default_encoders(),
                                        thread_name_prefix="page-encode")
        self._ready: queue.Queue[Future[EncodedPage] | None] = queue.Queue()
        self._cond = threading.Condition()
        self._raw_in_flight = 0
        self._unwritten = 0
        self._error: BaseException | None = None
        self._emitted = 0
        self._finished = False
        self._behind = False  # the scan thread waited for room before its current page
        #: Pages handed over without a preview because the encoders were behind.
        self.previews_skipped = 0
        self._writer = threading.Thread(target=self._write_loop, name="page-write", daemon=True)
        self._writer.start()

    @property
    def emitted(self) -> int:
        """Pages stored and emitted so far."""
        return self._emitted

    def wait_for_room(self) -> None:
        """Block until another raw page may exist; raise the pipeline's first error, if any."""
        with self._cond:
            self._behind = False
            while (self._raw_in_flight >= self._depth
                   or self._unwritten >= 2 * self._depth) and self._error is None:
                self._behind = True
                self._cond.wait()
            self._raise_if_failed()

    def frame(self, page: RawPage) -> None:
        """Hand a raw frame over for encoding and storing (returns at once; ``page.release``
        is called once it is encoded)."""
        with self._cond:
            self._raise_if_failed()
            self._raw_in_flight += 1
            self._unwritten += 1
            with_preview = not self._behind
        if not with_preview:
            self.previews_skipped += 1
        self._ready.put(self._pool.submit(self._encode, page, with_preview))

    def encoded(self, page: DeliveredImage) -> None:
        """Hand over an image the device delivered encoded: stored as delivered (never
        decoded or re-encoded here), without a preview (returns at once)."""
        if page.format not in _EXTENSIONS:
            raise ValueError(f"cannot store a delivered {page.format!r} image")
        stored = dataclasses.replace(page, preview=None)
        future: Future[EncodedPage] = Future()
        future.set_result(stored)
        with self._cond:
            self._raise_if_failed()
            self._unwritten += 1
        self._ready.put(future)

    def finish(self) -> int:
        """Wait until every page handed over is stored and emitted; return the count.

        Raises the first error of the pipeline (as a ScanletError) if one happened.
        """
        if not self._finished:
            self._finished = True
            self._ready.put(None)
            self._writer.join()
            self._pool.shutdown(wait=True)
        with self._cond:
            self._raise_if_failed()
        return self._emitted

    def _encode(self, raw: RawPage, with_preview: bool) -> EncodedPage:
        try:
            return encode_page(raw, self._compression, self._quality,
                               with_preview=with_preview)
        finally:
            if raw.release is not None:
                raw.release()
            with self._cond:
                self._raw_in_flight -= 1
                self._cond.notify_all()

    def _write_loop(self) -> None:
        while True:
            future = self._ready.get()
            if future is None:
                return
            try:
                if self._error is not None:
                    future.cancel()
                    continue  # keep pages contiguous: nothing after a failed page is emitted
                page = self._store.write(future.result())
                self._emit(page)
                self._emitted += 1
            except BaseException as exc:
                log.error("storing a scanned page failed: %s", exc)
                with self._cond:
                    self._error = exc
            finally:
                with self._cond:
                    self._unwritten -= 1
                    self._cond.notify_all()

    def _raise_if_failed(self) -> None:
        error = self._error
        if error is None:
            return
        if isinstance(error, ScanletError):
            raise error
        raise StorageError(f"storing a scanned page failed: {error}") from error
