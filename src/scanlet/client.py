"""A small Python client of the native /v1 API, used by the CLI and the tests."""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from rich.progress import Progress
from websockets.sync.client import connect

from scanlet.errors import error_from_dict
from scanlet.models import Device, JobInfo, JobRequest, PageInfo
from scanlet.scan_output import ScanProgress, page_paths


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

    def devices(self) -> list[Device]:
        return [Device.model_validate(d) for d in self._get("/v1/devices")]

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

    def scan_to_file(self, request: JobRequest, output: Path, fmt: str,
                     progress: Progress) -> list[Path]:
        """Run a scan job and write its pages to ``output`` (one file, or one per page)."""
        job = self.create_job(request)
        watcher = ScanProgress(progress, request.page_limit())
        for event in self.events(job.id):
            watcher.on_event(event)
        watcher.raise_if_failed()
        document_id = job.document_id
        if fmt in ("pdf", "tiff"):
            self.download(f"/v1/documents/{document_id}/export", output, format=fmt,
                          pages=",".join(p.id for p in self.pages(document_id)
                                         if p.job_id == job.id))
            return [output]
        job_pages = [p for p in self.pages(document_id) if p.job_id == job.id]
        paths = page_paths(output, len(job_pages))
        for page, path in zip(job_pages, paths, strict=True):
            self.download(f"/v1/pages/{page.id}/image", path, format=fmt)
        return paths


__all__ = ["ServiceClient", "error_from_dict"]
