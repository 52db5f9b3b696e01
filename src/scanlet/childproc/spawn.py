"""Starting a Python worker of this very package: ``python -m <module> <args>`` with the
service's interpreter, an argument list (never a shell), a fresh interpreter (never a fork of
the threaded service), and the folder holding ``scanlet`` first on ``PYTHONPATH`` so the worker
runs the same code as the service even from a source checkout. :func:`spawn` for threaded
callers, :func:`spawn_async` (same options) for the asyncio service.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from scanlet.childproc.deathsig import die_with_parent
from scanlet.childproc.lines import LINE_LIMIT

log = logging.getLogger(__name__)

#: The folder that holds the ``scanlet`` package.
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def module_command(module: str, *args: str) -> list[str]:
    """``[python, "-m", module, *args]`` with the service's own interpreter."""
    return [sys.executable, "-m", module, *args]


def child_environment(extra: Mapping[str, str] | None = None,
                      defaults: Mapping[str, str] | None = None) -> dict[str, str]:
    """The service's environment with :data:`PACKAGE_ROOT` first on ``PYTHONPATH``, ``extra``
    set and ``defaults`` set where the environment has no value."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    for name, value in (defaults or {}).items():
        env.setdefault(name, value)
    env.update(extra or {})
    return env


def _popen_options(stdin: int | IO[Any] | None, stdout: int | IO[Any] | None,
                   stderr: int | IO[Any] | None, env: Mapping[str, str] | None,
                   cwd: Path | None, new_session: bool, tie_to_thread: bool) -> dict[str, Any]:
    """What :func:`spawn` and :func:`spawn_async` hand to ``Popen`` (see :func:`spawn`)."""
    return {"stdin": stdin, "stdout": stdout, "stderr": stderr,
            "env": dict(env) if env is not None else child_environment(), "cwd": cwd,
            "start_new_session": new_session,
            "preexec_fn": die_with_parent() if tie_to_thread else None}


def spawn(command: Sequence[str], *,
          stdin: int | IO[Any] | None = subprocess.PIPE,
          stdout: int | IO[Any] | None = subprocess.PIPE,
          stderr: int | IO[Any] | None = None,
          env: Mapping[str, str] | None = None, cwd: Path | None = None,
          text: bool = False, new_session: bool = False,
          tie_to_thread: bool = False) -> subprocess.Popen[Any]:
    """Start ``command`` (an argument list, no shell); OSError when it cannot start.

    ``env`` defaults to :func:`child_environment`. ``new_session`` puts the worker in a
    session of its own (a terminal's Ctrl-C does not reach it; the service decides when it
    ends). ``tie_to_thread`` arms the parent-death signal before ``exec``
    (:func:`die_with_parent`: the calling thread must outlive the worker); workers that arm it
    themselves (:func:`~scanlet.childproc.deathsig.arm_in_child`) leave it False.
    """
    process: subprocess.Popen[Any] = subprocess.Popen(
        list(command), text=text, bufsize=1 if text else -1,
        **_popen_options(stdin, stdout, stderr, env, cwd, new_session, tie_to_thread))
    log.debug("started %s (pid %d)", " ".join(command[:3]), process.pid)
    return process


async def spawn_async(command: Sequence[str], *,
                      stdin: int | IO[Any] | None = subprocess.PIPE,
                      stdout: int | IO[Any] | None = subprocess.PIPE,
                      stderr: int | IO[Any] | None = None,
                      env: Mapping[str, str] | None = None, cwd: Path | None = None,
                      new_session: bool = False, tie_to_thread: bool = False,
                      limit: int = LINE_LIMIT) -> asyncio.subprocess.Process:
    """:func:`spawn` for an asyncio service (the scan worker): the same options, bytes
    streams, and ``limit`` the longest line its stdout/stderr readers accept.

    Call it from the thread that runs the event loop for the service's whole life: that is
    the thread Linux ties the parent-death signal to (:mod:`~scanlet.childproc.deathsig`).
    """
    process = await asyncio.create_subprocess_exec(
        *command, limit=limit,
        **_popen_options(stdin, stdout, stderr, env, cwd, new_session, tie_to_thread))
    log.debug("started %s (pid %d)", " ".join(command[:3]), process.pid)
    return process


def spawn_module(module: str, args: Sequence[str] = (), **options: Any) -> subprocess.Popen[Any]:
    """Start ``python -m module args`` (see the module doc and :func:`spawn` for ``options``)."""
    return spawn(module_command(module, *args), **options)
