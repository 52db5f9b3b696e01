"""Crash reports in ``dump/``: write them, rotate them, read them back.

A report is one UTF-8 text file per abnormal end of a process,
``dump/crash-<UTC time>-<process>-<pid>.txt``: a header of ``key: value`` lines (process,
pid, reason, exit code or signal, time, versions, a one-line summary), a blank line, then
sections — the running jobs, the tracebacks of all threads (:mod:`faulthandler`), the last
lines the process printed and the last lines of ``log/scanlet.log``. Only the newest
``[dump] keep`` reports are kept.

Who writes them:

- the monitor (service/monitor.py), when ``serve`` exits with a signal or a non-zero status,
  or hangs and is killed. ``serve`` keeps :data:`fault file <fault_file>` open and
  :func:`enable_faulthandler` points :mod:`faulthandler` at it (fatal signals, and
  ``SIGUSR1`` on demand, which the monitor sends to a hung ``serve`` before killing it), so
  the tracebacks survive the process; the monitor takes them with :func:`take_faults`.
- ``serve`` itself, when a scan worker dies abnormally mid-request (core/runtime.py): the
  worker's faulthandler writes to its stderr, which the bridge keeps the tail of.
- ``serve`` at start-up, when the fault file still holds tracebacks of a previous run that no
  monitor reported (a ``serve`` started alone that crashed).

Reports never contain tokens, API keys, the cache key or page images: the whole text is passed
through :func:`redact` (as the log is), and jobs are described by their ids and settings only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import faulthandler
import functools
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from scanlet import __version__
from scanlet.core.logs import redact

REPORT_PREFIX = "crash-"
REPORT_SUFFIX = ".txt"
#: Lines of ``log/scanlet.log`` copied into a report.
LOG_LINES = 50
#: Lines of the process's own output (stdout/stderr) copied into a report.
OUTPUT_LINES = 40
#: Upper bound of any one section, so a runaway log cannot make a huge report.
SECTION_MAX_CHARS = 64 * 1024

_fault_handle: IO[str] | None = None


def describe_exit(returncode: int | None) -> tuple[str, int | None, str | None]:
    """(reason, exit code, signal name) for a ``Popen.returncode``."""
    if returncode is None:
        return "still running", None, None
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}", returncode, name
    return f"exited with status {returncode}", returncode, None


def abnormal(returncode: int | None) -> bool:
    """True for a non-zero status or a signal other than a polite SIGTERM/SIGINT."""
    if returncode is None or returncode == 0:
        return False
    return returncode not in (-signal.SIGTERM, -signal.SIGINT)


# -- versions ---------------------------------------------------------------------------------


@functools.cache
def sane_version() -> str:
    """libsane's version as ``scanimage --version`` prints it, or what is known without it."""
    scanimage = shutil.which("scanimage")
    if scanimage is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run([scanimage, "--version"], capture_output=True, text=True,
                                  timeout=3, check=False)
            line = (done.stdout or done.stderr).strip().splitlines()
            if line:
                return line[0]
    try:
        from importlib.metadata import version

        return f"python-sane {version('python-sane')} (scanimage not found)"
    except Exception:
        return "unknown (neither scanimage nor python-sane found)"


def versions(sane: str | None = None) -> dict[str, str]:
    """Scanlet, Python, platform and SANE versions (``sane``: as a worker reported it)."""
    return {
        "scanlet": __version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()}, "
                  f"{sys.executable})",
        "platform": platform.platform(),
        "sane": sane or sane_version(),
    }


# -- files the reports are made from ----------------------------------------------------------


def fault_file(log_dir: Path, process: str = "serve") -> Path:
    """Where ``process`` writes its faulthandler tracebacks."""
    return log_dir / f"faults-{process}.log"


def tail_lines(path: Path, count: int, *, max_bytes: int = 256 * 1024) -> list[str]:
    """The last ``count`` lines of a text file (``[]`` if it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # the first one is probably cut
    return lines[-count:]


def enable_faulthandler(log_dir: Path, dump_dir: Path, *, process: str = "serve",
                        keep: int = 20) -> Path:
    """Send this process's tracebacks on a fatal signal, and on SIGUSR1, to its fault file.

    Call once the process owns its home (after taking ``port.lock``). A fault file that still
    holds tracebacks of an earlier run nobody reported becomes a report first. The file stays
    open for the life of the process (faulthandler writes to its descriptor).
    """
    global _fault_handle
    path = fault_file(log_dir, process)
    stale = _fault_text(path)
    if stale:
        write_report(dump_dir, CrashInfo(
            process=process, pid=_fault_pid(path), reason="tracebacks of an earlier run found "
            "at start-up (it died of a fatal signal, or was sent SIGUSR1)", faults=stale),
            keep=keep)
    handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - open until the process ends
    handle.write(f"# {process} pid {os.getpid()} started {_stamp(_now())}\n")
    handle.flush()
    faulthandler.enable(file=handle, all_threads=True)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=handle, all_threads=True, chain=False)
    if _fault_handle is not None:
        _fault_handle.close()
    _fault_handle = handle
    return path


def take_faults(log_dir: Path, process: str = "serve") -> str:
    """The tracebacks in ``process``'s fault file (``""`` if none); the file is emptied."""
    path = fault_file(log_dir, process)
    text = _fault_text(path)
    if text:
        with contextlib.suppress(OSError):
            path.write_text("", encoding="utf-8")
    return text


def _fault_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("# "))
    return body.strip()


def _fault_pid(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = path.read_text(encoding="utf-8", errors="replace").splitlines()[0]
        return int(first.split(" pid ")[1].split()[0])
    return None


def running_jobs(database: Path) -> list[dict[str, Any]]:
    """Jobs the buffer's index lists as pending or running, read without writing anything."""
    if not database.exists():
        return []
    try:
        conn = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error as exc:
        return [{"error": f"cannot open {database.name}: {exc}"}]
    try:
        rows = conn.execute(
            "SELECT id, state, created, updated, data FROM jobs "
            "WHERE state IN ('pending', 'running') ORDER BY created").fetchall()
        jobs = []
        for job_id, state, created, updated, data in rows:
            (pages,) = conn.execute("SELECT COUNT(*) FROM pages WHERE job_id = ?",
                                    (job_id,)).fetchone()
            settings: dict[str, Any] = {}
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                settings = json.loads(data).get("settings") or {}
            jobs.append({"id": job_id, "state": state, "created": created, "updated": updated,
                         "pages_stored": pages, **job_settings(settings)})
        return jobs
    except sqlite3.Error as exc:
        return [{"error": f"cannot read the jobs of {database.name}: {exc}"}]
    finally:
        conn.close()


def job_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The parts of a job's settings a report shows."""
    keys = ("device", "source", "mode", "resolution", "pages", "paper_size", "document_id")
    return {k: settings[k] for k in keys if settings.get(k) is not None}


# -- writing ----------------------------------------------------------------------------------


@dataclass
class CrashInfo:
    """What one report says."""

    process: str  # "serve" or "worker"
    reason: str
    pid: int | None = None
    exit_code: int | None = None
    signal: str | None = None
    device: str | None = None
    faults: str = ""
    output: list[str] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    sane: str | None = None
    time: dt.datetime | None = None

    def summary(self) -> str:
        """One line saying what went wrong: faulthandler's "Fatal Python error" line, else
        for an exit with a status the last line the process printed (its error message),
        else the reason."""
        for line in self.faults.splitlines():
            if line.startswith("Fatal Python error"):
                return line.strip()
        if self.signal is None and self.exit_code:
            for line in reversed(self.output):
                if line.strip():
                    return redact(line.strip())[:300]
        return self.reason


def write_report(dump_dir: Path, info: CrashInfo, *, log_file: Path | None = None,
                 keep: int = 20) -> Path:
    """Write ``info`` as a new report in ``dump_dir`` (0600), then keep the newest ``keep``."""
    dump_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    when = info.time or _now()
    header = {"process": info.process, "pid": info.pid, "device": info.device,
              "reason": info.reason, "exit_code": info.exit_code, "signal": info.signal,
              "time": _stamp(when), "summary": info.summary(), **versions(info.sane)}
    lines = ["Scanlet crash report", ""]
    lines += [f"{key}: {value}" for key, value in header.items() if value is not None]
    lines += [f"{key}: {_one_line(value)}" for key, value in info.details.items()
              if value is not None]
    lines.append("")
    lines += _section("Running jobs", _jobs_text(info.jobs))
    lines += _section("Tracebacks of all threads (faulthandler)", info.faults or _no_faults(info))
    logged = tail_lines(log_file, LOG_LINES) if log_file is not None else []
    seen = set(logged)
    output = [line for line in info.output if line not in seen]
    lines += _section(f"Last lines the {info.process} printed"
                      + (f" (other than those of {log_file.name})" if log_file else ""),
                      redact("\n".join(output)) or "(nothing)")
    if log_file is not None:
        lines += _section(f"Last {LOG_LINES} lines of {log_file.name}",
                          redact("\n".join(logged)) or "(empty)")
    name = f"{REPORT_PREFIX}{when:%Y%m%dT%H%M%S}.{when.microsecond // 1000:03d}Z-" \
           f"{_slug(info.process)}-{info.pid or 0}"
    path = dump_dir / f"{name}{REPORT_SUFFIX}"
    for n in range(1, 100):
        if not path.exists():
            break
        path = dump_dir / f"{name}-{n}{REPORT_SUFFIX}"
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        # every part, the details and the jobs' settings too, passes the log's redaction
        fh.write(redact("\n".join(lines).rstrip()) + "\n")
    os.replace(temp, path)
    rotate(dump_dir, keep)
    return path


def rotate(dump_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` reports; returns the deleted ones."""
    reports = report_files(dump_dir)
    gone = reports[keep:]
    for path in gone:
        with contextlib.suppress(OSError):
            path.unlink()
    return gone


def _section(title: str, body: str) -> list[str]:
    if len(body) > SECTION_MAX_CHARS:
        body = "...\n" + body[-SECTION_MAX_CHARS:]
    return [f"== {title} ==", body.rstrip(), ""]


def _jobs_text(jobs: Iterable[dict[str, Any]]) -> str:
    lines = [", ".join(f"{k}={_one_line(v)}" for k, v in job.items()) for job in jobs]
    return "\n".join(lines) or "(none)"


def _no_faults(info: CrashInfo) -> str:
    if info.signal == "SIGKILL":
        return "(none: SIGKILL cannot be caught, so the process could not print them)"
    return "(none were printed)"


def _one_line(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return " ".join(text.split())


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:40] or "process"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportSummary:
    """The header of one report."""

    path: Path
    fields: dict[str, str]

    @property
    def time(self) -> str:
        return self.fields.get("time", "?")

    @property
    def process(self) -> str:
        return self.fields.get("process", "?")

    @property
    def reason(self) -> str:
        return self.fields.get("reason", "?")

    @property
    def summary(self) -> str:
        return self.fields.get("summary", "")


def report_files(dump_dir: Path) -> list[Path]:
    """The reports in ``dump_dir``, newest first (names start with their UTC time)."""
    try:
        found = [p for p in dump_dir.iterdir()
                 if p.name.startswith(REPORT_PREFIX) and p.name.endswith(REPORT_SUFFIX)]
    except OSError:
        return []
    return sorted(found, key=lambda p: p.name, reverse=True)


def read_summary(path: Path) -> ReportSummary:
    """The ``key: value`` header of a report."""
    fields: dict[str, str] = {}
    with contextlib.suppress(OSError), open(path, encoding="utf-8", errors="replace") as fh:
        started = False
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip():
                if started:
                    break
                continue
            key, sep, value = line.partition(": ")
            if sep and " " not in key:
                fields[key] = value
                started = True
    return ReportSummary(path, fields)


def latest_reports(dump_dir: Path, count: int = 5) -> list[ReportSummary]:
    """Summaries of the newest ``count`` reports."""
    return [read_summary(path) for path in report_files(dump_dir)[:count]]
