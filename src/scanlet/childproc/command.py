"""Running a program to completion: an argument list (never a shell), stdin closed, output
captured, a time bound, and the child killed with the service (:func:`die_with_parent`).

The trust-store commands (``certutil``, ``update-ca-certificates``, ``security``,
``certutil.exe``) and the service installers (``systemctl``, ``launchctl``, ``schtasks``) run
through :func:`run_command`; their code takes a :class:`CommandRunner` so tests can record or
answer commands instead of changing the machine.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from scanlet.childproc.deathsig import die_with_parent
from scanlet.errors import ScanletError

log = logging.getLogger(__name__)

#: Seconds a command may take by default.
COMMAND_TIMEOUT = 60.0


@dataclass(frozen=True)
class CommandResult:
    """How a command ended: its arguments, exit status and output (text)."""

    args: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        """```args` exited N: <last line of its output>``, for error messages."""
        text = (self.stderr or self.stdout).strip().splitlines()
        return f"`{' '.join(self.args)}` exited {self.returncode}" + (
            f": {text[-1]}" if text else "")


class CommandRunner(Protocol):
    """Runs one command given as an argument list; raises a ScanletError if it cannot start
    or does not finish in time."""

    def __call__(self, args: Sequence[str], *, timeout: float = COMMAND_TIMEOUT
                 ) -> CommandResult: ...


def run_command(args: Sequence[str], *, timeout: float = COMMAND_TIMEOUT,
                error: type[ScanletError] = ScanletError) -> CommandResult:
    """Run ``args`` and wait for it (at most ``timeout`` seconds, then it is killed); ``error``
    (e.g. CertificateError, ServiceError) when the program is missing or does not finish. A
    non-zero exit is not an error here: the caller reads :attr:`CommandResult.ok`."""
    argv = tuple(str(a) for a in args)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL,
                              preexec_fn=die_with_parent())
    except FileNotFoundError as exc:
        raise error(f"{argv[0]} is not installed or not on PATH", command=argv[0]) from exc
    except OSError as exc:  # not executable, too many processes...
        raise error(f"cannot run {argv[0]}: {exc}", command=argv[0]) from exc
    except subprocess.TimeoutExpired as exc:
        raise error(f"`{' '.join(argv)}` did not finish within {timeout:.0f} s",
                    command=argv[0]) from exc
    log.debug("`%s` exited %d", " ".join(argv), proc.returncode)
    return CommandResult(argv, proc.returncode, proc.stdout, proc.stderr)
