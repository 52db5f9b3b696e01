"""The worker-process kit: everything the service needs to run another process safely, in one
place, so the scan worker, the PDF worker, the preview backfill, the trust-store commands and
the service installers share it instead of each carrying a copy.

- :mod:`.deathsig`: children die with the service (:func:`die_with_parent` for programs,
  :func:`arm_in_child` / :func:`watch_parent` for Python workers).
- :mod:`.spawn`: start ``python -m <module>`` of this very package (:func:`spawn_module`,
  :func:`spawn`, :func:`spawn_async` for the asyncio service, :func:`child_environment`): an
  argument list, never a shell, never a fork of the service.
- :mod:`.lines`: the JSON-lines protocol: the handshake line (secrets travel on stdin, never
  in argv), requests in (:func:`iter_lines`), events out of a private copy of stdout
  (:func:`claim_stdout`, :class:`LineWriter`), a reader on the service's side
  (:class:`LineReader` thread, :class:`AsyncLineReader` task).
- :mod:`.logs`: the child logs JSON lines to stderr (:func:`setup_child_logging`,
  :func:`set_child_log_level`); the service re-logs them at their level (:func:`relay_stream`,
  :func:`relay_stream_async`, :func:`relog_file`), keeping a :class:`StderrTail` for crash
  reports.
- :mod:`.command`: run a program to completion with its output captured and a time bound
  (:func:`run_command`, :class:`CommandResult`, :class:`CommandRunner`).
"""

from scanlet.childproc.command import (
    COMMAND_TIMEOUT,
    CommandResult,
    CommandRunner,
    run_command,
)
from scanlet.childproc.deathsig import arm_in_child, die_with_parent, watch_parent
from scanlet.childproc.lines import (
    LINE_LIMIT,
    AsyncLineReader,
    LineReader,
    LineWriter,
    claim_stdout,
    dumps_line,
    is_garbage,
    iter_lines,
    parse_line,
    read_hello,
    read_line,
    send_hello,
)
from scanlet.childproc.logs import (
    JsonLogFormatter,
    StderrTail,
    relay_stream,
    relay_stream_async,
    relog_file,
    relog_line,
    set_child_log_level,
    setup_child_logging,
)
from scanlet.childproc.spawn import (
    PACKAGE_ROOT,
    child_environment,
    module_command,
    spawn,
    spawn_async,
    spawn_module,
)

__all__ = [
    "COMMAND_TIMEOUT",
    "LINE_LIMIT",
    "PACKAGE_ROOT",
    "AsyncLineReader",
    "CommandResult",
    "CommandRunner",
    "JsonLogFormatter",
    "LineReader",
    "LineWriter",
    "StderrTail",
    "arm_in_child",
    "child_environment",
    "claim_stdout",
    "die_with_parent",
    "dumps_line",
    "is_garbage",
    "iter_lines",
    "module_command",
    "parse_line",
    "read_hello",
    "read_line",
    "relay_stream",
    "relay_stream_async",
    "relog_file",
    "relog_line",
    "run_command",
    "send_hello",
    "set_child_log_level",
    "setup_child_logging",
    "spawn",
    "spawn_async",
    "spawn_module",
    "watch_parent",
]
