"""PDF and image files -> pages, through a resource-limited worker process (the service's side).

No client file is decoded in the service: :func:`run_worker` (:func:`import_pdf` for PDFs)
starts ``python -m scanlet.importing.pdf_worker`` (an argument list, no shell; a fresh
interpreter, never a fork of the threaded service: :mod:`scanlet.childproc`, the worker-process
kit, as are the handshake, the JSON-lines events and the log relay) for this one file, hands it
the password on stdin and stores each page the worker announces with the preview the worker
made from its pixels (the store reads only the page's header). The worker limits its own
memory and CPU time (RLIMIT_AS, RLIMIT_CPU); this side adds the wall-clock limits: at most
:attr:`PdfLimits.page_timeout` seconds without news, :attr:`PdfLimits.total_timeout` for the
whole file; past either the worker is killed and the import is refused (413, ``time``).

Page files travel through a private folder (``mkdtemp``: 0700) under the buffer's scratch
folder and are deleted as soon as they are stored; the folder is removed at the end whatever
happens (and by the store's start-up recovery after a crash).

Rasterising dpi: 200 by default (:data:`DEFAULT_DPI`): text stays sharp on screen and in
print and an A4 page is 1654 x 2339 pixels (about 0.5 MB as JPEG); pass 300 for OCR of small
print. Pages that are one image are extracted at their own resolution whatever the dpi.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from scanlet.childproc import (
    LineReader,
    child_environment,
    module_command,
    relog_file,
    send_hello,
    spawn,
)
from scanlet.errors import ScanletError
from scanlet.importing.budget import MB, RENDER_BYTES_PER_PIXEL, WORKER_BASE_BYTES
from scanlet.importing.detect import FileFormat
from scanlet.importing.errors import (
    ImportFailed,
    ImportInvalid,
    ImportTooLarge,
    import_error_from_dict,
)
from scanlet.importing.images import Progress, StorePage

logger = logging.getLogger(__name__)
worker_logger = logging.getLogger("scanlet.importing.worker")

WORKER_MODULE = "scanlet.importing.pdf_worker"
#: dpi at which pages that are not a single image are rasterised (see the module doc).
DEFAULT_DPI = 200.0
MIN_DPI, MAX_DPI = 10.0, 2400.0
#: Memory the worker needs besides page pixels (interpreter, qpdf, pdfium: ~60 MB measured)
#: and per pixel of the largest page (pdfium's bitmap, the RGB copy, the grey test).
_MEMORY_BASE = WORKER_BASE_BYTES
_MEMORY_PER_PIXEL = RENDER_BYTES_PER_PIXEL
_LOG_TAIL = 256 * 1024
_CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL,
                            signal.SIGFPE, getattr(signal, "SIGTRAP", signal.SIGABRT)})


@dataclass(frozen=True)
class PdfLimits:
    """Bounds of one PDF import (all refusals are ImportTooLarge, 413).

    ``memory_bytes`` None sizes the worker's address space from the pixel cap (and the
    import's decode limits, budget.py). ``max_content_bytes`` caps the inflated content
    streams of one page (0 = no cap).
    """

    max_pages: int = 1000
    memory_bytes: int | None = None
    max_content_bytes: int = 32 * MB
    cpu_seconds: int = 1800
    page_timeout: float = 120.0
    total_timeout: float = 3600.0

    def memory_for(self, max_pixels: int) -> int:
        if self.memory_bytes is not None:
            return self.memory_bytes
        return _MEMORY_BASE + _MEMORY_PER_PIXEL * max_pixels


class _Worker:
    """One running worker (childproc kit): its events as a queue (a reader thread), the
    handshake, acks, and cleanup."""

    def __init__(self, command: list[str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        try:
            self.process = spawn(command, stderr=self._log, new_session=True,
                                 env=_environment(), cwd=log_path.parent)
        except OSError as exc:
            self._log.close()
            raise ImportFailed(f"cannot start the PDF worker: {exc}") from exc
        assert self.process.stdout is not None and self.process.stdin is not None
        self._stdin: IO[bytes] = self.process.stdin
        self.events = LineReader(self.process.stdout, name="pdf-worker-events").events
        self.killed = False

    def hello(self, password: str | None) -> None:
        """The handshake: the password travels on stdin, never in argv."""
        with contextlib.suppress(OSError, ValueError):
            send_hello(self._stdin, {"password": password})

    def send(self, line: bytes) -> None:
        """Write a line; a worker that already exited is noticed through its events."""
        with contextlib.suppress(OSError, ValueError):
            self._stdin.write(line)
            self._stdin.flush()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.killed = True
            self.process.kill()

    def close(self) -> None:
        self.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._log.close()


def _environment() -> dict[str, str]:
    """The worker's environment (:func:`child_environment`): numpy's BLAS would reserve
    buffers for one thread per core under the worker's address space limit; the worker does
    no linear algebra."""
    return child_environment(defaults={"OPENBLAS_NUM_THREADS": "1"})


@dataclass(frozen=True)
class WorkerJob:
    """What one worker run decodes, and under which caps."""

    fmt: FileFormat
    max_pixels: int
    memory_bytes: int
    max_decoded_bytes: int = 0
    max_frames: int = 1000
    dpi: float = DEFAULT_DPI


def _command(path: Path, out_dir: Path, job: WorkerJob, limits: PdfLimits) -> list[str]:
    level = logging.getLevelName(logging.getLogger("scanlet").getEffectiveLevel())
    return module_command(
        WORKER_MODULE, "--input", str(path), "--out-dir", str(out_dir),
        "--format", job.fmt, "--dpi", repr(float(job.dpi)),
        "--max-pages", str(limits.max_pages), "--max-frames", str(job.max_frames),
        "--max-pixels", str(job.max_pixels),
        "--max-decoded-bytes", str(job.max_decoded_bytes),
        "--max-content-bytes", str(limits.max_content_bytes),
        "--memory-bytes", str(job.memory_bytes),
        "--cpu-seconds", str(limits.cpu_seconds), "--parent-pid", str(os.getpid()),
        "--log-level", level if isinstance(level, str) else "INFO",
    )


def _exit_error(worker: _Worker) -> ScanletError:
    """Why the worker stopped without a ``done`` or ``error`` event."""
    code = worker.process.wait()
    if code < 0:
        sig = -code
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        if sig == getattr(signal, "SIGXCPU", -1):
            return ImportTooLarge("the PDF needs more processing time than an import may use",
                                  limit="cpu")
        if sig == signal.SIGKILL:
            return ImportTooLarge("the import worker was killed (out of memory)",
                                  limit="memory")
        if sig in _CRASH_SIGNALS:  # pdfium and libpng end this way when an allocation fails
            return ImportInvalid(f"the decoder crashed on this file ({name})",
                                 field="data", signal=name)
        return ImportFailed(f"the PDF worker ended by signal {name}", signal=name)
    if _ran_out_of_memory(worker.log_path):
        return ImportTooLarge("the decoder ran out of memory (a library gave up when an "
                              "allocation failed under the worker's limit)", limit="memory",
                              exit_code=code)
    return ImportFailed(f"the import worker exited with status {code} without an answer",
                        exit_code=code)


#: What C libraries print when they exit because an allocation failed (OpenBLAS, libjpeg,
#: glibc, C++ runtimes).
_OUT_OF_MEMORY = (b"memory allocation", b"out of memory", b"cannot allocate memory",
                  b"insufficient memory", b"bad_alloc", b"memoryerror")


def _ran_out_of_memory(log_path: Path) -> bool:
    """Whether the worker's last output says it ran out of memory: under RLIMIT_AS a failed
    allocation ends some libraries with exit(1) instead of an exception, and that is the
    file's size, not our fault (413, not 500)."""
    try:
        with log_path.open("rb") as fh:
            fh.seek(max(0, log_path.stat().st_size - 4096))
            tail = fh.read().lower()
    except OSError:
        return False
    return any(marker in tail for marker in _OUT_OF_MEMORY)


def import_pdf(
    source: bytes | Path,
    add: StorePage,
    *,
    temp_root: Path,
    dpi: float | None = None,
    password: str | None = None,
    max_pixels: int,
    limits: PdfLimits | None = None,
    progress: Progress | None = None,
) -> None:
    """Append every page of a PDF through ``add``, in order (see the module doc), with the
    worker's memory sized from the pixel cap. Raises as :func:`run_worker`."""
    limits = limits or PdfLimits()
    job = WorkerJob("pdf", max_pixels, limits.memory_for(max_pixels), dpi=dpi or DEFAULT_DPI)
    run_worker(source, job, add, temp_root=temp_root, password=password, limits=limits,
               progress=progress)


def run_worker(
    source: bytes | Path,
    job: WorkerJob,
    add: StorePage,
    *,
    temp_root: Path,
    password: str | None = None,
    limits: PdfLimits | None = None,
    progress: Progress | None = None,
) -> None:
    """Append every page of a file through ``add``, in order, decoded in a worker.

    ``add(data, format, dpi, preview)``. The caller deletes what was added if this raises
    (all-or-nothing). Raises PdfPasswordRequired, ImportInvalid, ImportTooLarge, or
    ImportFailed when the worker itself broke.
    """
    limits = limits or PdfLimits()
    temp_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    work = Path(tempfile.mkdtemp(prefix=f"{job.fmt}-import-", dir=temp_root))
    try:
        path = source if isinstance(source, Path) else work / "input"
        if isinstance(source, bytes):
            path.write_bytes(source)
        out_dir = work / "pages"
        out_dir.mkdir(mode=0o700)
        worker = _Worker(_command(path.resolve(), out_dir, job, limits),
                         work / "worker.log")
        try:
            worker.hello(password)
            _converse(worker, out_dir, add, limits, progress)
        finally:
            worker.close()
            relog_file(work / "worker.log", worker_logger, tail=_LOG_TAIL)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _converse(worker: _Worker, out_dir: Path, add: StorePage, limits: PdfLimits,
              progress: Progress | None) -> None:
    """Read events until ``done``; store each page; turn every other ending into an error."""
    deadline = time.monotonic() + limits.total_timeout
    total = stored = 0
    while True:
        wait = min(limits.page_timeout, deadline - time.monotonic())
        try:
            if wait <= 0:
                raise queue.Empty
            event = worker.events.get(timeout=wait)
        except queue.Empty:
            worker.kill()
            raise ImportTooLarge(
                f"the PDF took longer than allowed ({limits.page_timeout:g} s for a page, "
                f"{limits.total_timeout:g} s in all)", limit="time") from None
        if event is None:
            raise _exit_error(worker)
        kind = event.get("ev")
        if kind == "ready":
            total = int(event.get("pages", 0))
            logger.debug("PDF worker ready: %d pages, limits %s", total, event.get("limits"))
        elif kind == "page":
            _store_page(event, out_dir, add)
            stored += 1
            worker.send(b"ack\n")
            if progress is not None:
                progress(stored, total)
        elif kind == "done":
            if stored != total or not total:
                raise ImportFailed(f"the PDF worker delivered {stored} of {total} pages")
            return
        elif kind == "error":
            raise import_error_from_dict(event.get("error") or {})
        else:
            raise ImportFailed(f"the PDF worker sent an unexpected event {kind!r}")


def _take_file(out_dir: Path, name: str) -> bytes:
    """Read and delete a file the worker wrote (a bare name inside ``out_dir``)."""
    if "/" in name or os.sep in name or not name or name.startswith("."):
        raise ImportFailed(f"the import worker announced an invalid file {name!r}")
    path = out_dir / name
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImportFailed(f"the import worker's file {name} is unreadable: {exc}") from exc
    finally:
        path.unlink(missing_ok=True)


def _store_page(event: dict[str, Any], out_dir: Path, add: StorePage) -> None:
    name = str(event.get("file", ""))
    fmt = event.get("format")
    if fmt not in ("jpeg", "png"):
        raise ImportFailed(f"the import worker announced page {name!r} as {fmt!r}")
    data = _take_file(out_dir, name)
    preview_name = event.get("preview")
    preview = _take_file(out_dir, str(preview_name)) if preview_name is not None else None
    raw_dpi = event.get("dpi")
    try:
        dpi = None if raw_dpi is None else float(raw_dpi)
    except (TypeError, ValueError) as exc:
        raise ImportFailed(f"the import worker announced page {name} with dpi "
                           f"{raw_dpi!r}") from exc
    add(data, "jpeg" if fmt == "jpeg" else "png", dpi, preview)
    logger.debug("PDF page %s stored (%s, %s)", event.get("index"), event.get("how"), fmt)
