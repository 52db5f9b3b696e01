"""The ``scanlet`` application: serve, list devices, scan to a file, and the registration of
every other command (the command modules never import this one).

``devices`` and ``scan`` talk to the service running for the home (found through
``port.lock``); when none runs they do the work in-process with the same core.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from scanlet import __version__
from scanlet.cli.access import keys_app, sites_app
from scanlet.cli.cert import cert_app
from scanlet.cli.common import DemoOpt, HomeOpt, Target, err, fail, resolve_target
from scanlet.cli.convert import (
    DeskewOpt,
    DropBlankOpt,
    KeepSeparatorsOpt,
    LangOpt,
    OcrOpt,
    PdfaOpt,
    SplitOpt,
    SplitValueOpt,
    convert,
    split_rule,
)
from scanlet.cli.doctor import doctor
from scanlet.cli.log_level import log_level
from scanlet.cli.service import service_app
from scanlet.cli.upload import upload
from scanlet.config import Home, load_settings, resolve_home
from scanlet.errors import InvalidSetting, ScanletError
from scanlet.models import ColorMode, Device, JobRequest, PageProcessing, Source

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Scanlet: scan from your scanners through a local service.")
out = Console(soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"scanlet {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit")] = False,
) -> None:
    """Scanlet command line."""


@app.command()
def serve(
    home: HomeOpt = None,
    demo: DemoOpt = False,
    port: Annotated[int | None, typer.Option(help="HTTP port (default 18622; 0 = any)")] = None,
    host: Annotated[str | None, typer.Option(help="Loopback address to bind")] = None,
    monitored: Annotated[bool, typer.Option(
        "--monitored", hidden=True,
        help="Started by `scanlet service run`: leave the certificate task to it")] = False,
) -> None:
    """Run the Scanlet service in the foreground."""
    where = resolve_home(home)
    try:
        settings = load_settings(where.create(), port=port, host=host)
        from scanlet.service.serve import serve as run  # after the config: fail fast

        run(where, settings, demo=demo, announce=lambda line: out.print(line, highlight=False),
            monitored=monitored)
    except ScanletError as exc:
        raise fail(exc) from exc


@app.command()
def devices(
    home: HomeOpt = None,
    demo: DemoOpt = False,
    url: Annotated[str | None, typer.Option(help="Service URL (default: from --home)")] = None,
    refresh: Annotated[bool, typer.Option(
        "--refresh", help="Wait for a new device listing instead of the running service's "
        "last one (without a service, every listing is new)")] = False,
) -> None:
    """List the scanners."""
    target = resolve_target(home, url)
    try:
        found = _remote_devices(target, refresh) if target.url else asyncio.run(
            _local_devices(target.home, demo))
    except ScanletError as exc:
        raise fail(exc) from exc
    table = Table("id", "vendor", "model", "type")
    for device in found:
        table.add_row(device.id, device.vendor, device.model, device.type)
    out.print(table)


def _remote_devices(target: Target, refresh: bool) -> list[Device]:
    with target.client() as client:
        return client.devices(refresh=refresh)


async def _local_devices(home: Home, demo: bool) -> list[Device]:
    from scanlet.core.runtime import Runtime
    from scanlet.service.instance import InstanceLock

    home.create()
    with InstanceLock(home.port_lock, mode="cli"):
        runtime = Runtime(home, load_settings(home), demo=demo)
        try:
            return await runtime.devices.list_devices()
        finally:
            await runtime.close()


@app.command()
def scan(
    device: Annotated[str, typer.Option(help="Device id, as `scanlet devices` lists it")],
    output: Annotated[Path, typer.Option("-o", "--output",
                                         help="Output file: .pdf, .tif, .jpg, .png, .bmp "
                                         "or .webp")],
    source: Annotated[Source, typer.Option(help="Paper source")] = Source.FLATBED,
    mode: Annotated[ColorMode, typer.Option(help="Colour mode")] = ColorMode.COLOR,
    resolution: Annotated[int, typer.Option(help="Resolution in dpi")] = 300,
    pages: Annotated[str | None, typer.Option(
        help="Number of pages or 'all' (default: 1 on flatbed, all on feeder)")] = None,
    paper_size: Annotated[str | None, typer.Option(
        help="Paper size, e.g. A4 or Letter (default: A4 where it fits)")] = None,
    bit_depth: Annotated[int | None, typer.Option(help="Bits per sample")] = None,
    ocr: OcrOpt = False,
    lang: LangOpt = "eng",
    pdfa: PdfaOpt = False,
    deskew: DeskewOpt = False,
    drop_blank: DropBlankOpt = False,
    split_on: SplitOpt = None,
    split_value: SplitValueOpt = None,
    keep_separators: KeepSeparatorsOpt = False,
    home: HomeOpt = None,
    demo: DemoOpt = False,
    url: Annotated[str | None, typer.Option(help="Service URL (default: from --home)")] = None,
) -> None:
    """Scan pages and save them to a file, with a progress bar."""
    from scanlet.cli.outputs import OutputPlan

    try:
        plan = OutputPlan(output, ocr_lang=lang if ocr else None, pdf_a=pdfa,
                          split=split_rule(split_on, split_value, keep_separators))
        plan.check()
        request = JobRequest(device=device, source=source, mode=mode, resolution=resolution,
                             pages=_pages(pages), paper_size=paper_size, bit_depth=bit_depth,
                             processing=PageProcessing(deskew=deskew, drop_blank=drop_blank))
        target = resolve_target(home, url)
        with _progress() as progress:
            if target.url:
                with target.client() as client:
                    written = client.scan_to_file(request, plan, progress)
            else:
                from scanlet.cli.local_scan import scan_to_file

                written = asyncio.run(scan_to_file(target.home, request, plan, progress,
                                                   demo=demo))
    except ScanletError as exc:
        raise fail(exc) from exc
    for path in written:
        out.print(f"wrote {path}")


def _pages(raw: str | None) -> int | Literal["all"] | None:
    if raw is None:
        return None
    if raw == "all":
        return "all"
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if count <= 0:
        raise InvalidSetting(f"--pages must be a positive number or 'all', not {raw!r}",
                             field="pages", allowed="positive integer or 'all'")
    return count


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    MofNCompleteColumn(), console=err, transient=False)


app.add_typer(sites_app, name="sites")
app.add_typer(keys_app, name="keys")
app.command()(convert)
app.command()(doctor)
app.command("log-level")(log_level)
app.command()(upload)
app.add_typer(cert_app, name="cert",
              help="The local HTTPS certificate and the trust stores that hold its CA.")
app.add_typer(service_app, name="service",
              help="Run Scanlet under its monitor, or install it as an OS service.")


def main() -> Any:
    """Console-script entry point. A ScanletError that a command does not handle itself (e.g.
    ``home_unsafe`` from opening the home) is shown like the handled ones, not as a traceback."""
    try:
        return app(prog_name="scanlet")
    except ScanletError as exc:
        raise SystemExit(fail(exc).exit_code) from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
