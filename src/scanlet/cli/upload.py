"""``scanlet upload DOC --url URL``: upload a buffered document through the running service.

The service exports the document, checks the target against the upload policy and sends the
file (``POST /v1/documents/{id}/upload``, a task); this command shows the task's progress and
prints the target's answer.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from scanlet.cli.common import HomeOpt, fail, resolve_target
from scanlet.errors import InvalidSetting, ScanletError, error_from_dict

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


def _pairs(items: list[str], sep: str, what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        name, found, value = item.partition(sep)
        if not found or not name.strip():
            raise InvalidSetting(f"{what} {item!r} is not NAME{sep}VALUE", field=what)
        pairs[name.strip()] = value.strip() if sep == ":" else value
    return pairs


def upload(
    document: Annotated[str, typer.Argument(help="Document id in the service's buffer")],
    url: Annotated[str, typer.Option("--url", help="Target: https://..., ftps://... "
                                     "(plain http only for [upload] dev_targets)")],
    method: Annotated[str, typer.Option("--method", help="POST (multipart) or PUT (raw)")]
    = "POST",
    format: Annotated[str, typer.Option("--format", help="pdf, tiff, jpeg, png, bmp, webp")]
    = "pdf",
    field: Annotated[list[str] | None, typer.Option(
        "--field", help="Extra form field name=value (POST); repeatable")] = None,
    header: Annotated[list[str] | None, typer.Option(
        "--header", help="Extra request header 'Name: value'; repeatable")] = None,
    file_name: Annotated[str | None, typer.Option(
        "--file-name", help="File name sent (default: <document name>.<ext>)")] = None,
    home: HomeOpt = None,
    service_url: Annotated[str | None, typer.Option(
        "--service", help="Service URL (default: from --home)")] = None,
) -> None:
    """Upload a document from the buffer to a URL (through the running service)."""
    try:
        wanted = method.upper()
        if wanted not in ("POST", "PUT"):
            raise InvalidSetting("--method must be POST or PUT", field="method")
        body: dict[str, Any] = {"url": url, "method": wanted, "format": format,
                                "fields": _pairs(field or [], "=", "field"),
                                "headers": _pairs(header or [], ":", "header")}
        if file_name is not None:
            body["file_name"] = file_name
        target = resolve_target(home, service_url)
        if target.url is None:
            err.print(f"no Scanlet service runs for {target.home.root}; start it with "
                      "`scanlet serve`", markup=False)
            raise typer.Exit(1)
        with target.client() as client:
            task = client.upload(document, body)
            final = task
            with Progress(TextColumn("uploading"), BarColumn(), DownloadColumn(),
                          TransferSpeedColumn(), console=err, transient=True) as bar:
                bar_id = bar.add_task("upload", total=None)
                for event in client.task_events(task["id"]):
                    if event.get("type") == "progress" and event.get("total"):
                        bar.update(bar_id, completed=event["done"], total=event["total"])
                    elif event.get("type") == "task":
                        final = event["task"]
        if final.get("state") != "completed":
            error = final.get("error") or {"code": "upload_cancelled" if
                                           final.get("state") == "cancelled" else "internal",
                                           "message": f"the upload task is {final.get('state')}"}
            raise error_from_dict(error)
    except ScanletError as exc:
        raise fail(exc) from exc
    result = final.get("result") or {}
    out.print(f"uploaded to {result.get('target', url)}: {result.get('status')} "
              f"({result.get('attempts')} attempt(s))", markup=False)
    text = result.get("body")
    if text:
        out.print(text[:2000], markup=False)
    status = int(result.get("status") or 0)
    if status >= 400:
        raise typer.Exit(1)
