"""Fixtures for access-rule tests: services with extra config, raw HTTP, foreign origins."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Service, make_home, start_service


def write_config(home: Path, text: str) -> None:
    """Append INI sections to the home's user.ini."""
    with open(home / "user.ini", "a") as fh:
        fh.write("\n" + text.strip() + "\n")


@pytest.fixture
def configured_service(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Service]:
    """A service whose user.ini gets the text of ``@pytest.mark.config(...)`` appended."""
    marker = request.node.get_closest_marker("config")
    home = make_home(tmp_path / "home")
    if marker is not None:
        write_config(home, marker.args[0])
    svc = start_service(home)
    yield svc
    svc.kill()


def raw_request(url: str, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are (to test malformed or duplicated headers); the raw answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)
