"""``scanlet doctor``: what is wrong with this install, on one screen (service/doctor.py)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from scanlet.cli.common import HomeOpt


def doctor(
    home: HomeOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the service's answers")]
    = 3.0,
) -> None:
    """Check the service and its monitor, crash reports, config, ports, devices and
    dependencies. Exit code 1 when something needs fixing (FAIL lines), else 0."""
    from scanlet.config import resolve_home
    from scanlet.service.doctor import render, run_checks

    where = resolve_home(home)
    console = Console(soft_wrap=True, highlight=False)
    raise typer.Exit(render(where, run_checks(where, timeout=timeout), console))
