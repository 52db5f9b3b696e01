"""Linux: a systemd unit that runs the monitor.

User unit ``$XDG_CONFIG_HOME/systemd/user/scanlet.service`` (``~/.config`` without it), enabled
for ``default.target``: it runs while the user has a session (``loginctl enable-linger USER``
keeps it running without one). System unit ``/etc/systemd/system/scanlet.service`` with
``--system``: ``User=`` the account, enabled for ``multi-user.target``.

Choices in the unit:

- ``Type=simple``: the monitor does not speak sd_notify; systemd restarts the *monitor* on a
  failure (``Restart=on-failure``), the monitor restarts ``serve``.
- ``KillMode=mixed``: ``stop`` sends SIGTERM to the monitor only, which stops ``serve`` (and
  its scan workers) in order; whatever is left after ``TimeoutStopSec`` gets SIGKILL.
- Hardening that cannot break scanning: ``NoNewPrivileges=yes`` and ``UMask=0077`` in both;
  the system unit adds ``PrivateTmp=yes`` and ``ProtectSystem=full`` (``/usr``, ``/boot``,
  ``/etc`` read-only). Nothing hides ``/dev`` (USB scanners live in ``/dev/bus/usb``) or the
  home (the buffer must be writable, and the certificate task writes the user's browser
  databases). The user unit gets no mount sandboxing: in a user manager that needs user
  namespaces, which are off on some distributions and hide the ``scanner``/``lp`` groups.
- Paths are quoted by systemd's rules (:func:`quote`): spaces, quotes, ``%`` and ``$``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from scanlet.service.install.base import (
    CommandResult,
    CommandRunner,
    ManagerState,
    Plan,
    PlannedFile,
    ServiceSpec,
    Step,
)

UNIT_NAME = "scanlet.service"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
_PLAIN = re.compile(r"[A-Za-z0-9_@%$+=:,./~^-]+")
_STATUS_PROPERTIES = "LoadState,ActiveState,SubState,UnitFileState,MainPID,NRestarts,Result"


def quote(arg: str, *, exec_line: bool = True) -> str:
    """One word for an ``ExecStart=`` (``exec_line``) or ``Environment=`` line.

    ``%`` becomes ``%%`` (specifiers) everywhere, ``$`` becomes ``$$`` on exec lines (variable
    expansion); words with other characters are double-quoted with ``\\``, ``"``, tab and
    newline escaped C-style. Other control characters are refused (ValueError).
    """
    if any((ord(c) < 0x20 and c not in "\t\n\r") or c == "\x7f" for c in arg):
        raise ValueError(f"control character in {arg!r}")
    text = arg.replace("%", "%%")
    if exec_line:
        text = text.replace("$", "$$")
        if text == ";":
            return "\\;"
    if _PLAIN.fullmatch(text):
        return text
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r") + '"'


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
            "s": " ", "\\": "\\", '"': '"', "'": "'", ";": ";"}


def split(line: str, *, exec_line: bool = True) -> list[str]:
    """The words systemd reads from an ``ExecStart=`` (or ``Environment=``) value: the inverse
    of :func:`quote` (whitespace, single/double quotes, C escapes, ``%%``, ``$$``)."""
    line = line.replace("%%", "%")
    words: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return words
        word: list[str] = []
        while i < n and not line[i].isspace():
            char = line[i]
            if char in "\"'":
                i += 1
                while i < n and line[i] != char:
                    if line[i] == "\\" and i + 1 < n:
                        word.append(_ESCAPES.get(line[i + 1], line[i + 1]))
                        i += 2
                    else:
                        word.append(line[i])
                        i += 1
                i += 1
            elif char == "\\" and i + 1 < n:
                word.append(_ESCAPES.get(line[i + 1], line[i + 1]))
                i += 2
            else:
                word.append(char)
                i += 1
        text = "".join(word)
        words.append(text.replace("$$", "$") if exec_line else text)


def unit_path(spec: ServiceSpec) -> Path:
    if spec.system:
        return SYSTEM_UNIT_DIR / UNIT_NAME
    return spec.config_home / "systemd" / "user" / UNIT_NAME


def render_unit(spec: ServiceSpec) -> str:
    """The unit file's text."""
    exec_start = " ".join(quote(a) for a in spec.argv())
    lines = [
        "# Scanlet: the monitor, which keeps `scanlet serve` running for one home.",
        "# Written by `scanlet service install`; `scanlet service uninstall` removes it.",
        "[Unit]",
        "Description=Scanlet local scanning service",
    ]
    if spec.system:
        lines.append("After=network.target")
    lines += ["", "[Service]", "Type=simple", f"ExecStart={exec_start}"]
    if spec.system:
        lines.append(f"User={quote(spec.user, exec_line=False)}")
    if not spec.default_home:
        lines.append("Environment=" + quote(f"SCANLET_HOME={spec.home}", exec_line=False))
    lines += [
        "Environment=PYTHONUNBUFFERED=1",
        "Restart=on-failure",
        "RestartSec=5",
        "KillMode=mixed",
        "TimeoutStopSec=30",
        "NoNewPrivileges=yes",
        "UMask=0077",
    ]
    if spec.system:
        lines += ["PrivateTmp=yes", "ProtectSystem=full"]
    target = "multi-user.target" if spec.system else "default.target"
    lines += ["", "[Install]", f"WantedBy={target}", ""]
    return "\n".join(lines)


class SystemdBackend:
    name = "systemd"

    def plan(self, spec: ServiceSpec) -> Plan:
        ctl = ("systemctl",) if spec.system else ("systemctl", "--user")

        def step(*args: str, check: bool = True) -> Step:
            return Step((*ctl, *args), check)

        manager = "systemd" if spec.system else "the systemd user manager"
        hints = () if spec.system else (
            "The service runs while you are logged in; to keep it running without a session "
            f"(e.g. after a reboot), run `loginctl enable-linger {spec.user}`.",)
        return Plan(
            backend=self.name, manager=manager, name=UNIT_NAME,
            files=(PlannedFile(unit_path(spec), render_unit(spec).encode()),),
            probe=step("show", "--property=Version"),
            install=(step("daemon-reload"), step("enable", UNIT_NAME)),
            activate=(step("restart", UNIT_NAME),),
            start=(step("start", UNIT_NAME),),
            stop=(step("stop", UNIT_NAME),),
            uninstall=(step("disable", "--now", UNIT_NAME, check=False),),
            after_uninstall=(step("daemon-reload"),
                             step("reset-failed", UNIT_NAME, check=False)),
            status=(step("show", f"--property={_STATUS_PROPERTIES}", UNIT_NAME),),
            hints=hints,
        )

    def lint(self, files: Sequence[tuple[PlannedFile, Path]], runner: CommandRunner
             ) -> list[str]:
        """``systemd-analyze verify`` each unit when it is installed (package ``systemd``).

        It runs without a running systemd (containers) in its default system mode; the
        ``--user`` mode needs a user manager. A non-zero exit or any line about our file
        (e.g. "Unknown key") is a problem."""
        if shutil.which("systemd-analyze") is None:
            return []
        problems = []
        for _, path in files:
            result = runner(["systemd-analyze", "verify", "--man=no", str(path)])
            output = (result.stderr + result.stdout).strip()
            ours = [line for line in output.splitlines() if path.name in line]
            if not result.ok or ours:
                problems.append(f"systemd-analyze verify rejected the unit: "
                                f"{'; '.join(ours or output.splitlines()[-3:]) or result}")
        return problems

    def parse_status(self, results: Sequence[CommandResult]) -> ManagerState:
        state = ManagerState()
        if not results or not results[0].ok:
            return state
        props = dict(line.split("=", 1) for line in results[0].stdout.splitlines()
                     if "=" in line)
        state.details = props
        state.loaded = props.get("LoadState") == "loaded"
        active = props.get("ActiveState")
        if active:
            sub = props.get("SubState")
            state.state = f"{active} ({sub})" if sub else active
        state.running = active in ("active", "reloading", "activating", "deactivating")
        file_state = props.get("UnitFileState")
        if file_state:
            state.enabled = file_state in ("enabled", "enabled-runtime", "linked",
                                           "linked-runtime", "alias")
        pid = props.get("MainPID", "0")
        state.pid = int(pid) if pid.isdigit() and int(pid) > 0 else None
        return state

    def installed_home(self, content: bytes) -> Path | None:
        for line in content.decode(errors="replace").splitlines():
            if line.startswith("ExecStart="):
                words = split(line.removeprefix("ExecStart="))
                if "--home" in words[:-1]:
                    return Path(words[words.index("--home") + 1])
        return None

    def leftovers(self, main_file: Path) -> list[Path]:
        unit_dir = main_file.parent
        if not unit_dir.is_dir():
            return []
        return sorted(p for pattern in ("*.wants", "*.requires", "*.upholds")
                      for p in unit_dir.glob(f"{pattern}/{main_file.name}")
                      if p.is_symlink() or p.exists())
