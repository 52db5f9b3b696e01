"""Windows: a Task Scheduler task that starts the monitor when the user logs on.

The task is registered from an XML definition (``schtasks /Create /TN Scanlet /XML FILE``)
rather than ``/SC ONLOGON /TR "<cmd>"``, because the command-line form:

- makes a trigger for *any* user's logon, which needs an administrator, where a trigger for
  the user's own logon does not;
- limits ``/TR`` to 261 characters (a virtualenv path plus a home path can be longer);
- keeps the default "stop the task after 3 days" limit, which would kill the service.

The XML (UTF-16, as Task Scheduler exports it) is kept in ``%APPDATA%\\scanlet\\`` (the
default home is in ``%LOCALAPPDATA%``), so uninstall and status know what was registered. It
runs ``pythonw.exe`` (no console window) with the arguments quoted by the C runtime's rules
(:func:`subprocess.list2cmdline`; :func:`split_command_line` is the inverse). Task Scheduler
restarts the monitor after a failure (3 times, a minute apart); the monitor restarts serve.

``--system`` is not supported: a real Windows service needs a service-control-manager wrapper
that Scanlet does not ship yet; install per user instead.
"""

from __future__ import annotations

import csv
import io
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path, PureWindowsPath
from xml.sax.saxutils import escape

from scanlet.errors import ServiceError
from scanlet.service.install.base import (
    CommandResult,
    CommandRunner,
    ManagerState,
    Plan,
    PlannedFile,
    ServiceSpec,
    Step,
)

TASK_NAME = "Scanlet"
NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"
DESCRIPTION = ("Scanlet local scanning service: the monitor, which keeps scanlet serve "
               "running. Written by scanlet service install.")


def split_command_line(line: str) -> list[str]:
    """Arguments as the Microsoft C runtime splits a command line (``CommandLineToArgvW`` for
    every argument after the program): the inverse of :func:`subprocess.list2cmdline`."""
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return args
        buf: list[str] = []
        quoted = False
        while i < n:
            char = line[i]
            if char == "\\":
                j = i
                while j < n and line[j] == "\\":
                    j += 1
                count = j - i
                if j < n and line[j] == '"':
                    buf.append("\\" * (count // 2))
                    if count % 2:
                        buf.append('"')
                        j += 1
                else:
                    buf.append("\\" * count)
                i = j
            elif char == '"':
                if quoted and i + 1 < n and line[i + 1] == '"':
                    buf.append('"')
                    i += 2
                else:
                    quoted = not quoted
                    i += 1
            elif char in " \t" and not quoted:
                break
            else:
                buf.append(char)
                i += 1
        args.append("".join(buf))


def task_file(spec: ServiceSpec) -> Path:
    return spec.config_home / "scanlet" / "scanlet-task.xml"


def render_task(spec: ServiceSpec) -> str:
    """The task definition (Task Scheduler schema 1.2)."""
    argv = spec.argv()
    user = escape(spec.user)
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="{NS}">
  <RegistrationInfo>
    <Description>{DESCRIPTION}</Description>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>{user}</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>{user}</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>false</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>false</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Priority>5</Priority>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>3</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{escape(argv[0])}</Command>
      <Arguments>{escape(subprocess.list2cmdline(argv[1:]))}</Arguments>
    </Exec>
  </Actions>
</Task>
"""


def read_action(content: bytes) -> tuple[str, list[str]] | None:
    """(command, arguments) of a task definition, or None when it cannot be read."""
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return None
    command = root.findtext(f".//{{{NS}}}Exec/{{{NS}}}Command")
    arguments = root.findtext(f".//{{{NS}}}Exec/{{{NS}}}Arguments") or ""
    if command is None:
        return None
    return command, split_command_line(arguments)


def check_task(content: bytes) -> list[str]:
    """Problems of a rendered task definition."""
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        return [f"the task XML does not parse: {exc}"]
    problems = []
    action = read_action(content)
    if action is None:
        problems.append("the task has no Exec/Command")
    elif not (PureWindowsPath(action[0]).is_absolute() or action[0].startswith("/")):
        problems.append(f"the program {action[0]!r} is not an absolute path")
    if root.find(f".//{{{NS}}}LogonTrigger/{{{NS}}}UserId") is None:
        problems.append("the task has no logon trigger for a user")
    if root.findtext(f".//{{{NS}}}Settings/{{{NS}}}ExecutionTimeLimit") != "PT0S":
        problems.append("the task would be stopped after a time limit (ExecutionTimeLimit)")
    return problems


class WindowsBackend:
    name = "windows"

    def plan(self, spec: ServiceSpec) -> Plan:
        if spec.system:
            raise ServiceError(
                "--system is not supported on Windows yet (a Windows service needs a wrapper "
                "Scanlet does not ship): run `scanlet service install` as each user instead")
        path = task_file(spec)

        def tasks(*args: str, check: bool = True) -> Step:
            return Step(("schtasks", *args), check)

        return Plan(
            backend=self.name, manager="Task Scheduler", name=TASK_NAME,
            files=(PlannedFile(path, render_task(spec).encode("utf-16")),),
            probe=tasks("/?"),
            install=(tasks("/Create", "/TN", TASK_NAME, "/XML", str(path), "/F"),),
            activate=(tasks("/End", "/TN", TASK_NAME, check=False),
                      tasks("/Run", "/TN", TASK_NAME)),
            start=(tasks("/Run", "/TN", TASK_NAME),),
            stop=(tasks("/End", "/TN", TASK_NAME, check=False),),
            uninstall=(tasks("/End", "/TN", TASK_NAME, check=False),
                       tasks("/Delete", "/TN", TASK_NAME, "/F", check=False)),
            status=(tasks("/Query", "/TN", TASK_NAME, "/FO", "CSV", "/NH"),),
        )

    def lint(self, files: Sequence[tuple[PlannedFile, Path]], runner: CommandRunner
             ) -> list[str]:
        return [problem for planned, _ in files for problem in check_task(planned.content)]

    def parse_status(self, results: Sequence[CommandResult]) -> ManagerState:
        """Reads ``schtasks /Query /TN Scanlet /FO CSV /NH``: ``"\\Scanlet","N/A","Running"``.
        The status word is localized; only the English "Running" counts as running here (the
        health check answers for the service either way)."""
        state = ManagerState()
        if not results or not results[0].ok:
            return state
        rows = [row for row in csv.reader(io.StringIO(results[0].stdout)) if len(row) >= 3]
        state.loaded = True
        if rows:
            state.details = {"TaskName": rows[0][0], "Next Run Time": rows[0][1],
                             "Status": rows[0][2]}
            state.state = rows[0][2]
            state.running = rows[0][2].strip().lower() == "running"
            state.enabled = rows[0][2].strip().lower() != "disabled"
        return state

    def installed_home(self, content: bytes) -> Path | None:
        action = read_action(content)
        if action is None:
            return None
        args = action[1]
        return Path(args[args.index("--home") + 1]) if "--home" in args[:-1] else None

    def leftovers(self, main_file: Path) -> list[Path]:
        return []
