"""``scanlet doctor``: one readable screen about the state of this install.

Sections: the home folder (owner and mode of the home, ``keys/``, ``cert/`` and the
files Scanlet trusts: ``security.homecheck``), the service (``port.lock``, pid,
``/v1/health``), its monitor (``monitor.lock``,
``monitor.json``: restarts, crash loop), the latest crash reports in ``dump/``, the
configuration (load errors are shown, not raised), ports, devices (through the running
service only: listing in-process may probe the network for seconds) and the programs and
libraries Scanlet uses. Every check is bounded in time and never raises; a check that fails
unexpectedly is shown as such.

Findings have a level: ``ok``, ``info``, ``warn`` (works, but something is missing or
happened) and ``FAIL`` (needs fixing: an unsafe home folder, an invalid config, a crash
loop, a hung service, a required library missing, the configured port taken while the service
is down).
:func:`render` returns 1 when there is a FAIL, else 0.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import importlib.metadata
import importlib.util
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from rich.console import Console
from rich.markup import escape

from scanlet import __version__
from scanlet.config import Home, Settings, is_remote, load_settings
from scanlet.core import crash
from scanlet.devices.availability import NOT_AVAILABLE, sane_unavailable
from scanlet.errors import ConfigError, ScanletError
from scanlet.security import homecheck
from scanlet.service import monitor
from scanlet.service.instance import InstanceInfo, read_instance

Level = Literal["ok", "info", "warn", "error"]

_LABELS: dict[str, str] = {"ok": "[green]ok  [/green]", "info": "[blue]info[/blue]",
                           "warn": "[yellow]warn[/yellow]", "error": "[red]FAIL[/red]"}


@dataclass
class Finding:
    level: Level
    text: str
    hint: str = ""


@dataclass
class Section:
    title: str
    findings: list[Finding] = field(default_factory=list)

    def add(self, level: Level, text: str, hint: str = "") -> None:
        self.findings.append(Finding(level, text, hint))


@dataclass
class _Context:
    """What several sections need, gathered once."""

    home: Home
    timeout: float
    settings: Settings = field(default_factory=Settings)
    config_error: ConfigError | None = None
    instance: InstanceInfo | None = None
    url: str | None = None
    health: dict[str, Any] | None = None


def run_checks(home: Home, *, timeout: float = 3.0) -> list[Section]:
    """Every check, in display order."""
    ctx = _Context(home, timeout)
    if home.root.is_dir():
        try:
            ctx.settings = load_settings(home)
        except ConfigError as exc:
            ctx.config_error = exc
            ctx.settings, _ = monitor.load_monitor_settings(home)
    checks: list[tuple[str, Callable[[_Context, Section], None]]] = [
        ("Home folder", _home_folder), ("Service", _service), ("Monitor", _monitor),
        ("Crash reports", _crashes), ("Configuration", _config), ("Ports", _ports),
        ("Devices", _devices), ("Dependencies", _dependencies),
    ]
    sections = []
    for title, check in checks:
        section = Section(title)
        try:
            check(ctx, section)
        except Exception as exc:  # a broken check must not hide the others
            section.add("error", f"this check failed: {type(exc).__name__}: {exc}")
        sections.append(section)
    return sections


def render(home: Home, sections: list[Section], console: Console) -> int:
    """Print the screen; 1 if some finding is a FAIL, else 0."""
    console.print(f"[bold]Scanlet doctor[/bold]  scanlet {escape(__version__)}  home "
                  f"{escape(str(home.root))}")
    for section in sections:
        console.print()
        console.print(f"[bold]{escape(section.title)}[/bold]")
        for finding in section.findings:
            console.print(f"  {_LABELS[finding.level]} {escape(finding.text)}")
            if finding.hint:
                console.print(f"       [dim]-> {escape(finding.hint)}[/dim]")
    levels = [f.level for s in sections for f in s.findings]
    failures, warnings = levels.count("error"), levels.count("warn")
    console.print()
    if failures:
        console.print(f"[red]{failures} problem(s) to fix[/red], {warnings} warning(s)")
    else:
        console.print(f"[green]no problems[/green], {warnings} warning(s)")
    return 1 if failures else 0


# -- sections ---------------------------------------------------------------------------------


def _home_folder(ctx: _Context, section: Section) -> None:
    if not homecheck.supported():  # pragma: no cover - Windows
        section.add("info", "owner and mode are not checked on Windows (NTFS ACLs)")
        return
    if not ctx.home.root.is_dir():
        section.add("info", "nothing to check yet (no home folder)")
        return
    problems = homecheck.inspect_home(ctx.home)
    for problem in problems:
        if problem.fatal:
            section.add("error", problem.text, f"{problem.fix}; until then serve, the monitor "
                                               "and the CLI refuse this home (home_unsafe)")
        else:
            section.add("warn", problem.text, "Scanlet narrows it to owner-only at its next "
                                              "start")
    if not problems:
        section.add("ok", "the home, keys/ and cert/ belong to you and only you can write "
                          "them; keys/ and cert/ are private")


def _service(ctx: _Context, section: Section) -> None:
    if not ctx.home.root.is_dir():
        section.add("info", f"the home {ctx.home.root} does not exist yet (nothing ran here)")
        return
    info = read_instance(ctx.home.port_lock)
    ctx.instance = info
    if info is None:
        section.add("info", "not running (no process holds port.lock)",
                    "start it with `scanlet service run` (monitored) or `scanlet serve`")
        return
    if info.mode != "service":
        section.add("info", f"a `scanlet` command (pid {info.pid}, {info.mode}) uses this home "
                            "in-process")
        return
    ctx.url = info.url or info.https_url
    if ctx.url is None:
        section.add("warn", f"serve (pid {info.pid}) holds port.lock but has no listener yet "
                            "(starting?)")
        return
    try:
        response = httpx.get(ctx.url + "/v1/health", timeout=ctx.timeout, verify=False,
                             trust_env=False)
        response.raise_for_status()
        ctx.health = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        section.add("error", f"serve (pid {info.pid}) holds port.lock but {ctx.url}/v1/health "
                             f"did not answer within {ctx.timeout:g} s ({type(exc).__name__})",
                    "hung or overloaded: the monitor restarts a hung serve; without one, "
                    f"stop it (kill {info.pid}) and start it again")
        return
    health = ctx.health or {}
    section.add("ok", f"serve (pid {info.pid}) answers on {ctx.url}: up "
                      f"{_duration(float(health.get('uptime_seconds') or 0))}, "
                      f"{health.get('workers', 0)} scan worker(s)"
                      f"{', demo scanner' if health.get('demo') else ''}")


def _monitor(ctx: _Context, section: Section) -> None:
    running = read_instance(monitor.lock_path(ctx.home)) if ctx.home.root.is_dir() else None
    state = monitor.read_state(ctx.home)
    if running is None:
        if state is not None and state.get("state") not in (None, "stopped"):
            section.add("warn", f"not running, but monitor.json says {state.get('state')!r} "
                                f"(pid {state.get('pid')} ended without cleaning up: killed?)")
        else:
            section.add("info", "not running (serve, if running, is not supervised)",
                        "`scanlet service run` restarts serve after crashes and hangs")
        _last_exits(state, section)
        return
    state = state or {}
    kind = state.get("state")
    starts = state.get("serve_starts", 0)
    section.add("ok", f"running (pid {running.pid}) since {state.get('started', '?')}; "
                      f"serve started {starts} time(s), now {kind}")
    loop = state.get("crash_loop")
    if kind == "crash_loop" and isinstance(loop, dict):
        section.add("error", f"crash loop: serve exited {loop.get('exits')} times in "
                             f"{loop.get('seconds')} s, last exit: {loop.get('last_reason')}; "
                             f"restarts paused until {loop.get('resume_at')}"
                             + (f", see {loop['report']}" if loop.get("report") else ""),
                    "the reasons are below (crash reports, configuration); fix them and "
                    "the monitor starts serve again by itself")
    elif kind == "waiting":
        section.add("warn", f"serve exited; next start at {state.get('next_start')}")
    elif kind == "starting":
        section.add("info", "serve is starting")
    _last_exits(state, section)


def _last_exits(state: dict[str, Any] | None, section: Section) -> None:
    exits = (state or {}).get("exits") or []
    for entry in exits[-3:]:
        report = f" ({entry['report']})" if entry.get("report") else ""
        section.add("info", f"serve exit at {entry.get('time')}: {entry.get('reason')} after "
                            f"{entry.get('uptime')} s{report}")


def _crashes(ctx: _Context, section: Section) -> None:
    files = crash.report_files(ctx.home.dump)
    if not files:
        section.add("ok", "no crash reports in dump/")
        return
    section.add("info", f"{len(files)} report(s) in {ctx.home.dump} (newest {min(5, len(files))}"
                        f" below; [dump] keep = {ctx.settings.dump_keep})")
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    for report in crash.latest_reports(ctx.home.dump):
        who = report.process + (f" {report.fields['device']}" if "device" in report.fields
                                else "") + f" pid {report.fields.get('pid', '?')}"
        level: Level = "warn" if _parse_time(report.time) >= recent else "info"
        first = f": {report.summary}" if report.summary and report.summary != report.reason \
            else ""
        section.add(level, f"{report.time}  {who}: {report.reason}{first}",
                    str(report.path))


def _config(ctx: _Context, section: Section) -> None:
    if not ctx.home.root.is_dir():
        section.add("info", "no config yet (defaults apply)")
        return
    if ctx.config_error is not None:
        section.add("error", ctx.config_error.message,
                    "fix the file: serve does not start until then (a monitor keeps retrying)")
        return
    files = [p.name for p in (ctx.home.service_config, ctx.home.user_config) if p.exists()]
    section.add("ok", f"{' and '.join(files) or 'no config files'} valid"
                      + (" (demo scanner config in sane/)" if (ctx.home.root / "sane").is_dir()
                         else ""))


def _ports(ctx: _Context, section: Section) -> None:
    settings = ctx.settings
    wanted: list[tuple[str, str, int]] = []
    if not is_remote(settings):
        wanted.append(("HTTP", "port", settings.port))
    if settings.https or is_remote(settings):
        wanted.append(("HTTPS", "https_port", settings.https_port))
    info = ctx.instance if ctx.instance is not None and ctx.instance.mode == "service" else None
    ours = {p for p in ((info.http_port, info.https_port) if info else ()) if p}
    for label, key, port in wanted:
        if port == 0:
            section.add("info", f"{label}: [server] {key} = 0 (any free port, see port.lock)")
            continue
        where = f"{settings.host}:{port}"
        if port in ours and info is not None:
            section.add("ok", f"{label} {where}: used by Scanlet (pid {info.pid})")
        elif _port_free(settings.host, port):
            section.add("ok", f"{label} {where}: free")
        elif info is not None:
            section.add("warn", f"{label} {where}: used by another program (Scanlet runs on "
                                f"{ctx.url} instead)")
        else:
            section.add("error", f"{label} {where}: used by another program, so serve cannot "
                                 "listen there",
                        f"stop that program, or set [server] {key} in scanlet.ini")
    if info is not None:
        for port in sorted(ours - {p for _, _, p in wanted}):
            section.add("info", f"Scanlet listens on port {port} (from --port or port 0)")


def _devices(ctx: _Context, section: Section) -> None:
    if ctx.health is None or ctx.url is None:
        section.add("info", "skipped: the service is not answering "
                            "(`scanlet devices --demo` lists them in-process)")
        return
    try:
        key = ctx.home.cli_key.read_text(encoding="utf-8").strip()
    except OSError:
        section.add("warn", f"cannot read {ctx.home.cli_key}; devices not listed")
        return
    try:
        response = httpx.get(ctx.url + "/v1/devices", timeout=max(ctx.timeout, 15.0),
                             headers={"Authorization": f"Bearer {key}"}, verify=False,
                             trust_env=False)
    except httpx.HTTPError as exc:
        section.add("warn", f"listing devices failed: {type(exc).__name__}")
        return
    if response.status_code != 200:
        section.add("warn", f"listing devices failed: HTTP {response.status_code} "
                            f"{_problem_code(response)}")
        return
    devices = response.json()
    if not devices:
        section.add("warn", "no devices found", "check the scanner's cable/network and that "
                    "SANE sees it (`scanimage -L`)")
    for device in devices:
        section.add("ok", f"{device.get('id')}: {device.get('vendor')} {device.get('model')} "
                          f"({device.get('type')})")


def _dependencies(ctx: _Context, section: Section) -> None:
    _drivers(ctx, section)
    _sane_driver(section)
    required = [("Pillow", "PIL", "images"), ("numpy", "numpy", "imaging"),
                ("opencv-python-headless", "cv2", "deskew and cameras"),
                ("pikepdf", "pikepdf", "PDF output"), ("pypdfium2", "pypdfium2", "PDF import"),
                ("zxing-cpp", "zxingcpp", "barcodes")]
    for dist, module, purpose in required:
        try:
            importlib.import_module(module)
        except Exception as exc:
            section.add("error", f"{dist}: cannot be loaded ({exc}); needed for {purpose}",
                        f"reinstall it: pip install --force-reinstall {dist}")
            continue
        section.add("ok", f"{dist} {_dist_version(dist)}")
    sane = crash.sane_version()
    section.add("ok" if "sane-backends" in sane else "warn", f"SANE: {sane}")
    _tesseract(ctx, section)
    optional = [("jpegtran", "lossless JPEG quarter turns (Debian: libjpeg-turbo-progs)"),
                ("certutil", "trusting the HTTPS certificate in Firefox/Chromium profiles "
                             "(Debian: libnss3-tools)")]
    for program, purpose in optional:
        found = shutil.which(program)
        if found:
            section.add("ok", f"{program}: {found}")
        else:
            section.add("warn" if program == "jpegtran" else "info",
                        f"{program}: not found; used for {purpose}")


def _drivers(ctx: _Context, section: Section) -> None:
    """Every registered scanner driver: available here, or why not. Only the module's
    presence is checked (no driver is loaded, no device touched); the SANE line below says
    more about python-sane."""
    from scanlet.devices import registry

    chosen = set(ctx.settings.device_drivers)
    for entry in registry.DRIVERS.values():
        reason = entry.unavailable() or _module_missing(entry.factory)
        use = " (not in [devices] drivers)" if chosen and entry.name not in chosen else ""
        if reason is None:
            section.add("ok", f"driver {entry.name}: available{use}; {entry.summary}")
        else:
            section.add("info", f"driver {entry.name}: {NOT_AVAILABLE}: {reason}{use}")


def _module_missing(factory: str) -> str | None:
    """Why the driver module of ``factory`` (``module:Class``) cannot be found, or None."""
    module = factory.partition(":")[0]
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        return f"cannot load {module}: {exc}"
    return None if found is not None else f"{module} is not part of this installation"


def _sane_driver(section: Section) -> None:
    """python-sane is optional (only where SANE exists): missing, it is a warning saying why
    there are no scanners, never a failure; on systems without SANE only information."""
    reason = sane_unavailable()
    if reason is None:
        section.add("ok", f"python-sane {_dist_version('python-sane')}")
        return
    hint = _SANE_HINTS.get(sys.platform, "SANE does not exist on this system; importing files, "
                                         "OCR and export work without it")
    section.add("warn" if sys.platform in _SANE_HINTS else "info",
                f"SANE driver: {NOT_AVAILABLE}: {reason}; no scanners can be listed", hint)


#: How to get python-sane where SANE exists (it is built against libsane's headers).
_SANE_HINTS = {
    "linux": "install libsane-dev (Debian/Ubuntu; scripts/install does), then "
             "pip install python-sane",
    "darwin": "brew install sane-backends, then pip install 'scanlet[sane]'",
}


def _tesseract(ctx: _Context, section: Section) -> None:
    from scanlet.ocr.tesseract import find_tesseract

    try:
        binary = find_tesseract(ctx.settings.tesseract)
    except ScanletError as exc:
        section.add("warn", f"tesseract: {exc.message}", "OCR and page orientation need it")
        return
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True,
                              timeout=ctx.timeout + 2, check=False)
        lines = (done.stdout or done.stderr).strip().splitlines()
        version = lines[0] if lines else "?"
    except (OSError, subprocess.SubprocessError) as exc:
        section.add("warn", f"tesseract {binary}: does not run ({type(exc).__name__})")
        return
    section.add("ok", f"{version} ({binary})")


# -- helpers ----------------------------------------------------------------------------------


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _dist_version(dist: str) -> str:
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        return importlib.metadata.version(dist)
    return "?"


def _problem_code(response: httpx.Response) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        return str(response.json().get("code", ""))
    return ""


def _parse_time(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"

