"""The ``scanlet`` command line, one module per command or command group.

:mod:`.app` holds the typer application and registers every command; the command modules
(:mod:`.access`, :mod:`.cert`, :mod:`.convert`, :mod:`.doctor`, :mod:`.log_level`,
:mod:`.service`, :mod:`.upload`) never import it: what they share (options, error display,
where a command goes) lives in :mod:`.common`. :mod:`.client` talks to a running service,
:mod:`.local_scan` scans in-process when none runs, :mod:`.outputs` and :mod:`.scan_output`
turn pages into the files the user asked for.

``scanlet.cli:main`` stays the console-script entry point; it loads the application only when
called, so importing a command module does not build the whole command line.
"""

from __future__ import annotations

from typing import Any


def main() -> Any:
    """Console-script entry point (``scanlet``, ``python -m scanlet``)."""
    from scanlet.cli.app import main as run

    return run()


__all__ = ["main"]
