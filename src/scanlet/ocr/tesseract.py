"""Tesseract as a library: find it, list its languages, OCR one page into text, hOCR or PDF.

Every run is one ``tesseract`` process working in a private temporary folder (0700, removed
afterwards): the page's PNG/JPEG bytes are written there as a file and tesseract writes its
outputs next to it. (Not stdin: ``Popen.communicate`` cannot resume sending input after a
timeout, and waiting in short timeouts is how cancel is noticed.) One run produces every
output asked for (text, hOCR and a text-only PDF page cost one recognition, not three).

Why these rules:

- ``OMP_THREAD_LIMIT=1`` always. Tesseract's own OpenMP threading is about 6x *slower* than a
  single thread on small machines (reference/performance-facts.md); parallelism comes from
  running one single-threaded tesseract per core (see :mod:`scanlet.ocr.pool`).
- Argument lists, never a shell; the language string is checked against the installed
  languages before it reaches the command line, so it cannot smuggle options.
- A timeout per page and a cancel token polled every :data:`POLL_SECONDS`: on either the
  process is killed and reaped before the call returns, so no tesseract outlives its page.
- The PDF output is tesseract's text-only page (``-c textonly_pdf=1``, as OCRmyPDF's sandwich
  renderer uses): invisible glyphs placed where the words are, no image. It is merged onto our
  own image page by :mod:`scanlet.ocr.searchable`.
- Which tesseract: an explicit ``tesseract=`` argument, else the one set by :func:`configure`
  (the service sets it from ``[ocr] tesseract``), else ``tesseract`` on PATH. A configured
  path that does not exist or is not executable is :class:`OcrUnavailable` naming the path,
  raised when OCR is asked for (not at start-up: a service without OCR still runs).
- Every tesseract is started with :func:`scanlet.childproc.die_with_parent`: on Linux it gets
  SIGKILL if the service dies, even by SIGKILL. Linux ties that to the *thread* that started
  it, which is why every function here waits for its process before returning.

Errors (stable codes, defined in :mod:`scanlet.errors` and re-exported here)::

    ScanletError
    ├── OcrError (ocr_failed, 500)          tesseract failed on a page (message has its stderr)
    │   ├── OcrUnavailable (ocr_unavailable, 503)   no tesseract binary, or a bad configured path
    │   └── OcrTimeout (ocr_timeout, 504)           a page took longer than the timeout
    ├── InvalidSetting (invalid_setting, 422)       unknown language / output, field=lang
    └── ScanCancelled
        └── OcrCancelled (ocr_cancelled, 409)       cancelled; a ScanCancelled so that
                                                     tasks.TaskManager reports "cancelled"
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, get_args

from scanlet.childproc import die_with_parent
from scanlet.errors import InvalidSetting, OcrCancelled, OcrError, OcrTimeout, OcrUnavailable

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_SIDE",
    "OCR_OUTPUTS",
    "CancelToken",
    "OcrCancelled",
    "OcrError",
    "OcrOutput",
    "OcrResult",
    "OcrTimeout",
    "OcrUnavailable",
    "check_lang",
    "check_outputs",
    "check_size",
    "configure",
    "configured",
    "find_tesseract",
    "languages",
    "run_page",
    "version",
]

logger = logging.getLogger(__name__)

#: What one run can produce: plain text, hOCR (XHTML with word boxes), a text-only PDF page.
OcrOutput = Literal["text", "hocr", "pdf"]
OCR_OUTPUTS: tuple[str, ...] = get_args(OcrOutput)

#: Tesseract's config name and file extension for each output.
_CONFIGS: dict[str, tuple[str, str]] = {
    "text": ("txt", "txt"),
    "hocr": ("hocr", "hocr"),
    "pdf": ("pdf", "pdf"),
}

#: Seconds one page may take before it is killed (OCRmyPDF's default is 180 as well).
DEFAULT_TIMEOUT = 180.0
#: How often a running page looks at its cancel token; bounds the cancel latency.
POLL_SECONDS = 0.05
#: Traineddata files that are not languages one can OCR with.
NOT_LANGUAGES = frozenset({"osd", "equ"})
#: The longest image side tesseract reads ("Image too large" above INT16_MAX).
MAX_SIDE = 32767

_WINDOWS_DEFAULTS = (
    r"C:\Program Files\Tesseract-OCR\tesseract.exe",
    r"C:\Program Files (x86)\Tesseract-OCR\tesseract.exe",
)
_INSTALL_HINT = (
    "install Tesseract (Debian/Ubuntu: apt install tesseract-ocr tesseract-ocr-eng; "
    "macOS: brew install tesseract; Windows: the UB Mannheim installer)"
)


class CancelToken(Protocol):
    """Anything with ``is_set()``, such as :class:`threading.Event`."""

    def is_set(self) -> bool:
        """True once the work should stop."""
        ...


@dataclass(frozen=True)
class OcrResult:
    """The outputs of one page; an output that was not asked for is None.

    ``text`` is tesseract's plain text without its trailing form feed; ``hocr`` is the hOCR
    document (pixel coordinates of the image); ``pdf`` is a one-page text-only PDF whose page
    is the image's size at the dpi tesseract used.
    """

    text: str | None = None
    hocr: str | None = None
    pdf: bytes | None = None


#: The executable set by :func:`configure` (``[ocr] tesseract``); None: search PATH.
_configured: str | None = None


def configure(tesseract: str | os.PathLike[str] | None) -> None:
    """Set the tesseract that :func:`find_tesseract` (and so every OCR and orientation call
    not given an explicit ``tesseract``) uses: a path, a program name looked up on PATH, or
    None/empty for ``tesseract`` on PATH. The service calls it at start from ``[ocr]
    tesseract``; nothing is checked until OCR is asked for."""
    global _configured
    value = os.fspath(tesseract) if tesseract is not None else ""
    _configured = value.strip() or None


def configured() -> str | None:
    """The tesseract set by :func:`configure`, or None (search PATH)."""
    return _configured


def find_tesseract(path: str | os.PathLike[str] | None = None, *,
                   hint: str = _INSTALL_HINT) -> str:
    """The tesseract executable: ``path`` if given, else the configured one (see
    :func:`configure`), else ``tesseract`` on PATH (or, on Windows, the installer's default
    folder).

    Raises :class:`OcrUnavailable` naming a given or configured path that does not exist, is
    a folder or is not executable (``detail["path"]``), or saying what to install (``hint``).
    """
    source = "given"
    if path is None and _configured is not None:
        path, source = _configured, "configured in [ocr] tesseract"
    if path is not None:
        return _checked_path(os.fspath(path), source, hint)
    found = shutil.which("tesseract")
    if found is None and sys.platform == "win32":
        found = next((p for p in _WINDOWS_DEFAULTS if os.path.isfile(p)), None)
    if found is None:
        raise OcrUnavailable(f"tesseract was not found on PATH: {hint}")
    return found


def _checked_path(path: str, source: str, hint: str) -> str:
    """``path`` (a file path, or a bare program name looked up on PATH) as an executable."""
    candidate = shutil.which(path)
    if candidate is not None:
        return candidate
    named = f"the tesseract {source} ({path!r})"
    is_path = os.sep in path or (os.altsep is not None and os.altsep in path)
    if not is_path:
        why = f"{named} is not a program on PATH"
    elif not os.path.exists(path):
        why = f"{named} does not exist"
    elif os.path.isdir(path):
        why = f"{named} is a folder, not the tesseract program"
    else:
        why = f"{named} is not executable (check its permissions)"
    if source != "given":
        why += "; fix or empty [ocr] tesseract in scanlet.ini or user.ini"
    raise OcrUnavailable(f"{why}; {hint}", path=path)


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def _run_quick(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([binary, *args], capture_output=True, text=True, timeout=30,
                              env=_env(), check=False, preexec_fn=die_with_parent())
    except OSError as exc:
        raise OcrUnavailable(f"could not run {binary}: {exc}; {_INSTALL_HINT}") from exc
    except subprocess.TimeoutExpired as exc:
        raise OcrError(f"{binary} {' '.join(args)} did not answer in 30 s") from exc


_languages_cache: dict[str, tuple[str, ...]] = {}
_cache_lock = threading.Lock()


def languages(*, tesseract: str | None = None, refresh: bool = False) -> list[str]:
    """Installed OCR languages (traineddata names such as ``eng``, ``deu``), sorted.

    ``osd`` (orientation detection) and ``equ`` are not languages and are left out. The list
    is cached per executable; ``refresh=True`` asks tesseract again (after installing one).
    """
    binary = find_tesseract(tesseract)
    with _cache_lock:
        cached = _languages_cache.get(binary)
    if cached is not None and not refresh:
        return list(cached)
    done = _run_quick(binary, "--list-langs")
    if done.returncode != 0:
        raise OcrError(f"tesseract --list-langs failed: {done.stderr.strip()[-500:]}")
    names = sorted(
        line.strip() for line in done.stdout.splitlines()
        if line.strip() and not line.startswith("List of available languages")
        and line.strip() not in NOT_LANGUAGES
    )
    with _cache_lock:
        _languages_cache[binary] = tuple(names)
    return names


def version(*, tesseract: str | None = None) -> str:
    """Tesseract's version, e.g. ``5.3.0``."""
    done = _run_quick(find_tesseract(tesseract), "--version")
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0].removeprefix("tesseract").strip() if first else ""


def check_lang(lang: str, *, tesseract: str | None = None) -> str:
    """``lang`` (``eng`` or several joined by ``+``, e.g. ``eng+deu``) if every part is
    installed; else :class:`~scanlet.errors.InvalidSetting` with ``field="lang"`` and the
    installed languages as ``allowed``."""
    installed = languages(tesseract=tesseract)
    parts = lang.split("+") if isinstance(lang, str) else []
    missing = [part for part in parts if part not in installed]
    if missing or not parts:
        what = ", ".join(repr(p) for p in missing) if parts else repr(lang)
        raise InvalidSetting(
            f"OCR language {what} is not installed (installed: {', '.join(installed)}); "
            "install its tesseract language pack, or pick installed ones joined by '+', "
            "e.g. 'eng+deu'", field="lang", allowed=installed)
    if len(set(parts)) != len(parts):
        raise InvalidSetting(f"OCR language {lang!r} names a language twice", field="lang",
                             allowed=installed)
    return lang


def check_size(width: int, height: int, *, page_id: str | None = None) -> None:
    """Refuse a page tesseract cannot read, before it runs: a side above :data:`MAX_SIDE`
    (a 65500 x 1 strip) would fail as ``ocr_failed``, a 500, for what is the page's fault."""
    if max(width, height) > MAX_SIDE:
        name = f"page {page_id}" if page_id else "the page"
        raise InvalidSetting(
            f"{name} is {width}x{height} pixels; Tesseract reads at most {MAX_SIDE} pixels "
            "a side: crop or resize the page first", field="page_ids", page_id=page_id)


def check_outputs(outputs: Iterable[str]) -> tuple[OcrOutput, ...]:
    """The requested outputs, deduplicated, in a stable order; unknown ones are refused."""
    wanted = list(outputs)
    unknown = [o for o in wanted if o not in OCR_OUTPUTS]
    if unknown or not wanted:
        raise InvalidSetting(f"unknown OCR output(s) {unknown or wanted}", field="outputs",
                             allowed=list(OCR_OUTPUTS))
    return tuple(o for o in get_args(OcrOutput) if o in wanted)


def _command(binary: str, source: Path, outbase: Path, lang: str,
             outputs: tuple[OcrOutput, ...], dpi: float | None) -> list[str]:
    args = [binary, str(source), str(outbase), "-l", lang]
    if dpi is not None and round(dpi) > 0:
        args += ["--dpi", str(round(dpi))]
    if "pdf" in outputs:
        args += ["-c", "textonly_pdf=1"]
    return args + [_CONFIGS[o][0] for o in outputs]


def _wait(proc: subprocess.Popen[bytes], deadline: float, cancel: CancelToken | None,
          timeout: float) -> bytes:
    """Wait for the exit (collecting stderr), looking at ``cancel`` and the clock meanwhile."""
    while True:
        try:
            _, stderr = proc.communicate(timeout=POLL_SECONDS)
            return stderr or b""
        except subprocess.TimeoutExpired:
            pass
        if cancel is not None and cancel.is_set():
            raise OcrCancelled()
        if time.monotonic() > deadline:
            raise OcrTimeout(f"tesseract took longer than {timeout:g} s on a page and was "
                             "stopped; try a lower resolution or a longer timeout",
                             timeout=timeout)


def run_page(
    image: bytes,
    *,
    lang: str = "eng",
    outputs: Iterable[OcrOutput] = ("text",),
    dpi: float | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    cancel: CancelToken | None = None,
    tesseract: str | None = None,
    workdir: Path | None = None,
) -> OcrResult:
    """OCR one page (PNG or JPEG bytes) with one single-threaded tesseract process.

    ``dpi`` is the page's resolution (tesseract otherwise trusts the file's header, and some
    heuristics depend on it). ``cancel`` is polled every :data:`POLL_SECONDS`; when set, the
    process is killed and :class:`OcrCancelled` raised. ``workdir`` is where the private
    output folder goes (default: the system's temporary folder). Blocks; run it in a thread.
    """
    binary = find_tesseract(tesseract)
    lang = check_lang(lang, tesseract=binary)
    wanted = check_outputs(outputs)
    if cancel is not None and cancel.is_set():
        raise OcrCancelled()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scanlet-ocr-", dir=workdir) as scratch:
        source, outbase = Path(scratch) / "image", Path(scratch) / "page"
        try:
            source.write_bytes(image)
        except OSError as exc:
            raise OcrError(f"could not write the page for tesseract: {exc}") from exc
        command = _command(binary, source, outbase, lang, wanted, dpi)
        # This thread waits for the process below (and kills it on any error) before it
        # returns: die_with_parent's SIGKILL is tied to the starting *thread* on Linux, so a
        # tesseract must never outlive the thread that started it (the pool's threads live
        # until the pool closes, after every page they run is finished).
        try:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, env=_env(), cwd=scratch,
                                    preexec_fn=die_with_parent())
        except OSError as exc:
            raise OcrUnavailable(f"could not start {binary}: {exc}; {_INSTALL_HINT}") from exc
        with proc:
            try:
                stderr = _wait(proc, started + timeout, cancel, timeout)
            except BaseException:
                proc.kill()
                raise
        message = stderr.decode("utf-8", "replace").replace(str(source), "page").strip()
        if message:
            logger.debug("tesseract said: %s", message[-800:])
        if proc.returncode != 0:
            how = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
                   else f"exited with status {proc.returncode}")
            raise OcrError(f"tesseract {how}: {message[-800:] or 'no message'}",
                           returncode=proc.returncode)
        try:
            result = OcrResult(
                text=(_read(outbase, "text").decode("utf-8", "replace").rstrip("\f")
                      if "text" in wanted else None),
                # hOCR names the input file; do not leak the private folder's path.
                hocr=(_read(outbase, "hocr").decode("utf-8", "replace")
                      .replace(f'image "{source}"', 'image "page"', 1)
                      if "hocr" in wanted else None),
                pdf=_read(outbase, "pdf") if "pdf" in wanted else None,
            )
        except FileNotFoundError as exc:
            raise OcrError(f"tesseract wrote no {Path(exc.filename).suffix} output: "
                           f"{message[-800:] or 'no message'}") from exc
    logger.debug("tesseract %s %s: %.2f s", lang, "+".join(wanted), time.monotonic() - started)
    return result


def _read(outbase: Path, output: OcrOutput) -> bytes:
    return outbase.with_suffix("." + _CONFIGS[output][1]).read_bytes()
