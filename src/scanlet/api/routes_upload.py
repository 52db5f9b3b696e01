"""Upload a document to a remote target (HTTP(S) POST/PUT or FTP(S)) as a task.

``POST /v1/documents/{id}/upload`` checks the target against the upload policy at once (403
``upload_target_refused`` before any work), then starts a task that exports the document into
the home's ``upload/`` folder (a private staged file), checks the target again, sends the file
with progress and cancel, and removes the staged file whatever happens. The task's result is
the target's answer: ``status``, selected ``headers``, ``body`` (text) or ``body_base64``,
``truncated``, ``attempts``, ``retried_statuses``.

Uploads are limited per client like OCR: ``[limits] upload_tasks_per_minute`` requests a
minute (429 ``rate_limited``) and ``[limits] max_running_uploads`` at once (429
``too_many_tasks``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field

from scanlet.api.deps import client_key
from scanlet.api.routes_buffer import EXPORT_EXTENSIONS, page_selection
from scanlet.codecs.export import ExportFormat, export_pages
from scanlet.codecs.options import ExportOptions
from scanlet.config import Settings
from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.errors import InvalidSetting, ScanCancelled, UploadTargetRefused
from scanlet.tasks import Progress, TaskInfo, TaskOutput
from scanlet.upload.ftp import upload_ftp
from scanlet.upload.http import (
    UploadResult,
    check_fields,
    check_headers,
    check_part_names,
    upload_file,
)
from scanlet.upload.policy import (
    FTP_SCHEMES,
    CheckedTarget,
    Requester,
    UploadRules,
    check_target,
)

router = APIRouter(prefix="/v1", tags=["upload"])
Rt = Annotated[Runtime, Depends(runtime)]

UPLOAD_TASK_KIND = "upload"
#: Seconds between two progress events of an upload (the uploader reports every chunk it sends).
PROGRESS_INTERVAL = 0.1


class FtpLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field("anonymous", max_length=1000)
    password: str = Field("", max_length=1000)


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=8192, description="https://, ftps:// (or a dev target)")
    method: Literal["POST", "PUT"] = Field(
        "POST", description="POST: multipart/form-data; PUT: the raw file (ignored for FTP)")
    format: ExportFormat = "pdf"
    options: ExportOptions | None = Field(None, description="Export options, as the export "
                                          "route takes them")
    page_ids: list[str] | None = Field(None, max_length=10_000,
                                       description="Pages in this order (default: all)")
    field_name: str = Field("file", min_length=1, max_length=200)
    file_name: str | None = Field(None, max_length=1000,
                                  description="Default: <document name>.<extension>")
    content_type: str | None = Field(
        None, max_length=200, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+"
        r"(\s*;\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+=[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$",
        description="Content-Type of the file part (POST) or body (PUT); default: the "
        "export's media type")
    fields: dict[str, str] = Field(default_factory=dict, max_length=100)
    headers: dict[str, str] = Field(default_factory=dict, max_length=100,
                                    description="Cookie is dropped; hop-by-hop headers, Host, "
                                    "Content-Length and the like are refused")
    ftp: FtpLogin | None = None


def _check_running(rt: Runtime, client: str) -> None:
    """429 ``too_many_tasks`` when ``client`` already runs its maximum of uploads."""
    rt.tasks.check_room(kind_prefix=UPLOAD_TASK_KIND, owner=client,
                        maximum=rt.settings.max_running_uploads, what="uploads",
                        key="max_running_uploads")


def upload_rules(settings: Settings) -> UploadRules:
    return UploadRules(allowed_targets=settings.upload_allowed_targets,
                       allow_private=settings.upload_allow_private,
                       allow_loopback_targets=settings.upload_dev_targets)


class _Anonymous:
    kind = "anonymous"
    origin: str | None = None


def _requester(request: Request) -> Requester:
    principal = request.scope.get("state", {}).get("principal")
    return principal if principal is not None else _Anonymous()


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_. " else "_" for c in name).strip() or "document"


def result_json(result: UploadResult, target: CheckedTarget) -> dict[str, Any]:
    """The task result: the target's answer (the body as text when it is UTF-8)."""
    out: dict[str, Any] = {"target": target.safe_url(), "status": result.status,
                           "headers": result.headers, "truncated": result.truncated,
                           "attempts": result.attempts,
                           "retried_statuses": list(result.retried_statuses)}
    try:
        out["body"] = result.body.decode("utf-8")
    except UnicodeDecodeError:
        out["body_base64"] = base64.b64encode(result.body).decode("ascii")
    return out


@router.post("/documents/{document_id}/upload", status_code=status.HTTP_202_ACCEPTED,
             summary="Upload a document to a URL (a task; follow it at /v1/tasks/{id})")
async def upload_document(document_id: str, body: UploadRequest, rt: Rt,
                          request: Request) -> TaskInfo:
    client = client_key(request.scope)
    _check_running(rt, client)  # early, before any work; checked again right before starting
    requester = _requester(request)
    rules = upload_rules(rt.settings)
    # Fail fast: the target is checked before anything is exported.
    await asyncio.to_thread(check_target, body.url, requester=requester, rules=rules)
    headers = check_headers(body.headers)
    fields = check_fields(body.fields)
    check_part_names(body.field_name, body.file_name or "document")
    document = await asyncio.to_thread(rt.store.get_document, document_id)
    page_ids = await asyncio.to_thread(page_selection, rt, document_id, body.page_ids)
    if not page_ids:
        raise InvalidSetting("the document has no pages to upload", field="page_ids")
    settings = rt.settings
    staging = rt.home.upload

    def work(workdir: Path, progress: Progress, cancel: threading.Event) -> TaskOutput:
        del workdir  # the staged file lives in the home's upload/ folder
        staging.mkdir(parents=True, exist_ok=True, mode=0o700)
        staged = staging / f"upload-{secrets.token_hex(8)}.part"
        try:
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

            def exported(_done: int, _total: int) -> None:
                if cancel.is_set():
                    raise ScanCancelled("the upload was cancelled while exporting")

            with os.fdopen(fd, "wb") as fh:
                media_type = export_pages(rt.store, page_ids, body.format, fh, exported,
                                          options=body.options)
            default_name = _safe_name(
                f"{document.name or document.id}.{EXPORT_EXTENSIONS.get(media_type, 'bin')}")
            target = check_target(body.url, requester=requester, rules=rules)

            def sent(done: int, total: int) -> None:
                with contextlib.suppress(Exception):  # the uploader checks cancel itself
                    progress(done, total)

            if target.scheme in FTP_SCHEMES:
                login = body.ftp or FtpLogin()
                result = upload_ftp(
                    staged, target, user=login.user, password=login.password,
                    file_name=body.file_name or (default_name if target.path.endswith("/")
                                                 else None),
                    retries=settings.upload_retries, timeout=settings.upload_timeout,
                    progress=sent, cancel=cancel)
            else:
                result = upload_file(
                    staged, target, method=body.method, field_name=body.field_name,
                    file_name=body.file_name or default_name,
                    content_type=body.content_type or media_type,
                    fields=fields, headers=headers, retries=settings.upload_retries,
                    timeout=settings.upload_timeout, progress=sent, cancel=cancel,
                    response_limit=settings.upload_max_response_kb * 1024)
            return TaskOutput(result_json(result, target))
        finally:
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()

    # No await between this check and start(): two requests of one client cannot both pass.
    _check_running(rt, client)
    return rt.tasks.start(UPLOAD_TASK_KIND, work, owner=client, unit="bytes",
                          progress_interval=PROGRESS_INTERVAL)


__all__ = ["UploadRequest", "UploadTargetRefused", "router", "upload_rules"]
