"""``scanlet cert ...``: the local HTTPS certificate and the trust stores that hold its CA.

Works on the home's ``cert/`` folder directly, whether or not the service runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scanlet.cli.common import HomeOpt, fail
from scanlet.config import Home, load_settings, resolve_home
from scanlet.errors import ScanletError

cert_app = typer.Typer(no_args_is_help=True,
                       help="The local HTTPS certificate and the trust stores that hold its CA.")
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

SystemOpt = Annotated[bool, typer.Option(
    "--system", help="Linux: the system-wide store (/usr/local/share/ca-certificates), needs "
    "root; without it, the browsers' NSS databases of the current user. macOS and Windows "
    "always use the user's keychain / Root store.")]


def _home(home: Path | None) -> Home:
    return resolve_home(home).create()


def _print_report(added: list[str], removed: list[str], errors: list[str]) -> None:
    for item in removed:
        out.print(f"removed  {escape(item)}")
    for item in added:
        out.print(f"added    {escape(item)}")
    for item in errors:
        err.print(f"[yellow]warning[/yellow] {escape(item)}")


def _running_note(where: Home) -> None:
    from scanlet.service.instance import read_instance

    info = read_instance(where.port_lock)
    if info is not None and info.https_port is not None:
        hours = load_settings(where).cert_check_hours
        out.print(f"The running service (pid {info.pid}) switches to the new certificate at its "
                  f"next check (within {hours:g} h); restart it to switch now.")


@cert_app.command()
def status(home: HomeOpt = None) -> None:
    """Show the local CA, the HTTPS settings and which trust stores hold the CA."""
    from scanlet.security import certs, truststore

    where = _home(home)
    try:
        settings = load_settings(where)
        cert = certs.load_status(where)
        if settings.tls_cert_file is not None:
            out.print(f"HTTPS certificate: admin-supplied {escape(str(settings.tls_cert_file))}")
        out.print(f"HTTPS listener: {'on' if settings.https else 'off'} "
                  f"(port {settings.https_port})")
        if cert is None:
            out.print("Local CA: none yet (made at the first HTTPS start or `scanlet cert renew`)")
        else:
            out.print(f"Local CA: {escape(cert.ca_subject)}")
            out.print(f"  sha256 {cert.ca_sha256}")
            out.print(f"  valid until {cert.not_after:%Y-%m-%d %H:%M} UTC; names "
                      f"{', '.join(cert.leaf_names)}")
            if not cert.valid:
                out.print(f"  [red]problem[/red]: {escape(cert.problem or '')} "
                          "(run `scanlet cert renew`)")
        states = truststore.trust_status(where)
    except ScanletError as exc:
        raise fail(exc) from exc
    if not states:
        out.print("Trust stores: none found")
        return
    table = Table("trust store", "has the CA")
    for state in states:
        table.add_row(escape(state.store), "yes" if state.current else
                      "an older Scanlet CA" if state.installed else "no")
    out.print(table)


@cert_app.command()
def install(home: HomeOpt = None, system: SystemOpt = False) -> None:
    """Trust the local CA in your browsers (creates the CA if there is none yet)."""
    from scanlet.security import truststore

    where = _home(home)
    nss, os_store = truststore.default_targets(system)
    try:
        report = truststore.install(where, nss=nss, system=os_store)
    except ScanletError as exc:
        raise fail(exc) from exc
    _print_report(report.added, report.removed, report.errors)
    if not report.added:
        out.print("The local CA was already trusted everywhere it could be.")
    if nss and sys.platform.startswith("linux"):
        out.print("Restart Firefox if it is running, so it reads the change.")


@cert_app.command()
def uninstall(home: HomeOpt = None, system: SystemOpt = False) -> None:
    """Remove the local CA from every trust store it was put into."""
    from scanlet.security import truststore

    where = _home(home)
    nss, os_store = truststore.default_targets(system)
    if not system:
        os_store = True  # try everything recorded; the system part explains when root is needed
    try:
        report = truststore.uninstall(where, nss=nss, system=os_store)
    except ScanletError as exc:
        raise fail(exc) from exc
    _print_report(report.added, report.removed, report.errors)
    if not report.removed:
        out.print("The local CA was not in any trust store.")


@cert_app.command()
def renew(home: HomeOpt = None) -> None:
    """Make a new CA and certificate now, and move trust-store entries to the new CA."""
    from scanlet.security.cert_task import renew as run_renew

    where = _home(home)
    try:
        cert, report = run_renew(where)
    except ScanletError as exc:
        raise fail(exc) from exc
    out.print(f"New local CA: {escape(cert.ca_subject)}")
    out.print(f"  sha256 {cert.ca_sha256}, valid until {cert.not_after:%Y-%m-%d} UTC")
    _print_report(report.added, report.removed, report.errors)
    _running_note(where)
