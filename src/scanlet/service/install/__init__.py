"""Scanlet as an OS service: systemd (Linux), launchd (macOS), Task Scheduler (Windows).

The service runs the monitor, ``<python> -m scanlet service run --home <home>``, which keeps
``scanlet serve`` alive. Each backend turns a :class:`ServiceSpec` into a :class:`Plan` (files
and commands, a pure function, so the macOS and Windows parts are tested on Linux with a fake
runner); :mod:`.manage` writes the files and runs the commands.

    base.py      the spec, plan and result types, the command runner
    systemd.py   user unit (default) or system unit (``--system``)
    launchd.py   LaunchAgent (default) or LaunchDaemon (``--system``)
    windows.py   a Task Scheduler task at the user's logon
    manage.py    install / uninstall / start / stop / status
"""

from scanlet.service.install.base import (
    CommandResult,
    CommandRunner,
    ManagerState,
    Plan,
    PlannedFile,
    ServiceSpec,
    Step,
    run_command,
)
from scanlet.service.install.manage import (
    Report,
    ServiceStatus,
    backend_for,
    check_health,
    install,
    installed_spec,
    lint_plan,
    make_spec,
    rooted,
    start,
    status,
    stop,
    uninstall,
)

__all__ = ["CommandResult", "CommandRunner", "ManagerState", "Plan", "PlannedFile", "Report",
           "ServiceSpec", "ServiceStatus", "Step", "backend_for", "check_health", "install",
           "installed_spec", "lint_plan", "make_spec", "rooted", "run_command", "start",
           "status", "stop", "uninstall"]
