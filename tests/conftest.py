"""Fixtures that start real parts: a Scanlet home and a real service process on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

# Services and stores under test keep their cache key in keys/cache.key, never in the
# developer's real OS key store (keyring's own setting; tests/test_keystore.py sets a backend
# explicitly). Subprocesses inherit it.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"

USER_INI = """\
[devices]
demo_system_backends = false
worker_idle_timeout = 30
worker_progress_timeout = {progress_timeout}
"""


def make_home(path: Path, *, progress_timeout: float = 20) -> Path:
    """A home whose demo SANE config lists only the test and pnm backends (no network probes)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "user.ini").write_text(USER_INI.format(progress_timeout=progress_timeout))
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path / "home")


@dataclass
class Service:
    """A running ``scanlet serve`` process."""

    process: subprocess.Popen[bytes]
    home: Path
    url: str
    log: Path

    @property
    def https_url(self) -> str | None:
        """The HTTPS listener from port.lock (None when HTTPS is off)."""
        port = json.loads((self.home / "port.lock").read_text()).get("https_port")
        return f"https://127.0.0.1:{port}" if port else None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(timeout=15)

    @property
    def key(self) -> str:
        """The CLI's API key, which the service creates at start."""
        return (self.home / "keys" / "cli.key").read_text().strip()

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, headers=self.auth)


def start_service(home: Path, *extra: str, timeout: float = 30,
                  env: dict[str, str] | None = None) -> Service:
    """Start ``scanlet serve --demo`` on a free loopback port and wait until it answers
    (``env``: the process's whole environment, default this one's)."""
    log = home / "serve-output.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "scanlet", "serve", "--demo", "--home", str(home),
             "--port", "0", *extra],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )
    deadline = time.monotonic() + timeout
    lock = home / "port.lock"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited {process.returncode}: {log.read_text()}")
        try:
            info = json.loads(lock.read_text())
            if info.get("http_port") and info.get("pid") == process.pid:
                url = f"http://127.0.0.1:{info['http_port']}"
                if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                    return Service(process, home, url, log)
        except (OSError, ValueError, httpx.HTTPError):
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"service did not come up: {log.read_text()}")


@pytest.fixture
def service(home: Path) -> Iterator[Service]:
    svc = start_service(home)
    yield svc
    svc.kill(signal.SIGTERM)
