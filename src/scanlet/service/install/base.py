"""Types shared by the OS-service backends: what to install (:class:`ServiceSpec`), what a
backend plans for it (:class:`Plan`: files and commands, a pure function of the spec), and how
commands run (a :data:`CommandRunner`, replaced by a recording fake in tests).

A backend never touches the disk or runs anything itself: :mod:`.manage` writes the planned
files, runs the planned commands through the runner and asks the backend to read the answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from scanlet import childproc
from scanlet.childproc import CommandResult, CommandRunner
from scanlet.errors import ServiceError

__all__ = ["Backend", "CommandResult", "CommandRunner", "ManagerState", "Plan", "PlannedFile",
           "ServiceSpec", "Step", "run_command"]

COMMAND_TIMEOUT = 90.0
MONITOR_ARGS = ("-m", "scanlet", "service", "run")


def run_command(args: Sequence[str], *, timeout: float = COMMAND_TIMEOUT) -> CommandResult:
    """The real runner (the worker-process kit's :func:`scanlet.childproc.run_command`),
    failing with ServiceError when the program is missing or does not finish."""
    return childproc.run_command(args, timeout=timeout, error=ServiceError)


@dataclass(frozen=True)
class ServiceSpec:
    """Who runs the monitor with which Python and home, and where that account keeps things.

    ``python`` is absolute and not resolved (a virtualenv's ``bin/python`` is a symlink whose
    target knows nothing of the venv). ``config_home`` is the account's configuration base:
    ``$XDG_CONFIG_HOME`` or ``~/.config`` on Linux, ``%APPDATA%`` on Windows (unused on macOS).
    ``default_home``: the home is the one the account gets without ``--home``, so the service
    needs no ``SCANLET_HOME``.
    """

    home: Path
    python: Path
    user: str
    user_home: Path
    config_home: Path
    system: bool = False
    uid: int | None = None
    default_home: bool = True

    @property
    def scope(self) -> str:
        return "system" if self.system else "user"

    def argv(self) -> tuple[str, ...]:
        """The monitor's command line: ``<python> -m scanlet service run --home <home>``."""
        return (str(self.python), *MONITOR_ARGS, "--home", str(self.home))


@dataclass(frozen=True)
class PlannedFile:
    """A file the backend installs: its final path (before ``--root``), bytes and mode."""

    path: Path
    content: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class Step:
    """One command of a plan. ``check=False``: a failure is normal at times (stopping what is
    not running, unloading what is not loaded) and is not reported as an error."""

    args: tuple[str, ...]
    check: bool = True

    def __str__(self) -> str:
        return " ".join(self.args)


@dataclass(frozen=True)
class Plan:
    """Everything one backend does for one spec, as data."""

    backend: str                 # "systemd", "launchd", "windows"
    manager: str                 # for messages: "the systemd user manager", ...
    name: str                    # unit / label / task name
    files: tuple[PlannedFile, ...]
    probe: Step                  # answers 0 when the manager can be used
    install: tuple[Step, ...]    # after the files are written; register (and enable)
    activate: tuple[Step, ...]   # after install: run the new definition now (restart)
    start: tuple[Step, ...]
    stop: tuple[Step, ...]
    uninstall: tuple[Step, ...]  # before the files are removed: stop, disable, unregister
    after_uninstall: tuple[Step, ...] = ()  # after they are removed (daemon-reload)
    status: tuple[Step, ...] = ()
    hints: tuple[str, ...] = ()  # printed after a successful install

    @property
    def main_file(self) -> Path:
        return self.files[0].path


@dataclass
class ManagerState:
    """What the service manager says about the service (None: it did not say)."""

    loaded: bool = False
    running: bool = False
    state: str | None = None     # the manager's own words: "active (running)", "Ready", ...
    enabled: bool | None = None
    pid: int | None = None
    details: dict[str, str] = field(default_factory=dict)


class Backend(Protocol):
    """One OS service manager. Every method is pure except :meth:`lint`, which may run a
    checker (``systemd-analyze``, ``plutil``) through the runner."""

    name: str

    def plan(self, spec: ServiceSpec) -> Plan: ...

    def lint(self, files: Sequence[tuple[PlannedFile, Path]], runner: CommandRunner
             ) -> list[str]:
        """Problems found in the rendered files (each also written at the given path)."""
        ...

    def parse_status(self, results: Sequence[CommandResult]) -> ManagerState:
        """Read the answers of the plan's ``status`` steps."""
        ...

    def installed_home(self, content: bytes) -> Path | None:
        """The ``--home`` an installed main file runs the monitor with (None: unreadable)."""
        ...

    def leftovers(self, main_file: Path) -> list[Path]:
        """Files the manager made next to the main file (enable links) that uninstall must
        also remove when the manager cannot do it itself (``--root``, manager not running)."""
        ...
