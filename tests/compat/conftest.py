"""Fixtures of the compatibility-API tests: one real ``scanlet serve --demo`` per module (a
module that needs another configuration defines its own ``service``), a plain HTTP client
that sends a key only where a test adds one, and the reference's error-body check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Service, make_home, start_service


@pytest.fixture(scope="module")
def service(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    name = request.module.__name__.rsplit(".", 1)[-1]
    svc = start_service(make_home(tmp_path_factory.mktemp(name) / "home"))
    yield svc
    svc.kill()


@pytest.fixture
def http(service: Service) -> Iterator[httpx.Client]:
    """A client as the reference's are: the key only where a call needs it."""
    with httpx.Client(base_url=service.url, timeout=30) as client:
        yield client


def dwt_error(answer: httpx.Response, status: int, code: int) -> dict[str, Any]:
    """The reference's error body: {code, message, statusCode}."""
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert body["code"] == code and body["statusCode"] == status, body
    assert isinstance(body["message"], str) and body["message"]
    return body
