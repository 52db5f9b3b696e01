"""``scanlet service run``: the monitor that keeps ``scanlet serve`` running.

The monitor starts ``python -m scanlet serve --monitored`` as its child (own session, output
to ``log/serve-output.log``, SIGTERM when the monitor dies on Linux), finds its port in
``port.lock`` and asks ``GET /v1/health`` every ``[monitor] health_interval`` seconds. It
restarts ``serve`` after:

- an exit or a crash (any end it did not ask for);
- a hang: no health answer for ``hang_timeout`` seconds (``start_timeout`` after a start).
  The monitor first sends SIGUSR1 (``serve``'s faulthandler then writes the tracebacks of all
  threads), then SIGKILL.

Abnormal ends (a signal other than SIGTERM/SIGINT, a non-zero status, a hang) get a crash
report in ``dump/`` (core/crash.py). Restarts wait 0.5 s, doubling after every exit up to
``backoff_max``; a run that stayed healthy for :data:`STABLE_AFTER` seconds resets that. When
``serve`` ended ``crash_loop_restarts`` times within ``crash_loop_window`` seconds the monitor
logs one ERROR line (how often, the last reason, the latest report) and waits
``crash_loop_pause`` seconds before trying again. Every wait is on an event, never a poll
loop, so a crash loop costs no CPU; SIGTERM/SIGINT end any wait at once.

SIGTERM/SIGINT are forwarded to ``serve`` (a graceful stop: jobs are interrupted and marked,
the buffer is checkpointed); the monitor waits ``[server] shutdown_grace`` +
:data:`STOP_MARGIN` seconds for it, then kills it, and exits 0.

The monitor also runs the periodic certificate task (security/cert_task.py) that a ``serve``
started alone runs itself. It holds ``monitor.lock`` (flock, like ``port.lock``) so one monitor
runs per home, and keeps its state in ``monitor.json`` for ``scanlet doctor``. It logs to
``log/monitor.log`` and stderr.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import ctypes
import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from scanlet import __version__
from scanlet.config import Home, Settings, load_settings
from scanlet.core import crash, logs
from scanlet.errors import AlreadyRunning, ConfigError, ScanletError
from scanlet.libc import function
from scanlet.security.cert_task import CertificateTask, wants_task
from scanlet.service.instance import InstanceLock, read_instance

log = logging.getLogger("scanlet.monitor")

#: Delay before the first restart; it doubles after each exit up to ``backoff_max``.
FIRST_DELAY = 0.5
#: Seconds of health after which a run counts as stable (the backoff starts over).
STABLE_AFTER = 30.0
#: Seconds the monitor adds to ``shutdown_grace`` before it kills a stopping ``serve``.
STOP_MARGIN = 5.0
#: Seconds a hung ``serve`` gets to write its tracebacks after SIGUSR1.
DUMP_WAIT = 1.5
#: ``log/serve-output.log`` is emptied when it grows past this while ``serve`` runs.
OUTPUT_MAX_BYTES = 4 * 2**20
#: Exits remembered in ``monitor.json``.
EXITS_KEPT = 20

_PR_SET_PDEATHSIG = 1


def lock_path(home: Home) -> Path:
    return home.root / "monitor.lock"


def state_path(home: Home) -> Path:
    return home.root / "monitor.json"


def output_path(home: Home) -> Path:
    return home.log / "serve-output.log"


def read_state(home: Home) -> dict[str, Any] | None:
    """What the monitor last wrote to ``monitor.json`` (None if absent or unreadable)."""
    try:
        data = json.loads(state_path(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# -- settings ---------------------------------------------------------------------------------

_OWN_SECTIONS = ("monitor", "dump", "log")
_OWN_KEYS = (("server", "shutdown_grace"), ("tls", "check_hours"))


def load_monitor_settings(home: Home) -> tuple[Settings, ConfigError | None]:
    """The settings, and the config problem if any.

    A bad config must not stop the monitor: it keeps restarting ``serve`` (which names the
    problem, and ``scanlet doctor`` shows it) so that fixing the file is enough. With a bad
    config the monitor uses its own keys (``[monitor]``, ``[dump]``, ``[log]``,
    ``[server] shutdown_grace``, ``[tls] check_hours``) that are valid, defaults otherwise.
    """
    try:
        return load_settings(home), None
    except ConfigError as exc:
        problem = exc
    entries: dict[tuple[str, str], str] = {}
    for path in (home.service_config, home.user_config):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in parser.sections():
            for name, raw in parser.items(section):
                if section in _OWN_SECTIONS or (section, name) in _OWN_KEYS:
                    entries[(section, name)] = raw
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="scanlet-monitor-") as scratch_dir:
        scratch = Home(Path(scratch_dir))
        for _ in range(len(entries) + 1):
            parser = configparser.ConfigParser(interpolation=None)
            for (section, name), raw in entries.items():
                if not parser.has_section(section):
                    parser.add_section(section)
                parser.set(section, name, raw)
            with open(scratch.user_config, "w", encoding="utf-8") as fh:
                parser.write(fh)
            try:
                settings = load_settings(scratch)
                break
            except ConfigError as exc:
                key = str(exc.detail.get("key") or "")
                bad = tuple(key.split(".", 1))
                if len(bad) != 2 or bad not in entries:
                    break
                del entries[(bad[0], bad[1])]
    return settings, problem


# -- the monitor ------------------------------------------------------------------------------


@dataclass
class _Run:
    """One ``serve`` process."""

    process: asyncio.subprocess.Process
    exit_task: asyncio.Task[int]
    number: int
    started: float = field(default_factory=time.monotonic)
    url: str | None = None
    healthy_at: float | None = None
    last_ok: float | None = None
    hang: str | None = None
    note: str | None = None  # about the tracebacks, for the report
    signalled: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid


def _now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _stop_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the monitor's thread dies."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = function("prctl")
    if prctl is None:
        return None
    args = (ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(signal.SIGTERM), ctypes.c_ulong(0),
            ctypes.c_ulong(0), ctypes.c_ulong(0))
    parent = os.getpid()

    def arm() -> None:  # in the forked child, before exec: no imports, no logging
        prctl(*args)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


class Monitor:
    """See the module docstring. ``run`` returns the exit code of ``scanlet service run``."""

    def __init__(self, home: Home, settings: Settings, *, demo: bool = False,
                 port: int | None = None) -> None:
        self.home = home
        self.settings = settings
        self.demo = demo
        self.port = port
        self.starts = 0
        self._failures = 0
        self._exit_times: deque[float] = deque()
        self._current: _Run | None = None
        self._signals: list[int] = []
        self._stop = asyncio.Event()
        self._http: httpx.AsyncClient | None = None
        self._state: dict[str, Any] = {
            "pid": os.getpid(), "started": _now_text(), "state": "starting", "home":
            str(home.root), "serve_pid": None, "serve_url": None, "serve_starts": 0,
            "healthy_since": None, "next_start": None, "crash_loop": None, "exits": [],
            "settings": {
                "health_interval": settings.monitor_health_interval,
                "hang_timeout": settings.monitor_hang_timeout,
                "start_timeout": settings.monitor_start_timeout,
                "backoff_max": settings.monitor_backoff_max,
                "crash_loop_restarts": settings.monitor_crash_loop_restarts,
                "crash_loop_window": settings.monitor_crash_loop_window,
                "crash_loop_pause": settings.monitor_crash_loop_pause,
            },
        }

    def command(self) -> list[str]:
        """How ``serve`` is started."""
        args = [sys.executable, "-m", "scanlet", "serve", "--home", str(self.home.root),
                "--monitored"]
        if self.demo:
            args.append("--demo")
        if self.port is not None:
            args += ["--port", str(self.port)]
        return args

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except NotImplementedError:  # Windows: a plain handler hands over to the loop
                signal.signal(sig, lambda n, _f: loop.call_soon_threadsafe(self._on_signal, n))
        stop_task = asyncio.create_task(self._stop.wait(), name="monitor-stop")
        cert_task = CertificateTask(self.home, self.settings) \
            if wants_task(self.home, self.settings) else None
        if cert_task is not None:
            cert_task.start()
        # verify off: the only HTTPS case is remote mode, checked on its own address. The
        # User-Agent lets request logging tell the monitor's health checks apart.
        self._http = httpx.AsyncClient(trust_env=False, verify=False, headers={
            "User-Agent": f"scanlet-monitor/{__version__}"})
        log.info("monitor started (pid %d, home %s): %s", os.getpid(), self.home.root,
                 " ".join(self.command()[1:]))
        try:
            while not self._stop.is_set():
                run = await self._start()
                outcome = await self._watch(run, stop_task)
                if outcome == "stop":
                    await self._stop_serve(run)
                    break
                delay = await self._ended(run)
                if await self._pause(delay, stop_task):
                    break
        finally:
            left, self._current = self._current, None
            if left is not None and left.process.returncode is None:  # only after a bug
                await self._stop_serve(left)
            stop_task.cancel()
            if cert_task is not None:
                await cert_task.stop()
            await self._http.aclose()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError):
                    loop.remove_signal_handler(sig)
            self._write_state(state="stopped", serve_pid=None, serve_url=None, next_start=None)
            log.info("monitor stopped")
        return 0

    # -- signals ------------------------------------------------------------------------------

    def _on_signal(self, sig: int) -> None:
        self._signals.append(sig)
        if not self._stop.is_set():
            log.info("received %s: stopping", signal.Signals(sig).name)
            self._stop.set()
        run = self._current
        if run is not None and run.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(run.pid, sig)  # forwarded: a second SIGINT makes serve skip draining
                run.signalled = True

    # -- one run of serve ---------------------------------------------------------------------

    async def _start(self) -> _Run:
        output = output_path(self.home)
        with open(output, "wb"):
            pass  # each run starts with an empty output file (a report took the last one)
        with open(output, "ab") as out:  # O_APPEND: the monitor may empty it while it runs
            try:
                process = await asyncio.create_subprocess_exec(
                    *self.command(), stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True,
                    preexec_fn=_stop_with_parent())
            except OSError as exc:
                raise ScanletError(f"cannot start scanlet serve: {exc}") from exc
        self.starts += 1
        run = _Run(process, asyncio.create_task(process.wait(), name="serve-exit"), self.starts)
        self._current = run
        log.info("started serve (pid %d, start %d)", run.pid, run.number)
        self._write_state(state="starting", serve_pid=run.pid, serve_url=None,
                          serve_starts=self.starts, healthy_since=None, next_start=None)
        return run

    async def _watch(self, run: _Run, stop_task: asyncio.Task[Any]) -> str:
        """Until ``serve`` exits ("exited"), hangs ("hung", then it is killed) or the
        monitor is asked to stop ("stop")."""
        interval = self.settings.monitor_health_interval
        while True:
            if self._stop.is_set():  # an exit after the (forwarded) stop is that stop
                return "stop"
            if run.exit_task.done():
                return "exited"
            probe = asyncio.create_task(self._probe(run))
            await asyncio.wait({run.exit_task, stop_task, probe},
                               return_when=asyncio.FIRST_COMPLETED)
            if not probe.done():
                probe.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await probe
                continue
            now = time.monotonic()
            if probe.result():
                run.last_ok = now
                if run.healthy_at is None:
                    run.healthy_at = now
                    log.info("serve (pid %d) answers on %s after %.1f s", run.pid, run.url,
                             now - run.started)
                    self._write_state(state="running", serve_url=run.url,
                                      healthy_since=_now_text(), crash_loop=None)
            elif run.last_ok is None:
                if now - run.started > self.settings.monitor_start_timeout:
                    run.hang = (f"no answer to /v1/health within start_timeout "
                                f"({self.settings.monitor_start_timeout:g} s) of its start")
            elif now - run.last_ok > self.settings.monitor_hang_timeout:
                run.hang = (f"no answer to /v1/health for {now - run.last_ok:.1f} s "
                            f"(hang_timeout {self.settings.monitor_hang_timeout:g} s)")
            if run.hang is not None:
                log.error("serve (pid %d) hangs: %s; killing it", run.pid, run.hang)
                await self._dump_and_kill(run)
                return "exited"
            self._trim_output()
            await asyncio.wait({run.exit_task, stop_task}, timeout=interval)

    async def _probe(self, run: _Run) -> bool:
        """One health check (False when the URL is not known yet or no good answer came)."""
        if run.url is None:
            run.url = self._serve_url(run.pid)
            if run.url is None:
                return False
        assert self._http is not None
        timeout = min(self.settings.monitor_hang_timeout, 10.0)
        try:
            response = await self._http.get(run.url + "/v1/health", timeout=timeout)
        except httpx.HTTPError:
            return False
        if response.status_code != 200:  # it answers, so it is not hung (a Host rule?)
            log.debug("serve answered /v1/health with HTTP %d", response.status_code)
        return True

    def _serve_url(self, pid: int) -> str | None:
        """The URL ``serve`` wrote to ``port.lock`` (read without locking: taking the lock,
        even for a moment, could make the starting ``serve`` think another one runs)."""
        try:
            data = json.loads(self.home.port_lock.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("pid") != pid:
            return None
        host = str(data.get("host") or "127.0.0.1")
        host = f"[{host}]" if ":" in host else host
        if data.get("http_port"):
            return f"http://{host}:{data['http_port']}"
        if data.get("https_port"):
            return f"https://{host}:{data['https_port']}"
        return None

    async def _dump_and_kill(self, run: _Run) -> None:
        """SIGUSR1 (tracebacks into the fault file), a moment, then SIGKILL.

        A stopped process (SIGSTOP, a debugger) cannot run the handler, and waking it up
        with SIGCONT makes the dump race with its running threads (it can crash midway), so
        it is killed as it is.
        """
        faults = crash.fault_file(self.home.log)
        if _stopped(run.pid):
            run.note = "none: the process was stopped (SIGSTOP or a debugger)"
        elif hasattr(signal, "SIGUSR1"):
            before = _size(faults)
            with contextlib.suppress(ProcessLookupError):
                os.kill(run.pid, signal.SIGUSR1)
            deadline = time.monotonic() + DUMP_WAIT
            last = before
            while time.monotonic() < deadline and not run.exit_task.done():
                await asyncio.sleep(0.1)
                size = _size(faults)
                if size > before and size == last:
                    break  # written, and no longer growing
                last = size
        with contextlib.suppress(ProcessLookupError):
            os.kill(run.pid, signal.SIGKILL)
        await run.exit_task

    def _trim_output(self) -> None:
        path = output_path(self.home)
        if _size(path) > OUTPUT_MAX_BYTES:
            with contextlib.suppress(OSError):
                os.truncate(path, 0)
                log.info("emptied %s (over %d MB)", path, OUTPUT_MAX_BYTES >> 20)

    # -- after an exit ------------------------------------------------------------------------

    async def _ended(self, run: _Run) -> float:
        """Record an exit nobody asked for, write its report; the delay before a restart."""
        self._current = None
        now = time.monotonic()
        code = run.process.returncode
        reason, exit_code, signal_name = crash.describe_exit(code)
        if run.hang is not None:
            reason = f"hung ({run.hang}); killed"
        uptime = now - run.started
        report: Path | None = None
        if run.hang is not None or crash.abnormal(code):
            report = await asyncio.to_thread(self._report, run, reason, exit_code, signal_name,
                                             uptime)
            log.error("serve (pid %d) %s after %.1f s; crash report %s", run.pid, reason,
                      uptime, report)
        else:
            await asyncio.to_thread(crash.take_faults, self.home.log)
            log.warning("serve (pid %d) %s after %.1f s without being asked to stop", run.pid,
                        reason, uptime)
        exits = [*self._state["exits"], {
            "time": _now_text(), "pid": run.pid, "reason": reason, "exit_code": exit_code,
            "signal": signal_name, "uptime": round(uptime, 1),
            "report": str(report) if report else None}][-EXITS_KEPT:]
        self._state["exits"] = exits

        if run.healthy_at is not None and now - run.healthy_at >= STABLE_AFTER:
            self._failures = 0
        self._failures += 1
        delay = min(self.settings.monitor_backoff_max,
                    FIRST_DELAY * 2 ** min(self._failures - 1, 30))
        window = self.settings.monitor_crash_loop_window
        self._exit_times.append(now)
        while self._exit_times and now - self._exit_times[0] > window:
            self._exit_times.popleft()
        count = len(self._exit_times)
        if count >= self.settings.monitor_crash_loop_restarts:
            span = now - self._exit_times[0]
            pause = self.settings.monitor_crash_loop_pause
            latest = report or next((Path(e["report"]) for e in reversed(exits)
                                     if e.get("report")), None)
            log.error(
                "crash loop: serve exited %d times in %.0f s (limit %d in %g s); last: %s; "
                "not restarting for %g s. See %s and run `scanlet doctor --home %s`",
                count, span, self.settings.monitor_crash_loop_restarts, window, reason, pause,
                latest or "log/serve-output.log", self.home.root)
            self._write_state(state="crash_loop", serve_pid=None, serve_url=None, crash_loop={
                "since": _now_text(), "exits": count, "seconds": round(span, 1),
                "window": window, "last_reason": reason,
                "report": str(latest) if latest else None,
                "resume_at": _in(pause)}, next_start=_in(pause))
            self._exit_times.clear()
            self._failures = 0
            return pause
        log.info("restarting serve in %.1f s", delay)
        self._write_state(state="waiting", serve_pid=None, serve_url=None,
                          next_start=_in(delay))
        return delay

    def _report(self, run: _Run, reason: str, exit_code: int | None, signal_name: str | None,
                uptime: float) -> Path:
        faults = crash.take_faults(self.home.log)
        info = crash.CrashInfo(
            process="serve", pid=run.pid, reason=reason, exit_code=exit_code,
            signal=signal_name, faults=faults,
            output=crash.tail_lines(output_path(self.home), crash.OUTPUT_LINES),
            jobs=crash.running_jobs(self.home.database),
            details={"uptime_seconds": round(uptime, 1), "start_number": run.number,
                     "url": run.url, "hang": run.hang, "tracebacks": run.note,
                     "output_file": str(output_path(self.home))})
        return crash.write_report(self.home.dump, info, log_file=self.home.log / "scanlet.log",
                                  keep=self.settings.dump_keep)

    async def _pause(self, delay: float, stop_task: asyncio.Task[Any]) -> bool:
        """Wait ``delay`` seconds; True if the monitor was asked to stop meanwhile."""
        await asyncio.wait({stop_task}, timeout=delay)
        return stop_task.done()

    # -- stopping -----------------------------------------------------------------------------

    async def _stop_serve(self, run: _Run) -> None:
        self._write_state(state="stopping")
        if not run.signalled and run.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(run.pid, signal.SIGTERM)
                run.signalled = True
        limit = self.settings.shutdown_grace + STOP_MARGIN
        began = time.monotonic()
        done, _ = await asyncio.wait({run.exit_task}, timeout=limit)
        if not done:
            log.error("serve (pid %d) did not stop within %g s; killing it", run.pid, limit)
            await self._dump_and_kill(run)
            await asyncio.to_thread(self._report, run, f"did not stop within {limit:g} s of "
                                    "SIGTERM; killed with SIGKILL", run.process.returncode,
                                    "SIGKILL", time.monotonic() - run.started)
        reason, _, _ = crash.describe_exit(run.process.returncode)
        log.info("serve (pid %d) stopped (%s) in %.1f s", run.pid, reason,
                 time.monotonic() - began)

    # -- state file ---------------------------------------------------------------------------

    def _write_state(self, **changes: Any) -> None:
        self._state.update(changes, updated=_now_text())
        path = state_path(self.home)
        temp = path.with_name(path.name + ".tmp")
        try:
            temp.write_text(json.dumps(self._state, indent=1), encoding="utf-8")
            os.replace(temp, path)
        except OSError as exc:
            log.warning("cannot write %s: %s", path, exc)


def _stopped(pid: int) -> bool:
    """True if ``pid`` is stopped (Linux ``/proc``; False where unknown)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
    except (OSError, IndexError):
        return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _in(seconds: float) -> str:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def _configure_logging(home: Home, settings: Settings) -> None:
    """``log/monitor.log`` (rotating, masked like every Scanlet log) and stderr; ``serve``
    owns ``log/scanlet.log``."""
    logs.configure(home.log, settings.log_level, fmt=settings.log_format,
                   max_mb=settings.log_max_mb, backups=settings.log_backups,
                   file_name="monitor.log")
    for noisy in ("httpx", "httpcore"):  # one line per health check otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_monitor(home: Home, settings: Settings, *, demo: bool, port: int | None) -> int:
    """Run the monitor in the foreground until SIGTERM/SIGINT; returns the exit code.

    Raises AlreadyRunning when a monitor, or a ``serve`` started without one, already runs
    for this home.
    """
    home.create()
    _configure_logging(home, settings)
    lock = InstanceLock(lock_path(home), mode="monitor")
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        raise AlreadyRunning(
            f"a Scanlet monitor already runs for this home (pid {exc.detail.get('pid')}); "
            "stop it first or use another --home", pid=exc.detail.get("pid")) from exc
    try:
        running = read_instance(home.port_lock)
        if running is not None:
            url = running.url or running.https_url
            raise AlreadyRunning(
                f"scanlet serve already runs for this home without the monitor (pid "
                f"{running.pid}{f', {url}' if url else ''}); stop it first",
                pid=running.pid)
        try:
            load_settings(home)
        except ConfigError as exc:
            log.error("config problem: %s. serve cannot start until it is fixed; the monitor "
                      "keeps trying", exc.message)
        return asyncio.run(Monitor(home, settings, demo=demo, port=port).run())
    finally:
        lock.release()
