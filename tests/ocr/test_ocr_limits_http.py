"""Per-client OCR limits over real HTTP: ``[limits] ocr_tasks_per_minute`` (429
``rate_limited``) and ``[limits] max_running_ocr_tasks`` (429 ``too_many_tasks``), both with
``Retry-After``; other clients are not affected."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scanlet.config import Home, load_settings
from scanlet.security.policy import rate_limited_action
from tests.conftest import Service, make_home, start_service
from tests.helpers import assert_problem
from tests.ocr.pages import dense_page, encode
from tests.security.test_access_http import FOREIGN, as_site, pair


def configured(tmp_path: Path, limits: str) -> Iterator[Service]:
    home = make_home(tmp_path / "home")
    with open(home / "user.ini", "a") as fh:
        fh.write(f"\n[limits]\n{limits}\n")
    service = start_service(home)
    yield service
    service.kill()


@pytest.fixture
def per_minute_service(tmp_path: Path) -> Iterator[Service]:
    yield from configured(tmp_path, "ocr_tasks_per_minute = 2\nmax_running_ocr_tasks = 0")


@pytest.fixture
def one_running_service(tmp_path: Path) -> Iterator[Service]:
    yield from configured(tmp_path, "ocr_tasks_per_minute = 0\nmax_running_ocr_tasks = 1")


def document(http: httpx.Client, png: bytes, pages: int = 1) -> str:
    doc: str = http.post("/v1/documents", json={"name": "ocr"}).json()["id"]
    for _ in range(pages):
        http.post(f"/v1/documents/{doc}/import", content=png,
                  headers={"Content-Type": "image/png"}).raise_for_status()
    return doc


@pytest.fixture(scope="module")
def small_png() -> bytes:
    return encode(dense_page((1240, 300)), "png")


@pytest.fixture(scope="module")
def dense_png() -> bytes:
    """A page of dense text: seconds of OCR."""
    return encode(dense_page(), "png")


def wait_finished(http: httpx.Client, task_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task: dict[str, Any] = http.get(f"/v1/tasks/{task_id}").json()
        if task["state"] != "running":
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.05)


def test_defaults_and_keys(tmp_path: Path) -> None:
    home = Home(tmp_path / "h").create()
    settings = load_settings(home)
    assert (settings.ocr_tasks_per_minute, settings.max_running_ocr_tasks) == (12, 2)
    home.user_config.write_text("[limits]\nocr_tasks_per_minute = 0\n"
                                "max_running_ocr_tasks = 5\n")
    settings = load_settings(home)
    assert (settings.ocr_tasks_per_minute, settings.max_running_ocr_tasks) == (0, 5)
    ocr, scan = (rate_limited_action("POST", "/v1/documents/abc/ocr"),
                 rate_limited_action("POST", "/v1/jobs"))
    assert ocr is not None and scan is not None and (ocr.name, scan.name) == ("ocr", "scan")
    assert rate_limited_action("GET", "/v1/documents/abc/ocr") is None
    assert rate_limited_action("POST", "/v1/documents/abc/ocr/x") is None
    assert rate_limited_action("POST", "/v1/ocr/languages") is None


def test_ocr_requests_per_minute_per_client(per_minute_service: Service,
                                            small_png: bytes) -> None:
    service = per_minute_service
    with service.client() as http:
        doc = document(http, small_png)
        url = f"/v1/documents/{doc}/ocr"
        first = http.post(url, json={"lang": "eng", "output": "text"})
        assert first.status_code == 202, first.text
        # A refused request (unknown language) still spends a token: counted before the route.
        assert_problem(http.post(url, json={"lang": "klingon"}), 422, "invalid_setting")
        limited = http.post(url, json={"lang": "eng", "output": "text"})
        body = assert_problem(limited, 429, "rate_limited")
        assert body["action"] == "ocr" and "OCR" in body["detail"]
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Scans and other routes are not affected by the OCR bucket.
        assert http.get("/v1/ocr/languages").status_code == 200
        assert http.post("/v1/documents", json={"name": "x"}).status_code == 201
        assert wait_finished(http, first.json()["id"])["state"] == "completed"
        # Still limited after the task finished: this is a rate, not a concurrency cap.
        assert_problem(http.post(url, json={"lang": "eng", "output": "text"}), 429,
                       "rate_limited")
    # Another client (a paired site) has its own bucket.
    token = pair(service, scopes=["scan"])["token"]
    other = httpx.post(service.url + url, json={"lang": "eng", "output": "text"},
                       headers=as_site(token))
    assert other.status_code == 202, other.text
    assert other.headers["access-control-allow-origin"] == FOREIGN


def test_running_ocr_tasks_per_client(one_running_service: Service, dense_png: bytes,
                                      small_png: bytes) -> None:
    service = one_running_service
    with service.client() as http:
        slow = document(http, dense_png, pages=3)
        quick = document(http, small_png)
        first = http.post(f"/v1/documents/{slow}/ocr", json={"lang": "eng", "output": "text"})
        assert first.status_code == 202, first.text
        refused = http.post(f"/v1/documents/{quick}/ocr", json={"lang": "eng"})
        body = assert_problem(refused, 429, "too_many_tasks")
        assert (body["running"], body["maximum"]) == (1, 1)
        assert int(refused.headers["retry-after"]) >= 1
        assert http.get(f"/v1/tasks/{first.json()['id']}").json()["state"] == "running"
        assert len(http.get("/v1/tasks").json()) == 1  # the refused request started nothing

        # Another client may run its own task meanwhile.
        token = pair(service, scopes=["scan"])["token"]
        theirs = httpx.post(service.url + f"/v1/documents/{quick}/ocr",
                            json={"lang": "eng", "output": "text"}, headers=as_site(token),
                            timeout=30)
        assert theirs.status_code == 202, theirs.text

        # Once the first task has stopped, this client may start another.
        assert http.post(f"/v1/tasks/{first.json()['id']}/cancel").status_code == 200
        assert wait_finished(http, first.json()["id"])["state"] == "cancelled"
        again = http.post(f"/v1/documents/{quick}/ocr", json={"lang": "eng", "output": "text"})
        assert again.status_code == 202, again.text
        assert wait_finished(http, again.json()["id"])["state"] == "completed"
        assert wait_finished(http, theirs.json()["id"])["state"] == "completed"
