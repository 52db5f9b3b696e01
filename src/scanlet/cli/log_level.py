"""``scanlet log-level [LEVEL]``: show or change the running service's log level.

The change takes effect at once, in the service and its scan workers, and lasts until the
service stops; ``[log] level`` in the config is the level it starts with.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from scanlet.cli.common import HomeOpt, fail, resolve_target
from scanlet.config import load_settings
from scanlet.errors import ScanletError

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def log_level(
    level: Annotated[str | None, typer.Argument(
        help="DEBUG, INFO, WARNING or ERROR; omit it to show the level in force")] = None,
    home: HomeOpt = None,
    url: Annotated[str | None, typer.Option(help="Service URL (default: from --home)")] = None,
) -> None:
    """Show or change the running service's log level (until it stops; no restart)."""
    from scanlet.core.logs import check_level

    try:
        wanted = check_level(level) if level is not None else None
        target = resolve_target(home, url)
        if target.url is None:
            configured = load_settings(target.home.create()).log_level
            err.print(f"no Scanlet service runs for {target.home.root}; it starts at "
                      f"[log] level = {configured} (set it in user.ini)", markup=False)
            raise typer.Exit(1 if wanted is not None else 0)
        with target.client() as client:
            before = client.log_settings() if wanted is not None else None
            state = client.set_log_level(wanted) if wanted is not None else \
                client.log_settings()
    except ScanletError as exc:
        raise fail(exc) from exc
    if before is not None:
        out.print(f"log level {before['level']} -> {state['level']} (until the service stops; "
                  f"[log] level = {state['configured_level']} after a restart)", markup=False)
    else:
        out.print(f"{state['level']}  (format {state['format']}, file {state['file']})",
                  markup=False)
