"""Small helpers shared by API, CLI and crash tests."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pikepdf
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

A4_PT = (595.3, 841.9)


def job_events(base_url: str, job_id: str, timeout: float = 120, *,
               headers: dict[str, str]) -> list[dict[str, Any]]:
    """All events of a job over its WebSocket, until the service closes it normally (after
    the event that reports the job finished). Anything else surfaces: ``TimeoutError`` when
    no event came for ``timeout`` seconds (a guard against a hang), ``ConnectionClosedError``
    when the socket broke; a test must not mistake a half-read stream for the whole."""
    url = "ws" + base_url.removeprefix("http") + f"/v1/jobs/{job_id}/events"
    events = []
    with connect(url, open_timeout=10, close_timeout=5, additional_headers=headers) as ws:
        while True:
            try:
                message = ws.recv(timeout=timeout)
            except ConnectionClosedOK:
                break
            events.append(json.loads(message))
    return events


def consent_form(page: str, *, wait: bool = True) -> str:
    """The nonce of a consent page's form; with ``wait``, after waiting out the delay its
    Allow button announces (``data-delay-ms``, ``[security] consent_delay_ms``), as the page's
    script does: the service refuses an Allow that comes sooner after it served the page."""
    nonce = page.split('name=nonce value="', 1)[1].split('"', 1)[0]
    if wait:
        time.sleep(int(page.split('data-delay-ms="', 1)[1].split('"', 1)[0]) / 1000)
    return nonce


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and stable code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["title"]
    return body


def check_pdf(path: Path, pages: int, *, dpi: float = 300, size_pt: tuple[float, float] = A4_PT,
              filters: str | None = "/DCTDecode") -> None:
    """qpdf accepts the PDF; it has ``pages`` pages of the given size and image dpi."""
    subprocess.run(["qpdf", "--check", str(path)], check=True, capture_output=True)
    with pikepdf.open(path) as pdf:
        assert len(pdf.pages) == pages
        for page in pdf.pages:
            box = [float(v) for v in page.mediabox]
            width_pt, height_pt = box[2] - box[0], box[3] - box[1]
            assert abs(width_pt - size_pt[0]) < 1.5 and abs(height_pt - size_pt[1]) < 1.5
            images = list(page.get_images().values())
            assert len(images) == 1
            image = images[0]
            assert abs(image.Width / (width_pt / 72) - dpi) < 1
            assert abs(image.Height / (height_pt / 72) - dpi) < 1
            if filters is not None:
                assert str(image.Filter) == filters
