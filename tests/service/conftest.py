"""Real processes for the monitor tests: ``scanlet service run`` over a demo home.

Every test starts its own monitor and cleans up in a ``finally``: SIGTERM to the monitor, then
SIGKILL to the monitor and to every ``serve`` it was seen running (only pids whose parent is
that monitor).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

MONITOR_INI = """\
[devices]
demo_system_backends = false
worker_idle_timeout = 30
worker_progress_timeout = 20

[monitor]
health_interval = 0.2
hang_timeout = 1.5
start_timeout = 20
backoff_max = 1
"""

#: A4 at 75 dpi with a delay per block: about 0.6 s a page, slow enough to act mid-batch.
SLOW_FEEDER = {"device": "sane:test:0", "source": "feeder", "mode": "color", "resolution": 75,
               "paper_size": "A4", "pages": "all",
               "raw_options": {"test_picture": "Color pattern", "read_delay": True,
                               "read_delay_duration": 20000}}


def make_monitor_home(path: Path, extra: str = "") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "user.ini").write_text(MONITOR_INI + extra)
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ValueError, IndexError):
        return None


@dataclass
class MonitorProcess:
    """A running ``scanlet service run``."""

    process: subprocess.Popen[bytes]
    home: Path
    output: Path
    serve_pids: set[int] = field(default_factory=set)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log(self) -> str:
        path = self.home / "log" / "monitor.log"
        return path.read_text() if path.exists() else ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {(self.home / 'keys' / 'cli.key').read_text().strip()}"}

    def wait_serve(self, *, other_than: int | None = None, timeout: float = 30
                   ) -> tuple[int, str]:
        """(pid, url) of a ``serve`` child that answers /v1/health (not ``other_than``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"monitor exited: {self.output.read_text()}"
            with contextlib.suppress(OSError, ValueError, KeyError, httpx.HTTPError):
                info = json.loads((self.home / "port.lock").read_text())
                pid = int(info["pid"])
                if pid != other_than and info.get("http_port") and parent_of(pid) == self.pid:
                    self.serve_pids.add(pid)
                    url = f"http://127.0.0.1:{info['http_port']}"
                    if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                        return pid, url
            time.sleep(0.05)
        raise AssertionError(f"no serve answered within {timeout} s:\n{self.log}")

    def wait_log(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log:
                return
            assert self.process.poll() is None, f"monitor exited: {self.output.read_text()}"
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not logged within {timeout} s:\n{self.log}")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM the monitor and wait for it."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def cleanup(self) -> None:
        """Whatever happened: no monitor, serve or worker of this test keeps running."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.stop(timeout=20)
        for pid in self.serve_pids:  # only serves this monitor started
            if alive(pid) and parent_of(pid) == self.pid:
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for pid in self.serve_pids:
            deadline = time.monotonic() + 10
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)


def start_monitor(home: Path, *extra: str) -> MonitorProcess:
    output = home / "monitor-output.log"
    with open(output, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "scanlet", "service", "run", "--home", str(home), "--demo",
             "--port", "0", *extra],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return MonitorProcess(process, home, output)


@pytest.fixture
def monitored(tmp_path: Path) -> Iterator[MonitorProcess]:
    monitor = start_monitor(make_monitor_home(tmp_path / "home"))
    try:
        yield monitor
    finally:
        monitor.cleanup()


def reports(home: Path, process: str = "") -> list[Path]:
    return sorted((home / "dump").glob(f"crash-*-{process}*.txt"))
