"""``scanlet service install|uninstall|start|stop|status``.

Linux: the unit is checked by the real ``systemd-analyze verify`` (package ``systemd``,
installed by scripts/install; it needs no running systemd), installed under ``--root`` and
removed again, with a real ``serve`` and a real monitor stopped by uninstall. macOS and
Windows: their plans are pure data, checked against the same contract as systemd's with a
recording fake in place of launchctl/schtasks/systemctl.
"""

from __future__ import annotations

import os
import plistlib
import pwd
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from scanlet.config import Home
from scanlet.errors import ServiceError
from scanlet.service.install import (
    CommandResult,
    ServiceSpec,
    backend_for,
    install,
    launchd,
    lint_plan,
    make_spec,
    status,
    systemd,
    uninstall,
    windows,
)
from scanlet.service.install.base import run_command
from tests.conftest import make_home, start_service
from tests.service.conftest import alive, make_monitor_home, start_monitor

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux machine")

ME = pwd.getpwuid(os.getuid()).pw_name
MONITOR = ["-m", "scanlet", "service", "run", "--home"]
TRICKY = ["plain", "with space", 'dq"uote', "sq'uote", "back\\slash", "trailing\\",
          "per%cent", "dol$lar", "$HOME", "${X}", ";", "", "ünï cödé", "tab\tbed"]


def scanlet(*args: str, env: dict[str, str] | None = None, timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanlet", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    """The real ``systemd-analyze verify`` (works without a running systemd)."""
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: install Debian's `systemd` (scripts/install does)"
    return subprocess.run([tool, "verify", "--man=no", str(unit)], capture_output=True,
                          text=True, timeout=60)


def assert_verified(unit: Path) -> None:
    done = verify(unit)
    about_ours = [line for line in (done.stdout + done.stderr).splitlines()
                  if unit.name in line]
    assert done.returncode == 0 and not about_ours, done.stderr


def exec_start(unit: Path) -> list[str]:
    lines = [line for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    assert len(lines) == 1
    return systemd.split(lines[0].removeprefix("ExecStart="))


@pytest.fixture
def python(tmp_path: Path) -> Path:
    """This Python, reached through a path with spaces (systemd quoting is exercised, and
    systemd-analyze checks that the program exists)."""
    link = tmp_path / "py dir" / "python 3"
    link.parent.mkdir()
    link.symlink_to(sys.executable)
    return link


@pytest.fixture
def xdg(tmp_path: Path) -> dict[str, str]:
    """Per-user folders of the test (no real ~/.config or default home is touched)."""
    return {"XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_DATA_HOME": str(tmp_path / "data")}


def with_buffer(home: Path) -> Path:
    """A Scanlet home with a page file in its buffer."""
    Home(home).create()  # the layout and service.ini
    page = home / "cache" / "pages" / "page-1.bin"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_bytes(b"scanned page")
    assert (home / "service.ini").is_file()
    return page


# --- Linux: systemd, with the real systemd-analyze --------------------------------------------


def test_user_unit_under_root_is_verified_and_uninstall_removes_it(
        tmp_path: Path, python: Path, xdg: dict[str, str]) -> None:
    root, home = tmp_path / "root", tmp_path / "my home"
    page = with_buffer(home)
    done = scanlet("service", "install", "--root", str(root), "--home", str(home),
                   "--python", str(python), env=xdg)
    assert done.returncode == 0, done.stderr
    unit = root / xdg["XDG_CONFIG_HOME"].lstrip("/") / "systemd" / "user" / "scanlet.service"
    assert unit.is_file() and str(unit) in done.stdout
    assert exec_start(unit) == [str(python), *MONITOR, str(home)]
    text = unit.read_text()
    assert f'Environment="SCANLET_HOME={home}"' in text  # not the default home
    assert "WantedBy=default.target" in text and "User=" not in text
    assert "Restart=on-failure" in text and "NoNewPrivileges=yes" in text
    assert_verified(unit)

    state = scanlet("service", "status", "--root", str(root), "--home", str(home), env=xdg)
    assert state.returncode == 1, state.stdout  # installed, not running
    assert "installed" in state.stdout and "not running" in state.stdout

    wants = unit.parent / "default.target.wants" / "scanlet.service"
    wants.parent.mkdir()
    wants.symlink_to(unit)  # as `systemctl --user enable` leaves it
    # Without --home, uninstall finds the home in the installed unit.
    done = scanlet("service", "uninstall", "--root", str(root), env=xdg)
    assert done.returncode == 0, done.stderr
    assert not unit.exists() and not wants.is_symlink()
    assert page.read_bytes() == b"scanned page"  # the buffer stays
    assert "Kept the home" in done.stdout

    state = scanlet("service", "status", "--root", str(root), "--home", str(home), env=xdg)
    assert state.returncode == 3 and "not installed" in state.stdout


def test_system_unit_under_root(tmp_path: Path, python: Path, xdg: dict[str, str]) -> None:
    root, home = tmp_path / "root", tmp_path / "srv home"
    done = scanlet("service", "install", "--system", "--user", ME, "--root", str(root),
                   "--home", str(home), "--python", str(python), env=xdg)
    assert done.returncode == 0, done.stderr
    unit = root / "etc" / "systemd" / "system" / "scanlet.service"
    text = unit.read_text()
    assert exec_start(unit) == [str(python), *MONITOR, str(home)]
    assert f"User={ME}" in text and "WantedBy=multi-user.target" in text
    assert "PrivateTmp=yes" in text and "ProtectSystem=full" in text
    assert "ProtectHome" not in text and "PrivateDevices" not in text  # scanners, the home
    assert_verified(unit)

    done = scanlet("service", "uninstall", "--system", "--root", str(root), env=xdg)
    assert done.returncode == 0, done.stderr
    assert not unit.exists()


def test_default_home_needs_no_environment(python: Path, xdg: dict[str, str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in xdg.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SCANLET_HOME", raising=False)
    spec = make_spec(python=python)
    assert spec.default_home and spec.home == Path(xdg["XDG_DATA_HOME"]) / "scanlet"
    assert spec.config_home == Path(xdg["XDG_CONFIG_HOME"])
    text = systemd.render_unit(spec)
    assert "SCANLET_HOME" not in text
    assert f"--home {spec.home}" in text


@pytest.mark.parametrize("word", TRICKY)
def test_systemd_quoting_round_trips(word: str) -> None:
    for exec_line in (True, False):
        quoted = systemd.quote(word, exec_line=exec_line)
        assert systemd.split(f"a {quoted} b", exec_line=exec_line) == ["a", word, "b"]


def test_unit_with_awkward_paths_is_accepted(tmp_path: Path) -> None:
    """Quotes, backslashes, % and $ in the home; systemd must take the unit as it is."""
    home = tmp_path / "h 'o' \"m\" e\\ 100% $HOME"
    spec = make_spec(home, python=sys.executable)
    assert lint_plan(backend_for().plan(spec), backend_for()) == []
    unit = tmp_path / "scanlet.service"
    unit.write_text(systemd.render_unit(spec))
    assert_verified(unit)
    assert exec_start(unit)[-1] == str(home)
    assert systemd.SystemdBackend().installed_home(unit.read_bytes()) == home


def test_broken_units_are_rejected(tmp_path: Path) -> None:
    """The check can fail: systemd-analyze refuses a relative program, and an unknown key
    (which it only warns about) is a problem too."""
    backend = systemd.SystemdBackend()
    spec = make_spec(tmp_path / "home", python=sys.executable)
    good = systemd.render_unit(spec)
    broken = {
        "relative": good.replace(f"ExecStart={sys.executable}", "ExecStart=relative/python"),
        "missing": good.replace(f"ExecStart={sys.executable}", "ExecStart=/no/such/python"),
        "unknown": good.replace("Restart=on-failure", "Restart=on-failure\nRestartt=always"),
        "quote": good.replace("--home ", '--home "'),
    }
    for name, text in broken.items():
        assert text != good, name
        unit = tmp_path / name / "scanlet.service"
        unit.parent.mkdir()
        unit.write_text(text)
        planned = backend.plan(spec).files[0]
        assert backend.lint([(planned, unit)], run_command), name
    # And install refuses to write a unit that fails, e.g. for a Python that does not exist.
    root = tmp_path / "root"
    with pytest.raises(ServiceError, match="systemd-analyze"):
        install(replace(spec, python=Path("/no/such/python")), root=root)
    assert not root.exists()


def test_purge_deletes_the_home_after_uninstall(tmp_path: Path, python: Path,
                                                xdg: dict[str, str]) -> None:
    root, home = tmp_path / "root", tmp_path / "home"
    with_buffer(home)
    assert scanlet("service", "install", "--root", str(root), "--home", str(home),
                   "--python", str(python), env=xdg).returncode == 0
    refused = scanlet("service", "uninstall", "--root", str(root), "--purge", env=xdg)
    assert refused.returncode != 0 and home.exists()  # no terminal and no --yes
    done = scanlet("service", "uninstall", "--root", str(root), "--purge", "--yes", env=xdg)
    assert done.returncode == 0, done.stderr
    assert not home.exists()
    assert not list(root.rglob("scanlet.service"))


def test_purge_refuses_a_folder_that_is_no_scanlet_home(tmp_path: Path) -> None:
    other = tmp_path / "documents"
    other.mkdir()
    (other / "thesis.txt").write_text("keep me")
    spec = make_spec(other, python=sys.executable)
    with pytest.raises(ServiceError, match="does not look like a Scanlet home"):
        uninstall(spec, root=tmp_path / "root", purge=True)
    assert (other / "thesis.txt").exists()


def test_uninstall_stops_serve_and_removes_port_lock(tmp_path: Path, python: Path,
                                                     xdg: dict[str, str]) -> None:
    home = make_home(tmp_path / "home")
    service = start_service(home)
    try:
        root = tmp_path / "root"
        assert scanlet("service", "install", "--root", str(root), "--home", str(home),
                       "--python", str(python), env=xdg).returncode == 0
        state = scanlet("service", "status", "--root", str(root), env=xdg)
        assert f"pid {service.process.pid}" in state.stdout and "healthy" in state.stdout
        done = scanlet("service", "uninstall", "--root", str(root), env=xdg)
        assert done.returncode == 0, done.stderr
        assert service.process.wait(timeout=30) is not None
        assert not (home / "port.lock").exists()
        assert (home / "cache").is_dir() and (home / "keys" / "cache.key").is_file()
    finally:
        service.kill()


def test_uninstall_stops_the_monitor_too(tmp_path: Path, xdg: dict[str, str]) -> None:
    """serve's parent monitor is stopped first (else it would start serve again)."""
    monitor = start_monitor(make_monitor_home(tmp_path / "home"))
    try:
        serve_pid, _url = monitor.wait_serve()
        done = scanlet("service", "uninstall", "--root", str(tmp_path / "root"), "--home",
                       str(monitor.home), env=xdg)
        assert done.returncode == 0, done.stderr
        assert f"stopped Scanlet pid {monitor.pid}" in done.stdout
        assert monitor.process.wait(timeout=30) == 0
        assert not alive(serve_pid)
        assert not (monitor.home / "port.lock").exists()
    finally:
        monitor.cleanup()


def test_status_of_an_uninstalled_service(tmp_path: Path, xdg: dict[str, str]) -> None:
    """Without --root: nothing is installed for this user, so no service manager is asked."""
    done = scanlet("service", "status", "--home", str(tmp_path / "home"), env=xdg)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "not installed" in done.stdout


def test_install_without_a_reachable_manager_writes_nothing(tmp_path: Path) -> None:
    spec = spec_for("linux", tmp_path)
    runner = FakeRunner({"--property=Version": (1, "Failed to connect to bus")})
    with pytest.raises(ServiceError, match=r"cannot be reached.*--root /"):
        install(spec, runner=runner, platform="linux")
    assert not files_under(tmp_path)


def test_system_install_needs_root_unless_under_root(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spec = replace(spec_for("linux", tmp_path), system=True)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ServiceError, match="needs root"):
        install(spec, runner=FakeRunner(), platform="linux")


# --- the contract, for all three platforms (fake service managers) ---------------------------


class FakeRunner:
    """Records service-manager commands and answers them from a table (substring of the
    command line → exit code, stdout); the real checkers (systemd-analyze) run for real."""

    def __init__(self, answers: dict[str, tuple[int, str]] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, args: Sequence[str], *, timeout: float = 60) -> CommandResult:
        argv = tuple(str(a) for a in args)
        if argv[0] in ("systemd-analyze", "plutil"):
            return run_command(argv, timeout=timeout)
        self.calls.append(argv)
        line = " ".join(argv)
        for key, (code, out) in self.answers.items():
            if key in line:
                return CommandResult(argv, code, out, "" if code == 0 else out)
        return CommandResult(argv, 0)

    def commands(self) -> list[str]:
        return [" ".join(call) for call in self.calls]


RUNNING = {
    "linux": {"--property=LoadState": (0, "LoadState=loaded\nActiveState=active\n"
                                          "SubState=running\nUnitFileState=enabled\n"
                                          "MainPID=4242\nNRestarts=0\n")},
    "darwin": {"print gui/501/org.scanlet.service": (0, (
        "gui/501/org.scanlet.service = {\n\tactive count = 1\n\tpath = /x.plist\n"
        "\tstate = running\n\tprogram = /usr/bin/python3\n\tenvironment = {\n"
        "\t\tstate = nested\n\t}\n\tpid = 4242\n\tlast exit code = (never exited)\n}\n"))},
    "win32": {"/Query": (0, '"\\Scanlet","N/A","Running"\r\n')},
}
NOT_LOADED = {"linux": {}, "darwin": {"print gui/501/org.scanlet.service": (113, "")},
              "win32": {"/Query": (1, "ERROR: The system cannot find the file specified.")}}


def spec_for(platform: str, tmp_path: Path) -> ServiceSpec:
    python = Path(sys.executable)  # exists, so systemd-analyze can check the unit
    if platform == "win32":
        python = tmp_path / "Python 3.12" / "pythonw.exe"
    return ServiceSpec(home=tmp_path / "my home", python=python, user="jane",
                       user_home=tmp_path / "user home", config_home=tmp_path / "config",
                       uid=501, default_home=False)


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_install_status_uninstall_contract(platform: str, tmp_path: Path) -> None:
    spec = spec_for(platform, tmp_path)
    backend = backend_for(platform)
    plan = backend.plan(spec)
    before = files_under(tmp_path)

    runner = FakeRunner(RUNNING[platform])
    report = install(spec, runner=runner, platform=platform)
    assert files_under(tmp_path) - before == {f.path for f in plan.files}  # exactly these
    for planned in plan.files:
        assert planned.path.read_bytes() == planned.content
        assert backend.installed_home(planned.content) == spec.home
    expected = [plan.probe, *plan.install, *plan.activate]
    assert runner.commands() == [str(step) for step in expected]
    assert report.ran == runner.commands()[1:]  # the probe only asks

    runner.calls.clear()
    result = status(spec, runner=runner, platform=platform, timeout=1)
    assert result.installed and result.manager is not None
    assert result.manager.running and result.manager.pid in (4242, None)
    assert result.instance is None and result.exit_code == 1  # no Scanlet answers here
    assert runner.commands() == [str(plan.probe), *map(str, plan.status)]

    runner = FakeRunner(NOT_LOADED[platform])
    assert backend.parse_status([runner(step.args) for step in plan.status]).running is False

    runner = FakeRunner()
    report = uninstall(spec, runner=runner, platform=platform)
    assert files_under(tmp_path) == before
    assert set(report.removed) == {f.path for f in plan.files}
    assert runner.commands() == [str(s) for s in
                                 (plan.probe, *plan.uninstall, *plan.after_uninstall)]
    result = status(spec, runner=runner, platform=platform)
    assert not result.installed and result.exit_code == 3


def test_status_of_a_running_service_is_healthy(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    service = start_service(home)
    try:
        spec = replace(spec_for("linux", tmp_path), home=home)
        runner = FakeRunner(RUNNING["linux"])
        install(spec, runner=runner, platform="linux")
        result = status(spec, runner=runner, platform="linux")
        assert result.healthy and result.exit_code == 0
        assert result.instance is not None and result.instance.pid == service.process.pid
    finally:
        service.kill(signal.SIGTERM)


# --- macOS: launchd ---------------------------------------------------------------------------


@pytest.mark.parametrize("system", [False, True])
def test_launchd_plist_round_trips(tmp_path: Path, system: bool) -> None:
    spec = replace(spec_for("darwin", tmp_path), system=system)
    plan = launchd.LaunchdBackend().plan(spec)
    (planned,) = plan.files
    data = plistlib.loads(planned.content)
    assert launchd.check_job(planned.content) == []
    assert data["Label"] == "org.scanlet.service"
    assert data["ProgramArguments"] == [str(spec.python), *MONITOR, str(spec.home)]
    assert data["RunAtLoad"] is True and data["KeepAlive"] == {"SuccessfulExit": False}
    for key in ("StandardOutPath", "StandardErrorPath"):
        assert Path(data[key]).is_absolute() and Path(data[key]).parent == spec.home / "log"
    assert data["EnvironmentVariables"]["SCANLET_HOME"] == str(spec.home)
    if system:
        assert planned.path == Path("/Library/LaunchDaemons/org.scanlet.service.plist")
        assert data["UserName"] == "jane"
        assert str(plan.activate[0]) == f"launchctl bootstrap system {planned.path}"
    else:
        assert planned.path == spec.user_home / "Library/LaunchAgents/org.scanlet.service.plist"
        assert "UserName" not in data
        assert str(plan.activate[0]) == f"launchctl bootstrap gui/501 {planned.path}"
    assert str(plan.uninstall[0]) == (
        f"launchctl bootout {'system' if system else 'gui/501'}/org.scanlet.service")


def test_launchd_check_catches_bad_plists() -> None:
    assert launchd.check_job(b"not a plist")
    bad = plistlib.dumps({"Label": "x", "ProgramArguments": ["python", "-m", "scanlet"],
                          "RunAtLoad": True, "KeepAlive": {}, "StandardOutPath": "log.txt"})
    problems = " ".join(launchd.check_job(bad))
    assert "not an absolute path" in problems and "StandardErrorPath" in problems


# --- Windows: a Task Scheduler logon task -----------------------------------------------------


def test_windows_task_gives_back_the_arguments() -> None:
    python = r"C:\Program Files\Python 3.12\pythonw.exe"
    home = "C:\\Users\\Jane Doe\\My \"Scans\"\\"  # spaces, a quote, a trailing backslash
    spec = ServiceSpec(home=Path(home), python=Path(python), user="PC\\Jane Doe",
                       user_home=Path(r"C:\Users\Jane Doe"),
                       config_home=Path(r"C:\Users\Jane Doe\AppData\Roaming"))
    plan = windows.WindowsBackend().plan(spec)
    (planned,) = plan.files
    assert planned.content.startswith(b"\xff\xfe")  # UTF-16 with a BOM, as schtasks wants
    assert windows.check_task(planned.content) == []
    assert windows.read_action(planned.content) == (python, [*MONITOR, str(spec.home)])
    assert windows.WindowsBackend().installed_home(planned.content) == spec.home
    root = ET.fromstring(planned.content)
    ns = {"t": windows.NS}
    assert root.findtext("t:Triggers/t:LogonTrigger/t:UserId", namespaces=ns) == "PC\\Jane Doe"
    assert root.findtext("t:Settings/t:ExecutionTimeLimit", namespaces=ns) == "PT0S"

    create = plan.install[0].args
    assert create[:5] == ("schtasks", "/Create", "/TN", "Scanlet", "/XML")
    line = subprocess.list2cmdline(create)  # what CreateProcess gets
    assert windows.split_command_line(line) == list(create)


@pytest.mark.parametrize("word", TRICKY)
def test_windows_quoting_round_trips(word: str) -> None:
    line = subprocess.list2cmdline(["a", word, "b"])
    assert windows.split_command_line(line) == ["a", word, "b"]


def test_windows_system_service_is_refused_clearly(tmp_path: Path) -> None:
    spec = replace(spec_for("win32", tmp_path), system=True)
    with pytest.raises(ServiceError, match="not supported on Windows"):
        windows.WindowsBackend().plan(spec)
