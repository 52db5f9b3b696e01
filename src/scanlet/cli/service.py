"""``scanlet service ...``: run the monitor, and install Scanlet as an OS service.

``run`` is the monitor (service/monitor.py): it starts ``scanlet serve`` as a child and keeps
it healthy. The install commands (service/install/) write, enable and remove the OS service
that starts the monitor at log-in (or at boot with ``--system``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from scanlet.cli.common import DemoOpt, HomeOpt, fail
from scanlet.config import resolve_home
from scanlet.errors import ScanletError

if TYPE_CHECKING:
    from scanlet.service.install import Report, ServiceSpec

service_app = typer.Typer(no_args_is_help=True,
                          help="Run Scanlet under its monitor, or install it as an OS service.")
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)



@service_app.command("run")
def run(
    home: HomeOpt = None,
    demo: DemoOpt = False,
    port: Annotated[int | None, typer.Option(help="HTTP port for serve (default 18622; "
                                                  "0 = any)")] = None,
) -> None:
    """Run the monitor in the foreground: it starts ``scanlet serve``, checks its health and
    restarts it after an exit, a crash or a hang; crash reports go to dump/."""
    from scanlet.service.monitor import load_monitor_settings, run_monitor

    where = resolve_home(home)
    try:
        # A bad config does not stop the monitor: serve names the problem at every start,
        # the monitor backs off, and fixing the file is enough (`scanlet doctor` shows it).
        settings, _problem = load_monitor_settings(where.create())
        code = run_monitor(where, settings, demo=demo, port=port)
    except ScanletError as exc:
        raise fail(exc) from exc
    raise typer.Exit(code)


# --- install as an OS service (service/install/) ---------------------------------------------

SystemOpt = Annotated[bool, typer.Option(
    "--system", help="The system-wide service (Linux: /etc/systemd/system, macOS: a "
    "LaunchDaemon; needs root) instead of one for your user")]
RootOpt = Annotated[Path | None, typer.Option(
    "--root", help="Write/remove the files under this folder instead of / (for packagers and "
    "tests; `--root /` writes them in place) and call no service manager")]


def _spec(home: Path | None, system: bool, user: str | None = None,
          python: Path | None = None, root: Path | None = None, *, installed: bool = False
          ) -> ServiceSpec:
    from scanlet.service.install import installed_spec, make_spec

    spec = make_spec(home, system=system, user=user, python=python, require_user=not installed)
    return installed_spec(spec, root=root) if installed and home is None else spec


def _print_report(report: Report) -> None:
    for path in report.written:
        out.print(f"wrote    {escape(str(path))}")
    for command in report.ran:
        out.print(f"ran      {escape(command)}")
    for path in report.removed:
        out.print(f"removed  {escape(str(path))}")
    for note in report.notes:
        out.print(escape(note))
    for warning in report.warnings:
        err.print(f"[yellow]warning[/yellow] {escape(warning)}")


@service_app.command("install")
def install_service(
    home: HomeOpt = None,
    system: SystemOpt = False,
    user: Annotated[str | None, typer.Option(
        "--user", help="With --system: the account the service runs as (default: the sudo "
        "caller)")] = None,
    python: Annotated[Path | None, typer.Option(
        "--python", help="The Python that runs Scanlet (default: this one)")] = None,
    root: RootOpt = None,
    no_start: Annotated[bool, typer.Option(
        "--no-start", help="Register and enable the service, but do not start it now")] = False,
    no_check: Annotated[bool, typer.Option(
        "--no-check", help="Skip the check of the generated file (systemd-analyze verify, "
        "plutil -lint)")] = False,
) -> None:
    """Install Scanlet as an OS service that runs the monitor at log-in (or at boot with
    --system): a systemd unit, a launchd agent or a Windows logon task."""
    from scanlet.service.install import install

    try:
        spec = _spec(home, system, user, python)
        report = install(spec, root=root, start=not no_start, check=not no_check)
    except ScanletError as exc:
        raise fail(exc) from exc
    _print_report(report)
    if root is None:
        state = "installed and started" if not no_start else "installed (not started)"
        out.print(f"Scanlet is {state} as {escape(report.plan.name)} ({report.plan.manager}), "
                  f"home {escape(str(spec.home))}. Check it with `scanlet service status"
                  f"{' --system' if system else ''}`.")
        for hint in report.plan.hints:
            out.print(escape(hint))


@service_app.command("uninstall")
def uninstall_service(
    home: HomeOpt = None,
    system: SystemOpt = False,
    root: RootOpt = None,
    purge: Annotated[bool, typer.Option(
        "--purge", help="Also delete the home: the page buffer, keys, certificates and logs")]
    = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before --purge")] = False,
) -> None:
    """Stop and remove the OS service, stop Scanlet for the home, remove port.lock and the
    local CA from the trust stores. The home (your scanned pages) stays unless --purge."""
    import sys

    from scanlet.service.install import uninstall

    try:
        spec = _spec(home, system, root=root, installed=True)
        if purge and not yes:
            if not sys.stdin.isatty():
                raise typer.BadParameter("--purge deletes the home; add --yes to confirm "
                                         "without a terminal", param_hint="--purge")
            typer.confirm(f"Delete {spec.home} with every page, key and log in it?",
                          abort=True)
        report = uninstall(spec, root=root, purge=purge)
    except ScanletError as exc:
        raise fail(exc) from exc
    _print_report(report)
    if not purge and spec.home.exists():
        out.print(f"Kept the home {escape(str(spec.home))} (your pages); `--purge` deletes it.")


@service_app.command("start")
def start_service(home: HomeOpt = None, system: SystemOpt = False) -> None:
    """Start the installed OS service."""
    from scanlet.service.install import start

    try:
        spec = _spec(home, system, installed=True)
        _print_report(start(spec))
    except ScanletError as exc:
        raise fail(exc) from exc


@service_app.command("stop")
def stop_service(home: HomeOpt = None, system: SystemOpt = False) -> None:
    """Stop the OS service (it starts again at the next log-in/boot or `scanlet service
    start`)."""
    from scanlet.service.install import stop

    try:
        spec = _spec(home, system, installed=True)
        _print_report(stop(spec))
    except ScanletError as exc:
        raise fail(exc) from exc


@service_app.command("status")
def status_service(home: HomeOpt = None, system: SystemOpt = False, root: RootOpt = None
                   ) -> None:
    """Is the OS service installed and running, and does Scanlet answer? Exit code 0: running
    and healthy, 1: installed but not running or not answering, 3: not installed."""
    from scanlet.service.install import status

    try:
        spec = _spec(home, system, root=root, installed=True)
        result = status(spec, root=root)
    except ScanletError as exc:
        raise fail(exc) from exc
    plan = result.plan
    if not result.installed:
        out.print(f"not installed: {escape(str(result.path))} does not exist "
                  f"(`scanlet service install{' --system' if system else ''}` installs it)")
    else:
        out.print(f"installed: {escape(str(result.path))} ({plan.manager})")
        if result.manager is not None:
            manager = result.manager
            state = manager.state or ("loaded" if manager.loaded else "not loaded")
            enabled = {True: ", enabled", False: ", disabled", None: ""}[manager.enabled]
            pid = f", pid {manager.pid}" if manager.pid else ""
            out.print(f"service: {escape(state)}{enabled}{pid}")
        elif result.manager_problem:
            err.print(f"[yellow]warning[/yellow] {escape(result.manager_problem)}")
    out.print(f"home: {escape(str(result.home))}")
    if result.instance is not None:
        url = result.instance.url or result.instance.https_url or "no listener yet"
        health = "healthy" if result.healthy else escape(result.health_problem or "")
        out.print(f"scanlet: pid {result.instance.pid}, {escape(url)}, {health}")
    else:
        out.print(f"scanlet: not running ({escape(result.health_problem or '')})")
    raise typer.Exit(result.exit_code)
