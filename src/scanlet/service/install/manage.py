"""Install, remove, start, stop and inspect the OS service: runs a backend's :class:`Plan`.

``root`` (``--root DIR``, for tests and packagers) writes and removes the planned files under
``DIR`` instead of ``/`` (the user's own folders included, e.g. ``DIR/home/me/.config/...``)
and runs no service-manager command; ``--root /`` therefore means "write the files in place,
start nothing". Without it, install fails before writing anything when the service manager
cannot be reached, and says what to do (see :func:`install`).

Uninstall also stops a Scanlet still running for the home (the monitor and ``serve`` named by
``port.lock``, if they belong to the user), removes ``port.lock`` once nothing holds it,
removes the local CA from the trust stores (:func:`scanlet.security.truststore.uninstall`,
the same code as ``scanlet cert uninstall``) and keeps the home (the buffer, keys, logs)
unless ``purge``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import os
import shutil
import signal
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import platformdirs

from scanlet.config import APP_NAME, Home, resolve_home
from scanlet.errors import ScanletError, ServiceError, ServiceNotInstalled
from scanlet.service.install.base import (
    Backend,
    CommandResult,
    CommandRunner,
    ManagerState,
    Plan,
    ServiceSpec,
    Step,
    run_command,
)
from scanlet.service.instance import InstanceInfo, read_instance

STOP_TIMEOUT = 30.0


def backend_for(platform: str = sys.platform) -> Backend:
    """The backend of a platform (``sys.platform`` values)."""
    if platform.startswith("linux"):
        from scanlet.service.install.systemd import SystemdBackend

        return SystemdBackend()
    if platform == "darwin":
        from scanlet.service.install.launchd import LaunchdBackend

        return LaunchdBackend()
    if platform == "win32":
        from scanlet.service.install.windows import WindowsBackend

        return WindowsBackend()
    raise ServiceError(f"Scanlet cannot install an OS service on {platform!r}; start "
                       "`scanlet service run` from your system's autostart instead")


# --- the spec -------------------------------------------------------------------------------


def _check_text(what: str, value: str) -> None:
    if any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise ServiceError(f"the {what} {value!r} contains a control character; choose "
                           "another path")


def default_python(platform: str = sys.platform) -> Path:
    """This interpreter, absolute but not resolved (a venv's python is a symlink); on Windows
    its ``pythonw.exe`` sibling when there is one (no console window)."""
    python = Path(os.path.abspath(sys.executable))
    if platform == "win32":
        windowless = python.with_name("pythonw.exe")
        if windowless.exists():
            return windowless
    return python


def _account(system: bool, user: str | None, platform: str, require_user: bool = True
             ) -> tuple[str, int | None, Path, bool]:
    """(name, uid, home folder, is-the-current-user) of the account the service runs as."""
    current = getpass.getuser()
    if platform == "win32":
        domain = os.environ.get("USERDOMAIN")
        return (f"{domain}\\{current}" if domain else current), None, Path.home(), True
    if not system:
        if user is not None and user != current:
            raise ServiceError("--user applies to --system only; a user service runs as you")
        return current, os.getuid(), Path.home(), True
    if user is None:
        sudo_user = os.environ.get("SUDO_USER")
        if sudo_user and sudo_user != "root":
            user = sudo_user
        elif os.geteuid() != 0 or not require_user:
            user = current
        else:
            raise ServiceError("give --user NAME: the account the system service runs as "
                               "(Scanlet does not run as root by default)")
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError as exc:
        raise ServiceError(f"there is no user {user!r} on this system") from exc
    return user, entry.pw_uid, Path(entry.pw_dir), user == current


def _default_home(user_home: Path, is_current: bool, platform: str) -> Path:
    if is_current:
        return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if platform == "darwin":
        return user_home / "Library" / "Application Support" / APP_NAME
    return user_home / ".local" / "share" / APP_NAME


def make_spec(home: Path | str | None = None, *, system: bool = False, user: str | None = None,
              python: Path | str | None = None, platform: str = sys.platform,
              require_user: bool = True) -> ServiceSpec:
    """The spec for this machine: the account (``--user``, the ``sudo`` caller or you), its
    home (``--home``, ``$SCANLET_HOME`` or the account's default), this Python.

    ``require_user=False`` (commands on an installed service, which then read the home from
    it): root without ``--user`` or ``sudo`` stands for the account instead of an error."""
    name, uid, user_home, is_current = _account(system, user, platform, require_user)
    default = _default_home(user_home, is_current, platform)
    where = resolve_home(home).root if home is not None or is_current else default
    exe = Path(os.path.abspath(python)) if python is not None else default_python(platform)
    _check_text("home", str(where))
    _check_text("Python path", str(exe))
    if platform == "win32":
        config_home = Path(platformdirs.user_config_dir(roaming=True))
    elif is_current:
        config_home = Path(platformdirs.user_config_dir())
    else:
        config_home = user_home / ".config"
    return ServiceSpec(home=where, python=exe, user=name, user_home=user_home,
                       config_home=config_home, system=system, uid=uid,
                       default_home=where == default)


def rooted(path: Path, root: Path | None) -> Path:
    """``path`` under ``root`` (``--root``), or itself."""
    return path if root is None else root / path.relative_to(path.anchor)


def installed_spec(spec: ServiceSpec, *, root: Path | None = None,
                   platform: str = sys.platform) -> ServiceSpec:
    """``spec`` with the home the installed service actually uses (for commands run without
    ``--home``); ``spec`` itself when nothing is installed or the file cannot be read."""
    backend = backend_for(platform)
    path = rooted(backend.plan(spec).main_file, root)
    try:
        home = backend.installed_home(path.read_bytes())
    except OSError:
        return spec
    if home is None or home == spec.home:
        return spec
    return dataclasses.replace(spec, home=home, default_home=False)


# --- running plans --------------------------------------------------------------------------


@dataclass
class Report:
    """What an operation did, for the CLI to print."""

    plan: Plan
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    was_installed: bool = True


def _run(steps: tuple[Step, ...], runner: CommandRunner, report: Report) -> list[CommandResult]:
    results = []
    for step in steps:
        result = runner(step.args)
        report.ran.append(str(step))
        if step.check and not result.ok:
            raise ServiceError(f"{report.plan.manager} refused: {result.describe()}",
                               command=str(step), output=(result.stderr or result.stdout)[-2000:])
        results.append(result)
    return results


def _reachable(plan: Plan, runner: CommandRunner) -> str | None:
    """None when the service manager answers, else why not."""
    try:
        result = runner(plan.probe.args)
    except ServiceError as exc:
        return exc.message
    return None if result.ok else result.describe()


def _unreachable_error(plan: Plan, why: str) -> ServiceError:
    extra = ""
    if plan.backend == "systemd" and "user" in plan.manager:
        extra = (" User services need a log-in session with a systemd user manager "
                 "(`systemctl --user status` must work); containers and some remote shells "
                 "have none.")
    return ServiceError(
        f"{plan.manager} cannot be reached ({why}); nothing was installed.{extra} To write the "
        "service file without starting it, run the same command with `--root /` and enable "
        "it later; to run Scanlet without a service manager, start `scanlet service run` "
        "from your session's autostart.", manager=plan.manager)


def _require_privileges(spec: ServiceSpec, action: str) -> None:
    if spec.system and hasattr(os, "geteuid") and os.geteuid() != 0:
        raise ServiceError(f"the system-wide service needs root: run `sudo scanlet service "
                           f"{action} --system ...` (or leave out --system for a user service)")


def _write(path: Path, content: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def lint_plan(plan: Plan, backend: Backend, runner: CommandRunner = run_command) -> list[str]:
    """The backend's checks (``systemd-analyze verify``, ``plutil -lint``, reading back) on
    the planned files, written to a scratch folder under their own names."""
    with tempfile.TemporaryDirectory(prefix="scanlet-service-") as scratch:
        written = []
        for planned in plan.files:
            path = Path(scratch) / planned.path.name
            path.write_bytes(planned.content)
            written.append((planned, path))
        return backend.lint(written, runner)


def install(spec: ServiceSpec, *, root: Path | None = None, start: bool = True,
            check: bool = True, runner: CommandRunner = run_command,
            platform: str = sys.platform) -> Report:
    """Write the service files and, without ``root``, register, enable and (re)start the
    service so it runs the new definition.

    Checks the files first (``check``); nothing is written when a check fails. Without
    ``root``, fails before writing anything when the service manager cannot be reached
    (:func:`_unreachable_error` says what to do instead) or ``--system`` lacks root.
    """
    backend = backend_for(platform)
    plan = backend.plan(spec)
    report = Report(plan)
    if check:
        problems = lint_plan(plan, backend, runner)
        if problems:
            raise ServiceError("the generated service file failed its check: "
                               + "; ".join(problems), problems=problems)
    if root is None:
        _require_privileges(spec, "install")
        why = _reachable(plan, runner)
        if why is not None:
            raise _unreachable_error(plan, why)
    report.was_installed = rooted(plan.main_file, root).exists()
    running = read_instance(Home(spec.home).port_lock)
    if root is None and running is not None and not report.was_installed:
        report.warnings.append(
            f"Scanlet already runs for {spec.home} (pid {running.pid}), not started by the "
            "service; stop it so that the service's instance can take over")
    if root is None and platform == "darwin" and not spec.system:
        (spec.home / "log").mkdir(parents=True, exist_ok=True, mode=0o700)
    for planned in plan.files:
        target = rooted(planned.path, root)
        _write(target, planned.content, planned.mode)
        report.written.append(target)
    if root is not None:
        report.notes.append(f"files written under {root}; no service manager was called: "
                            f"enable {plan.name} with {plan.manager} on the target system")
        return report
    _run(plan.install, runner, report)
    if start:
        _run(plan.activate, runner, report)
    return report


def uninstall(spec: ServiceSpec, *, root: Path | None = None, purge: bool = False,
              runner: CommandRunner = run_command, platform: str = sys.platform,
              stop_timeout: float = STOP_TIMEOUT) -> Report:
    """Stop and remove the service, stop a Scanlet still running for the home, remove
    ``port.lock`` and the trust-store entries; delete the home too with ``purge``."""
    backend = backend_for(platform)
    plan = backend.plan(spec)
    report = Report(plan)
    main = rooted(plan.main_file, root)
    report.was_installed = main.exists()
    reachable = False
    if root is None:
        _require_privileges(spec, "uninstall")
        why = _reachable(plan, runner)
        reachable = why is None
        if reachable:
            _run(plan.uninstall, runner, report)
        elif report.was_installed:
            report.warnings.append(f"{plan.manager} cannot be reached ({why}); removed the "
                                   "files only")
    for path in [rooted(p.path, root) for p in plan.files] + backend.leftovers(main):
        if path.is_symlink() or path.exists():
            path.unlink()
            report.removed.append(path)
    if reachable:
        for step in plan.after_uninstall:
            result = runner(step.args)
            report.ran.append(str(step))
            if step.check and not result.ok:
                report.warnings.append(result.describe())
    if not report.was_installed:
        report.notes.append(f"{plan.name} was not installed")
    home = Home(spec.home)
    _stop_instance(home, report, timeout=stop_timeout)
    if home.port_lock.exists() and read_instance(home.port_lock) is None:
        home.port_lock.unlink()
        report.removed.append(home.port_lock)
    _remove_trust(home, report)
    if purge:
        _purge(home, report)
    return report


def start(spec: ServiceSpec, *, runner: CommandRunner = run_command,
          platform: str = sys.platform) -> Report:
    """Start the installed service."""
    return _control(spec, "start", runner, platform)


def stop(spec: ServiceSpec, *, runner: CommandRunner = run_command,
         platform: str = sys.platform, wait: float = STOP_TIMEOUT) -> Report:
    """Stop the service (it starts again at the next log-in or boot, or with ``start``)."""
    report = _control(spec, "stop", runner, platform)
    home = Home(spec.home)
    deadline = time.monotonic() + wait
    while (info := read_instance(home.port_lock)) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    if info is not None:
        report.warnings.append(f"Scanlet still runs for {spec.home} (pid {info.pid}); it was "
                               "not started by the service, or did not stop in time")
    return report


def _control(spec: ServiceSpec, action: str, runner: CommandRunner, platform: str) -> Report:
    backend = backend_for(platform)
    plan = backend.plan(spec)
    report = Report(plan)
    if not plan.main_file.exists():
        raise ServiceNotInstalled(f"Scanlet is not installed as a {spec.scope} service "
                                  f"({plan.main_file} does not exist): run `scanlet service "
                                  f"install{' --system' if spec.system else ''}` first")
    _require_privileges(spec, action)
    why = _reachable(plan, runner)
    if why is not None:
        raise ServiceError(f"{plan.manager} cannot be reached ({why}); run `scanlet service "
                           "run` to start Scanlet without it", manager=plan.manager)
    _run(plan.start if action == "start" else plan.stop, runner, report)
    return report


# --- status ---------------------------------------------------------------------------------


@dataclass
class ServiceStatus:
    """What ``scanlet service status`` shows. Exit codes: 0 installed and answering its health
    check, 1 installed but not running (or not answering), 3 not installed."""

    installed: bool
    path: Path
    plan: Plan
    home: Path
    manager: ManagerState | None = None
    manager_problem: str | None = None
    instance: InstanceInfo | None = None
    health_problem: str | None = None

    @property
    def healthy(self) -> bool:
        return self.instance is not None and self.health_problem is None

    @property
    def exit_code(self) -> int:
        if not self.installed:
            return 3
        if self.manager is not None and not self.manager.running:
            return 1
        return 0 if self.healthy else 1


def status(spec: ServiceSpec, *, root: Path | None = None, runner: CommandRunner = run_command,
           platform: str = sys.platform, timeout: float = 3.0) -> ServiceStatus:
    """Is the service installed, what does its manager say (not with ``root``), and does the
    Scanlet of its home answer ``GET /v1/health``?"""
    backend = backend_for(platform)
    plan = backend.plan(spec)
    path = rooted(plan.main_file, root)
    result = ServiceStatus(installed=path.exists(), path=path, plan=plan, home=spec.home)
    if root is None and result.installed:
        why = _reachable(plan, runner)
        if why is None:
            answers = [runner(step.args) for step in plan.status]
            result.manager = backend.parse_status(answers)
        else:
            result.manager_problem = f"{plan.manager} cannot be reached ({why})"
    result.instance, result.health_problem = check_health(Home(spec.home), timeout=timeout)
    return result


def check_health(home: Home, *, timeout: float = 3.0) -> tuple[InstanceInfo | None, str | None]:
    """(the instance in ``port.lock``, None when it answers ``/v1/health``, else why not)."""
    info = read_instance(home.port_lock)
    if info is None:
        return None, "no Scanlet runs for this home (port.lock is free)"
    url = info.url
    verify: ssl.SSLContext | bool = True
    if url is None and info.https_url is not None:
        from scanlet.security import certs

        url = info.https_url
        ca = certs.cert_paths(home).ca
        verify = ssl.create_default_context(cafile=str(ca)) if ca.is_file() else False
    if url is None:
        return info, "it has not opened its listeners yet"
    try:
        response = httpx.get(f"{url}/v1/health", timeout=timeout, verify=verify)
    except httpx.HTTPError as exc:
        return info, f"{url}/v1/health did not answer ({exc.__class__.__name__}: {exc})"
    if response.status_code != 200:
        return info, f"{url}/v1/health answered {response.status_code}"
    return info, None


# --- what uninstall cleans up ---------------------------------------------------------------


def _ps(pid: int, column: str) -> str | None:
    """One ``ps`` column of a process (POSIX without /proc, e.g. macOS)."""
    try:
        done = run_command(["ps", "-o", f"{column}=", "-p", str(pid)], timeout=10)
    except ServiceError:  # no ps, or it hung
        return None
    if not done.ok:
        return None
    return done.stdout.strip() or None


def _process_uid(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        return os.stat(f"/proc/{pid}").st_uid
    uid = _ps(pid, "uid")
    return int(uid) if uid and uid.isdigit() else None


def _parent_pid(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    ppid = _ps(pid, "ppid")
    return int(ppid) if ppid and ppid.isdigit() else None


def _command_line(pid: int) -> list[str]:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    command = _ps(pid, "command")
    return command.split() if command else []


def _alive(pid: int) -> bool:
    if sys.platform == "win32":
        return False  # os.kill(pid, 0) would terminate it there; port.lock tells instead
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # a zombie has ended
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_monitor(pid: int) -> bool:
    """Is ``pid`` a ``scanlet service run`` (``python -m scanlet`` or the ``scanlet`` script)?"""
    words = _command_line(pid)
    for i, word in enumerate(words[:-1]):
        if word == "service" and words[i + 1] == "run":
            return any(Path(w).name in ("scanlet", "scanlet.exe") for w in words[:i])
    return False


def _stop_instance(home: Home, report: Report, *, timeout: float) -> None:
    """Stop a Scanlet still running for ``home`` (``serve`` in ``port.lock`` and its monitor
    parent): SIGTERM, then wait at most ``timeout``. Only processes of the home's owner (or
    ours) are signalled; nothing is killed harder."""
    info = read_instance(home.port_lock)
    if info is None or info.pid == os.getpid():
        return
    if hasattr(os, "geteuid"):
        owner = _process_uid(info.pid)
        allowed = {os.geteuid()}
        with contextlib.suppress(OSError):
            allowed.add(home.root.stat().st_uid)
        if owner is not None and owner not in allowed:
            report.warnings.append(f"Scanlet pid {info.pid} for {home.root} belongs to another "
                                   "user; not stopped")
            return
    targets = []
    parent = _parent_pid(info.pid) if sys.platform != "win32" else None
    if parent is not None and parent > 1 and parent != os.getpid() and _is_monitor(parent):
        targets.append(parent)
    targets.append(info.pid)
    deadline = time.monotonic() + timeout
    for pid in targets:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        except PermissionError:
            report.warnings.append(f"not allowed to stop Scanlet pid {pid}")
            return
        report.notes.append(f"stopped Scanlet pid {pid}")
        while pid != info.pid and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)  # the monitor first: it stops serve in order
        if read_instance(home.port_lock) is None:
            break
    while read_instance(home.port_lock) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    if read_instance(home.port_lock) is not None:
        report.warnings.append(f"Scanlet pid {info.pid} did not stop within {timeout:.0f} s; "
                               "port.lock was kept")


def _remove_trust(home: Home, report: Report) -> None:
    from scanlet.security import truststore

    if not truststore.trust_file(home).is_file():
        return
    try:
        done = truststore.uninstall(home)
    except ScanletError as exc:
        report.warnings.append(f"trust stores: {exc.message} (see `scanlet cert status`)")
        return
    report.notes += [f"removed the local CA from {item}" for item in done.removed]


def _purge(home: Home, report: Report) -> None:
    where = home.root
    if not where.exists():
        return
    forbidden = {Path(where.anchor), Path.home(), Path.home().parent}
    if where in forbidden or not home.identity.is_file():
        raise ServiceError(f"{where} does not look like a Scanlet home (no {home.identity.name});"
                           " not deleting it", path=str(where))
    if read_instance(home.port_lock) is not None:
        raise ServiceError(f"Scanlet still runs for {where}; not deleting it", path=str(where))
    shutil.rmtree(where)
    report.removed.append(where)
