"""A small Python client of the native /v1 API, used by the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from rich.progress import Progress
from websockets.sync.client import connect

from scanlet.cli.outputs import OutputPlan, document_paths, output_format
from scanlet.cli.scan_output import ScanProgress, page_paths
from scanlet.errors import error_from_dict
from scanlet.models import Device, JobInfo, JobRequest, PageInfo


class ServiceClient:
    """Talks to a running Scanlet service over HTTP and WebSocket."""

    def __init__(self, base_url: str, *, api_key: str | None = None,
                 timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=self.auth)

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        try:
            body = response.json()
        except ValueError:
            body = {}
        raise error_from_dict({"code": body.get("code", "internal"),
                               "message": body.get("detail") or body.get("title")
                               or f"HTTP {response.status_code}",
                               "detail": {"status": response.status_code,
                                          **{k: body[k] for k in ("field", "allowed")
                                             if k in body}}})

    def _get(self, path: str, **params: Any) -> Any:
        return self._check(self.http.get(path, params=params)).json()

    def log_settings(self) -> dict[str, Any]:
        """``GET /v1/admin/log``: the level in force, format and file (admin scope)."""
        return dict(self._get("/v1/admin/log"))

    def set_log_level(self, level: str) -> dict[str, Any]:
        """``PUT /v1/admin/log``: change the level until the service stops."""
        return dict(self._check(self.http.put("/v1/admin/log", json={"level": level})).json())

    def devices(self, *, refresh: bool = False) -> list[Device]:
        """``GET /v1/devices``: the service's last listing, or a new one with ``refresh``."""
        params = {"refresh": "true"} if refresh else {}
        return [Device.model_validate(d) for d in self._get("/v1/devices", **params)]

    def create_job(self, request: JobRequest) -> JobInfo:
        body = request.model_dump(mode="json", exclude_none=True)
        return JobInfo.model_validate(self._check(self.http.post("/v1/jobs", json=body)).json())

    def events(self, job_id: str) -> Any:
        """Yield the job's events until it finishes."""
        ws_url = "ws" + self.base_url.removeprefix("http") + f"/v1/jobs/{job_id}/events"
        with connect(ws_url, max_size=2**22, open_timeout=10,
                     additional_headers=self.auth) as ws:
            for message in ws:
                yield json.loads(message)

    def pages(self, document_id: str) -> list[PageInfo]:
        return [PageInfo.model_validate(p)
                for p in self._get(f"/v1/documents/{document_id}/pages")]

    def download(self, path: str, dest: Path, **params: Any) -> None:
        """Stream a response body to ``dest`` (written to a temp name, then renamed)."""
        tmp = dest.with_name(f".{dest.name}.part")
        with self.http.stream("GET", path, params=params) as response:
            if not response.is_success:
                response.read()
                self._check(response)
            with open(tmp, "wb") as fh:
                for chunk in response.iter_bytes():
                    fh.write(chunk)
        tmp.replace(dest)

    def scan_to_file(self, request: JobRequest, plan: OutputPlan,
                     progress: Progress) -> list[Path]:
        """Run a scan job and write its pages as ``plan`` says (split, OCR, PDF/A)."""
        plan.check()
        fmt = output_format(plan.output)
        job = self.create_job(request)
        watcher = ScanProgress(progress, request.page_limit())
        for event in self.events(job.id):
            watcher.on_event(event)
        watcher.raise_if_failed()
        documents = [job.document_id]
        if plan.split is not None:
            made = self._check(self.http.post(
                f"/v1/documents/{job.document_id}/split",
                json={"rule": plan.split.model_dump(mode="json")})).json()
            documents = [d["id"] for d in made]
        written: list[Path] = []
        for document_id, path in zip(documents, document_paths(plan.output, len(documents)),
                                     strict=True):
            pages = [p for p in self.pages(document_id) if p.job_id == job.id]
            if fmt in ("pdf", "tiff") and plan.ocr_lang:
                self._ocr_to(document_id, pages, plan, path)
            elif fmt in ("pdf", "tiff"):
                self.download(f"/v1/documents/{document_id}/export", path, format=fmt,
                              pdf_a=str(plan.pdf_a).lower(),
                              pages=",".join(p.id for p in pages))
            else:
                for page, page_path in zip(pages, page_paths(path, len(pages)), strict=True):
                    self.download(f"/v1/documents/{document_id}/export", page_path,
                                  format=fmt, pages=page.id)
                    written.append(page_path)
                continue
            written.append(path)
        return written

    def _ocr_to(self, document_id: str, pages: list[PageInfo], plan: OutputPlan,
                path: Path) -> None:
        task = self._check(self.http.post(f"/v1/documents/{document_id}/ocr", json={
            "lang": plan.ocr_lang, "output": "pdfa" if plan.pdf_a else "pdf",
            "page_ids": [p.id for p in pages]})).json()
        ws_url = "ws" + self.base_url.removeprefix("http") + f"/v1/tasks/{task['id']}/events"
        final: dict[str, Any] = {}
        with connect(ws_url, open_timeout=10, additional_headers=self.auth) as ws:
            for message in ws:
                event = json.loads(message)
                if event.get("type") == "task":
                    final = event["task"]
        if final.get("state") != "completed":
            error = final.get("error") or {"code": "internal", "message": "OCR did not finish"}
            raise error_from_dict(error)
        self.download(f"/v1/tasks/{task['id']}/file", path)

    def upload(self, document_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/documents/{id}/upload``: start an upload task; returns the task."""
        return dict(self._check(self.http.post(f"/v1/documents/{document_id}/upload",
                                               json=body)).json())

    def task_events(self, task_id: str) -> Any:
        """Yield the task's events (``task`` and ``progress``) until it finishes."""
        ws_url = "ws" + self.base_url.removeprefix("http") + f"/v1/tasks/{task_id}/events"
        with connect(ws_url, open_timeout=10, additional_headers=self.auth) as ws:
            for message in ws:
                yield json.loads(message)


__all__ = ["ServiceClient", "error_from_dict"]
