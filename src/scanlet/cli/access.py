"""``scanlet sites ...`` and ``scanlet keys ...``: who may use this computer's Scanlet.

Both work on the home's access database directly, so they work whether or not the service
runs, and a change takes effect on the service's next request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scanlet.cli.common import HomeOpt
from scanlet.config import load_settings, resolve_home
from scanlet.errors import NotFound, ScanletError
from scanlet.security.access import ALL_SCOPES, WEB_SCOPES, AccessStore, check_scopes
from scanlet.security.origins import require_origin

sites_app = typer.Typer(no_args_is_help=True, help="Web sites allowed to use the scanners.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys of native (non-browser) clients.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)



@contextmanager
def _store(home: Path | None) -> Iterator[AccessStore]:
    where = resolve_home(home).create()
    store = AccessStore(where.access_db)
    try:
        yield store
    except ScanletError as exc:
        err.print(f"[red]error[/red] {escape(f'[{exc.code}]: {exc.message}')}")
        raise typer.Exit(exc.exit_code) from exc
    finally:
        store.close()


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


@sites_app.command("list")
def sites_list(home: HomeOpt = None) -> None:
    """Sites allowed in the config, by an admin, or paired by the user."""
    where = resolve_home(home)
    config = load_settings(where.create()).allowed_origins
    with _store(home) as store:
        table = Table("origin", "allowed by", "scopes", "tokens", "token expiry")
        for site in store.sites(config):
            table.add_row(site.origin, site.allowed_by or "user (paired)",
                          " ".join(sorted(site.scopes)), str(site.tokens), _when(site.expires))
        out.print(table)


@sites_app.command("allow")
def sites_allow(
    origin: Annotated[str, typer.Argument(help="Exact origin, e.g. https://app.example.com")],
    scopes: Annotated[str, typer.Option(help=f"Comma-separated: {', '.join(WEB_SCOPES)}")]
    = "scan",
    home: HomeOpt = None,
) -> None:
    """Pre-approve a site: its pages get a token without asking the user."""
    with _store(home) as store:
        site = store.allow_site(require_origin(origin), check_scopes(scopes.split(",")))
        out.print(f"allowed {site.origin} ({' '.join(sorted(site.scopes))})")


@sites_app.command("revoke")
def sites_revoke(
    origin: Annotated[str, typer.Argument(help="Exact origin to revoke")],
    home: HomeOpt = None,
) -> None:
    """Revoke a site: its tokens stop working at once."""
    with _store(home) as store:
        canonical = require_origin(origin)
        if not store.revoke_site(canonical):
            raise NotFound(f"{canonical} has no tokens and is not allowed by an admin "
                           "(sites in scanlet.ini are removed there)")
        out.print(f"revoked {canonical}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="A name to recognise the key by")],
    scopes: Annotated[str, typer.Option(help=f"Comma-separated: {', '.join(ALL_SCOPES)}")]
    = "scan",
    home: HomeOpt = None,
) -> None:
    """Create an API key; it is printed once and only its hash is kept."""
    with _store(home) as store:
        key, info = store.create_key(name, check_scopes(scopes.split(","), ALL_SCOPES))
        err.print(f"created key {info.id} '{escape(info.name)}' "
                  f"({' '.join(sorted(info.scopes))}); it is shown only now:")
        print(key)


@keys_app.command("list")
def keys_list(home: HomeOpt = None) -> None:
    """API keys (never the keys themselves)."""
    with _store(home) as store:
        table = Table("id", "name", "scopes", "created")
        for key in store.api_keys():
            table.add_row(key.id, key.name, " ".join(sorted(key.scopes)), _when(key.created))
        out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id or name")],
    home: HomeOpt = None,
) -> None:
    """Revoke an API key."""
    with _store(home) as store:
        if not store.revoke_key(key):
            raise NotFound(f"no API key with id or name {key!r}")
        out.print(f"revoked {key}")
