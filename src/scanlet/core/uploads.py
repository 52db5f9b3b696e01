"""Uploading a buffered document to a remote target: the checks, the staging and the dispatch
to the HTTP(S) or FTP(S) uploader, as a task. The one implementation behind
``POST /v1/documents/{id}/upload`` and so behind ``scanlet upload`` (which asks the running
service).

The target is checked against the upload policy before any work (:func:`check_order`, 403
``upload_target_refused``), then a task (:func:`start_upload`) exports the pages into the
home's ``upload/`` folder (a private staged file), checks the target again (DNS may have
changed), sends the file with progress and cancel, and removes the staged file whatever
happens. The task's result is the target's answer (:func:`result_json`).

Uploads are limited per owner (the client's principal): ``[limits] max_running_uploads`` at
once (429 ``too_many_tasks``, :func:`check_room`). The rate limit per minute is the HTTP
layer's.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from scanlet.buffer.store import PageStore
from scanlet.codecs.export import EXTENSIONS, ExportFormat, export_pages
from scanlet.codecs.options import ExportOptions
from scanlet.config import Settings
from scanlet.errors import InvalidSetting, ScanCancelled
from scanlet.models import DocumentInfo
from scanlet.tasks import Progress, TaskInfo, TaskManager, TaskOutput
from scanlet.upload.ftp import upload_ftp
from scanlet.upload.http import (
    UploadResult,
    check_fields,
    check_headers,
    check_part_names,
    upload_file,
)
from scanlet.upload.policy import FTP_SCHEMES, CheckedTarget, Requester, UploadRules, check_target

log = logging.getLogger(__name__)

#: The kind of upload tasks (what the per-owner limit counts).
UPLOAD_TASK_KIND = "upload"
#: Seconds between two progress events of an upload (the uploader reports every chunk it sends).
PROGRESS_INTERVAL = 0.1


@dataclass(frozen=True)
class FtpLogin:
    """The FTP(S) account (anonymous by default)."""

    user: str = "anonymous"
    password: str = ""


@dataclass(frozen=True)
class UploadOrder:
    """What to upload where and how, as the API request (or any other caller) says it."""

    url: str
    method: Literal["POST", "PUT"] = "POST"
    format: ExportFormat = "pdf"
    options: ExportOptions | None = None
    field_name: str = "file"
    file_name: str | None = None
    content_type: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    ftp: FtpLogin | None = None


@dataclass(frozen=True)
class CheckedOrder:
    """An order that passed :func:`check_order`: the headers and fields as they will be sent."""

    order: UploadOrder
    requester: Requester
    rules: UploadRules
    headers: dict[str, str]
    fields: dict[str, str]


def upload_rules(settings: Settings) -> UploadRules:
    """The upload policy the settings configure."""
    return UploadRules(allowed_targets=settings.upload_allowed_targets,
                       allow_private=settings.upload_allow_private,
                       allow_loopback_targets=settings.upload_dev_targets)


def check_room(tasks: TaskManager, settings: Settings, owner: str) -> None:
    """429 ``too_many_tasks`` when ``owner`` already runs its maximum of uploads."""
    tasks.check_room(kind_prefix=UPLOAD_TASK_KIND, owner=owner,
                     maximum=settings.max_running_uploads, what="uploads",
                     key="max_running_uploads")


def check_order(order: UploadOrder, requester: Requester, rules: UploadRules) -> CheckedOrder:
    """Fail fast, before anything is exported: the target against the policy (blocking: it
    resolves the host name), the extra headers and fields, the multipart part names."""
    check_target(order.url, requester=requester, rules=rules)
    headers = check_headers(order.headers)
    fields = check_fields(order.fields)
    check_part_names(order.field_name, order.file_name or "document")
    return CheckedOrder(order, requester, rules, headers, fields)


def safe_name(name: str) -> str:
    """``name`` with anything but letters, digits, ``-_. `` replaced: a file name any target
    takes."""
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


def stage_and_send(store: PageStore, document: DocumentInfo, page_ids: list[str],
                   checked: CheckedOrder, *, settings: Settings, staging: Path,
                   progress: Progress, cancel: threading.Event) -> dict[str, Any]:
    """Export the pages into a private file in ``staging``, check the target again, send the
    file (HTTP(S) or FTP(S) by the URL's scheme) and remove the file whatever happens.
    Blocking; returns :func:`result_json`."""
    order = checked.order
    staging.mkdir(parents=True, exist_ok=True, mode=0o700)
    staged = staging / f"upload-{secrets.token_hex(8)}.part"
    try:
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

        def exported(_done: int, _total: int) -> None:
            if cancel.is_set():
                raise ScanCancelled("the upload was cancelled while exporting")

        with os.fdopen(fd, "wb") as fh:
            media_type = export_pages(store, page_ids, order.format, fh, exported,
                                      options=order.options)
        default_name = safe_name(
            f"{document.name or document.id}.{EXTENSIONS.get(media_type, 'bin')}")
        target = check_target(order.url, requester=checked.requester, rules=checked.rules)

        def sent(done: int, total: int) -> None:
            with contextlib.suppress(Exception):  # the uploader checks cancel itself
                progress(done, total)

        if target.scheme in FTP_SCHEMES:
            login = order.ftp or FtpLogin()
            result = upload_ftp(
                staged, target, user=login.user, password=login.password,
                file_name=order.file_name or (default_name if target.path.endswith("/")
                                              else None),
                retries=settings.upload_retries, timeout=settings.upload_timeout,
                progress=sent, cancel=cancel)
        else:
            result = upload_file(
                staged, target, method=order.method, field_name=order.field_name,
                file_name=order.file_name or default_name,
                content_type=order.content_type or media_type,
                fields=checked.fields, headers=checked.headers,
                retries=settings.upload_retries, timeout=settings.upload_timeout,
                progress=sent, cancel=cancel,
                response_limit=settings.upload_max_response_kb * 1024)
        log.debug("uploaded document %s to %s: %s", document.id, target.safe_url(),
                 result.status)
        return result_json(result, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()


def start_upload(tasks: TaskManager, store: PageStore, document: DocumentInfo,
                 page_ids: list[str], checked: CheckedOrder, *, settings: Settings,
                 staging: Path, owner: str) -> TaskInfo:
    """Start the upload task of ``owner`` (counted by :func:`check_room`, checked again here:
    call this without an ``await`` after the caller's own checks). Returns at once."""
    if not page_ids:
        raise InvalidSetting("the document has no pages to upload", field="page_ids")

    def work(workdir: Path, progress: Progress, cancel: threading.Event) -> TaskOutput:
        del workdir  # the staged file lives in the home's upload/ folder
        return TaskOutput(stage_and_send(store, document, page_ids, checked,
                                         settings=settings, staging=staging,
                                         progress=progress, cancel=cancel))

    check_room(tasks, settings, owner)
    return tasks.start(UPLOAD_TASK_KIND, work, owner=owner, unit="bytes",
                       progress_interval=PROGRESS_INTERVAL)


__all__ = ["PROGRESS_INTERVAL", "UPLOAD_TASK_KIND", "CheckedOrder", "FtpLogin", "UploadOrder",
           "check_order", "check_room", "result_json", "safe_name", "stage_and_send",
           "start_upload", "upload_rules"]
