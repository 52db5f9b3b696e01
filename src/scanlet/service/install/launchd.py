"""macOS: a launchd agent (or daemon with ``--system``) that runs the monitor.

Agent ``~/Library/LaunchAgents/org.scanlet.service.plist`` in the ``gui/<uid>`` domain (runs
while the user is logged in); daemon ``/Library/LaunchDaemons/org.scanlet.service.plist`` in
the ``system`` domain with ``UserName`` set (runs from boot). ``KeepAlive {SuccessfulExit:
false}``: launchd restarts the monitor after a failure, not after a clean stop. The monitor's
own stdout/stderr (what it prints before its log is open) go to the home's ``log/``.

Loaded with ``launchctl bootstrap``/``bootout`` (the pre-10.10 ``load``/``unload`` are
deprecated). The plist is written with :mod:`plistlib`, checked by reading it back and by
``plutil -lint`` where that exists (macOS only).
"""

from __future__ import annotations

import plistlib
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scanlet.service.install.base import (
    CommandResult,
    CommandRunner,
    ManagerState,
    Plan,
    PlannedFile,
    ServiceSpec,
    Step,
)

LABEL = "org.scanlet.service"
SYSTEM_DIR = Path("/Library/LaunchDaemons")
REQUIRED_KEYS = {"Label": str, "ProgramArguments": list, "RunAtLoad": bool, "KeepAlive": dict,
                 "StandardOutPath": str, "StandardErrorPath": str}
_LINE = re.compile(r"^(\t| {4})(\S[^=]*?) = (.*)$")


def plist_path(spec: ServiceSpec) -> Path:
    if spec.system:
        return SYSTEM_DIR / f"{LABEL}.plist"
    return spec.user_home / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def domain(spec: ServiceSpec) -> str:
    return "system" if spec.system else f"gui/{spec.uid if spec.uid is not None else 0}"


def job(spec: ServiceSpec) -> dict[str, Any]:
    """The launchd job as a dict (what the plist holds)."""
    log = spec.home / "log"
    data: dict[str, Any] = {
        "Label": LABEL,
        "ProgramArguments": list(spec.argv()),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "ExitTimeOut": 30,
        "StandardOutPath": str(log / "service-stdout.log"),
        "StandardErrorPath": str(log / "service-stderr.log"),
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
    }
    if not spec.default_home:
        data["EnvironmentVariables"]["SCANLET_HOME"] = str(spec.home)
    if spec.system:
        data["UserName"] = spec.user
    return data


def check_job(content: bytes) -> list[str]:
    """Problems of a rendered plist: it must read back with the required keys and types, and
    absolute program and log paths."""
    try:
        data = plistlib.loads(content)
    except Exception as exc:  # plistlib raises several kinds for broken input
        return [f"the plist does not read back: {exc}"]
    if not isinstance(data, dict):
        return ["the plist is not a dictionary"]
    problems = [f"{key} is missing or not a {kind.__name__}"
                for key, kind in REQUIRED_KEYS.items() if not isinstance(data.get(key), kind)]
    args = data.get("ProgramArguments")
    if isinstance(args, list):
        if not args or not all(isinstance(a, str) for a in args):
            problems.append("ProgramArguments must be a non-empty list of strings")
        elif not args[0].startswith("/"):
            problems.append(f"the program {args[0]!r} is not an absolute path")
    for key in ("StandardOutPath", "StandardErrorPath"):
        value = data.get(key)
        if isinstance(value, str) and not value.startswith("/"):
            problems.append(f"{key} {value!r} is not an absolute path")
    return problems


class LaunchdBackend:
    name = "launchd"

    def plan(self, spec: ServiceSpec) -> Plan:
        path = plist_path(spec)
        where = domain(spec)
        target = f"{where}/{LABEL}"
        content = plistlib.dumps(job(spec), fmt=plistlib.FMT_XML, sort_keys=True)

        def ctl(*args: str, check: bool = True) -> Step:
            return Step(("launchctl", *args), check)

        return Plan(
            backend=self.name, manager=f"launchd ({where})", name=LABEL,
            files=(PlannedFile(path, content),),
            probe=ctl("print", where),
            install=(ctl("bootout", target, check=False), ctl("enable", target)),
            activate=(ctl("bootstrap", where, str(path)),),
            start=(ctl("bootstrap", where, str(path), check=False), ctl("kickstart", target)),
            stop=(ctl("bootout", target, check=False),),
            uninstall=(ctl("bootout", target, check=False),),
            status=(ctl("print", target),),
        )

    def lint(self, files: Sequence[tuple[PlannedFile, Path]], runner: CommandRunner
             ) -> list[str]:
        problems = []
        for planned, path in files:
            problems += check_job(planned.content)
            if shutil.which("plutil") is not None:
                result = runner(["plutil", "-lint", str(path)])
                if not result.ok:
                    problems.append(f"plutil -lint rejected the plist: {result.describe()}")
        return problems

    def parse_status(self, results: Sequence[CommandResult]) -> ManagerState:
        """Reads ``launchctl print <domain>/<label>``: exit 0 when loaded, then the top-level
        ``state = running`` and ``pid = N`` lines."""
        state = ManagerState()
        if not results or not results[0].ok:
            return state
        state.loaded = True
        for line in results[0].stdout.splitlines():
            match = _LINE.match(line)
            if match and match.group(2) not in state.details:
                state.details[match.group(2)] = match.group(3).strip()
        state.state = state.details.get("state")
        state.running = state.state == "running"
        pid = state.details.get("pid", "")
        state.pid = int(pid) if pid.isdigit() else None
        return state

    def installed_home(self, content: bytes) -> Path | None:
        try:
            args = plistlib.loads(content).get("ProgramArguments") or []
        except Exception:
            return None
        if "--home" in args[:-1]:
            return Path(args[args.index("--home") + 1])
        return None

    def leftovers(self, main_file: Path) -> list[Path]:
        return []
