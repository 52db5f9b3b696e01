"""What the CLI's commands share: the common options, error display and where a command goes
(a running service's URL with this user's API key, or in-process).

Command modules import this, never :mod:`scanlet.cli.app`, so the application module can
import and register them without an import circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from scanlet.config import Home, resolve_home
from scanlet.errors import ScanletError

if TYPE_CHECKING:
    from scanlet.cli.client import ServiceClient

err = Console(stderr=True, soft_wrap=True)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="Data folder (default: "
                                               "$SCANLET_HOME or the per-user data dir)")]
DemoOpt = Annotated[bool, typer.Option(
    "--demo", help="Offer the demo scanner first (no hardware), then SANE's test and pnm "
    "devices")]


def fail(exc: ScanletError) -> typer.Exit:
    """Print ``exc`` as the CLI shows errors (code, message, the setting at fault) and return
    the Exit carrying its exit code, for ``raise fail(exc) from exc``."""
    err.print(f"[red]error[/red] {escape(f'[{exc.code}]: {exc.message}')}")
    if "field" in exc.detail:
        allowed = exc.detail.get("allowed")
        hint = f"  {exc.detail['field']}" + (f" must be one of / within: {allowed}"
                                             if allowed is not None else "")
        err.print(escape(hint))
    return typer.Exit(exc.exit_code)


@dataclass
class Target:
    """Where commands go: a running service's URL (with this user's API key), or in-process."""

    home: Home
    url: str | None
    api_key: str | None = None

    def client(self) -> ServiceClient:
        from scanlet.cli.client import ServiceClient

        assert self.url is not None
        return ServiceClient(self.url, api_key=self.api_key)


def resolve_target(home: Path | None, url: str | None, api_key: str | None = None) -> Target:
    """The service running for ``home`` (found through ``port.lock``) or ``url``; in-process
    (``url`` None) when neither is there."""
    from scanlet.service.instance import read_instance

    where = resolve_home(home)
    if not url:
        info = read_instance(where.port_lock)
        url = info.url if info is not None else None
    if url is None:
        return Target(where, None)
    return Target(where, url.rstrip("/"), api_key or own_key(where))


def own_key(home: Home) -> str:
    """This user's CLI key (keys/cli.key), made on first use."""
    from scanlet.security.access import AccessStore, cli_key

    store = AccessStore(home.create().access_db)
    try:
        return cli_key(store, home.cli_key)
    finally:
        store.close()
