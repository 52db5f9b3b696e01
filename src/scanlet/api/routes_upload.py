"""Upload a document to a remote target (HTTP(S) POST/PUT or FTP(S)) as a task.

``POST /v1/documents/{id}/upload`` checks the target against the upload policy at once (403
``upload_target_refused`` before any work), then starts a task that exports the document into
the home's ``upload/`` folder (a private staged file), checks the target again, sends the file
with progress and cancel, and removes the staged file whatever happens. The task's result is
the target's answer: ``status``, selected ``headers``, ``body`` (text) or ``body_base64``,
``truncated``, ``attempts``, ``retried_statuses``. All of that is :mod:`scanlet.core.uploads`;
this module parses the request, names the requester and answers with the task.

Uploads are limited per client like OCR: ``[limits] upload_tasks_per_minute`` requests a
minute (429 ``rate_limited``) and ``[limits] max_running_uploads`` at once (429
``too_many_tasks``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field

from scanlet.api.deps import client_key
from scanlet.api.routes_buffer import page_selection
from scanlet.codecs.export import ExportFormat
from scanlet.codecs.options import ExportOptions
from scanlet.core import uploads
from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.core.uploads import UPLOAD_TASK_KIND, upload_rules
from scanlet.errors import UploadTargetRefused
from scanlet.tasks import TaskInfo
from scanlet.upload.policy import Requester

router = APIRouter(prefix="/v1", tags=["upload"])
Rt = Annotated[Runtime, Depends(runtime)]


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

    def order(self) -> uploads.UploadOrder:
        """The request as the core takes it."""
        return uploads.UploadOrder(
            url=self.url, method=self.method, format=self.format, options=self.options,
            field_name=self.field_name, file_name=self.file_name,
            content_type=self.content_type, fields=self.fields, headers=self.headers,
            ftp=uploads.FtpLogin(self.ftp.user, self.ftp.password) if self.ftp else None)


class _Anonymous:
    kind = "anonymous"
    origin: str | None = None


def _requester(request: Request) -> Requester:
    principal = request.scope.get("state", {}).get("principal")
    return principal if principal is not None else _Anonymous()


@router.post("/documents/{document_id}/upload", status_code=status.HTTP_202_ACCEPTED,
             summary="Upload a document to a URL (a task; follow it at /v1/tasks/{id})")
async def upload_document(document_id: str, body: UploadRequest, rt: Rt,
                          request: Request) -> TaskInfo:
    client = client_key(request.scope)
    uploads.check_room(rt.tasks, rt.settings, client)  # early; checked again when starting
    # Fail fast: the target is checked before anything is exported.
    checked = await asyncio.to_thread(uploads.check_order, body.order(), _requester(request),
                                      upload_rules(rt.settings))
    document = await asyncio.to_thread(rt.store.get_document, document_id)
    page_ids = await asyncio.to_thread(page_selection, rt, document_id, body.page_ids)
    # No await between this and the task's start: two requests of one client cannot both pass.
    return uploads.start_upload(rt.tasks, rt.store, document, page_ids, checked,
                                settings=rt.settings, staging=rt.home.upload, owner=client)


__all__ = ["UPLOAD_TASK_KIND", "UploadRequest", "UploadTargetRefused", "router", "upload_rules"]
