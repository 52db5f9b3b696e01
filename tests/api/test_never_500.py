"""Hostile and malformed input gets a 4xx problem+json with a stable code, never a 500."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Service, make_home, start_service


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service for the whole module: none of these requests changes what the others see."""
    svc = start_service(make_home(Path(tmp_path_factory.mktemp("never500")) / "home"))
    yield svc
    svc.kill(signal.SIGTERM)

JOB_BODIES: list[Any] = [
    [], "a string", 42, None, {"device": None}, {"device": 7},
    {"device": "sane:test:0", "resolution": "high"},
    {"device": "sane:test:0", "resolution": -300},
    {"device": "sane:test:0", "resolution": 10**30},
    {"device": "sane:test:0", "pages": 0}, {"device": "sane:test:0", "pages": "some"},
    {"device": "sane:test:0", "mode": "infrared"},
    {"device": "sane:test:0", "bit_depth": 3},
    {"device": "sane:test:0", "paper_size": "Z9"},
    {"device": "sane:test:0", "area": {"left": 0, "top": 0, "width": 5000, "height": 10}},
    {"device": "sane:test:0", "area": {"width": -1, "height": 10}},
    {"device": "sane:test:0", "area": "A4"},
    {"device": "sane:test:0", "brightness": 10**9},
    {"device": "sane:test:0", "raw_options": {"no-such-option": 1}},
    {"device": "sane:test:0", "raw_options": ["x"]},
    {"device": "sane:test:0", "jpeg_quality": 0},
    {"device": "sane:test:0", "compression": "zip"},
    {"device": "sane:test:0", "document_id": "../../etc/passwd"},
    {"device": "sane:test:0", "unexpected": True},
    {"device": "../../../etc/passwd"}, {"device": "sane:" + "x" * 5000},
    {"device": "sane:\u0000\u202e"},
]

GETS = [
    "/v1/devices/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/v1/devices/sane:x/capabilities",
    "/v1/pages/..%2F..%2Fkeys%2Fcache.key/image", "/v1/pages/" + "p" * 3000,
    "/v1/pages/nope/image?width=abc", "/v1/pages/nope/image?format=gif",
    "/v1/pages/nope/image?quality=1000", "/v1/documents/nope/pages",
    "/v1/documents/nope/export?format=pdf", "/v1/jobs/%00",
]


@pytest.mark.parametrize("body", JOB_BODIES)
def test_job_bodies(service: Service, body: Any) -> None:
    with service.client() as http:
        response = http.post("/v1/jobs", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"]


def test_odd_paths_and_bodies(service: Service) -> None:
    with service.client() as http:
        for path in GETS:
            response = http.get(path)
            assert 400 <= response.status_code < 500, (path, response.text)
            assert response.json()["code"], path
        document = http.post("/v1/documents", json={}).json()["id"]
        for method, path, body in [
            ("POST", f"/v1/documents/{document}/pages/move", {"page_ids": ["x"], "to_index": -1}),
            ("POST", f"/v1/documents/{document}/pages/move", {"page_ids": ["x"], "to_index": 0}),
            ("POST", f"/v1/documents/{document}/pages/delete", {"page_ids": []}),
            ("POST", f"/v1/documents/{document}/pages/delete", {"page_ids": ["nope"]}),
            ("PUT", f"/v1/documents/{document}/pages/order", {"page_ids": ["a", "a"]}),
            ("PATCH", f"/v1/documents/{document}", {"name": "n" * 1000}),
            ("PATCH", f"/v1/documents/{document}", {"tags": "not-a-list"}),
            ("PATCH", "/v1/pages/nope", {"tags": ["x"]}),
            ("POST", "/v1/documents", {"metadata": "x"}),
            ("POST", "/v1/jobs/nope/cancel", None),
        ]:
            response = http.request(method, path, json=body)
            assert 400 <= response.status_code < 500, (method, path, body, response.text)
            assert response.json()["code"], (method, path)
        assert http.get("/v1/health").json()["status"] == "ok"
