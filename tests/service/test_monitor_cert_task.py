"""Who runs the periodic certificate task: the monitor under ``scanlet service run``, ``serve``
when it runs alone (real processes, real NSS databases in a throw-away user home).

The task is seen at work in two ways:

- ``trusted the local CA in nss:<db>`` (INFO) when it adds the CA to a browser profile that
  appeared after ``scanlet cert install``;
- ``certificate check: cannot add the CA to <db>`` (WARNING) in *every* round, because the user
  home also holds a broken profile (a ``cert9.db`` that is not a database). Unlike the first
  line, which only the process that wins the race for a new profile writes, this one shows
  whether a process runs rounds at all, so ``serve`` running the task next to the monitor could
  not go unnoticed.

Under the monitor, ``serve --monitored`` has HTTPS on, so it runs its ``_CertificateWatch``
(reload of a renewed certificate), never the task itself.
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
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from scanlet.security.truststore import NssTool
from tests.service.conftest import MonitorProcess, alive, make_monitor_home, parent_of

pytestmark = [
    pytest.mark.skipif(not NssTool.available(), reason="certutil (libnss3-tools) missing"),
    pytest.mark.timeout(120),
]

#: HTTPS on (so a monitored serve runs its certificate watch); a round every ~1.1 s.
CERT_INI = """
[server]
https = true
https_port = 0

[tls]
check_hours = 0.0003
"""

TRUSTED = "trusted the local CA in"
ROUND = "certificate check: cannot add the CA to"


@dataclass
class Setup:
    home: Path  # Scanlet's home
    user: Path  # the fake user home (HOME of every process)
    chromium: Path
    broken: Path
    nickname: str

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, "HOME": str(self.user)}
        env.pop("SCANLET_HOME", None)
        return env

    @property
    def serve_log(self) -> Path:
        return self.home / "log" / "scanlet.log"

    @property
    def monitor_log(self) -> Path:
        return self.home / "log" / "monitor.log"


def nicknames(db: Path) -> list[str]:
    out = subprocess.run(["certutil", "-L", "-d", f"sql:{db}"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return [line.rsplit(None, 1)[0].strip() for line in out.splitlines()[4:]
            if line.startswith("Scanlet local CA")]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def wait_for(path: Path, text: str, process: subprocess.Popen[bytes], *, after: str = "",
             count: int = 1, timeout: float = 20) -> None:
    """Until ``text`` appears ``count`` times in ``path`` (counted after ``after``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = read(path)
        if after:
            log = log.split(after, 1)[1] if after in log else ""
        if log.count(text) >= count:
            return
        assert process.poll() is None, f"process exited {process.returncode}:\n{log}"
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not logged {count}x within {timeout} s:\n{read(path)}")


def new_profile(setup: Setup, name: str) -> Path:
    """A Firefox profile with an NSS database, appearing at once: built aside, then moved in
    (a round must never see a half-created database)."""
    staging = setup.user / "staging" / name
    NssTool().create_db(staging)
    profile = setup.user / ".mozilla" / "firefox" / name
    os.rename(staging, profile)
    return profile


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    """A home with CERT_INI, a user home whose Chromium db got the CA from
    ``scanlet cert install``, and a broken Firefox profile that appeared afterwards."""
    home = make_monitor_home(tmp_path / "home", CERT_INI)
    user = tmp_path / "user"
    chromium = user / ".pki" / "nssdb"
    NssTool().create_db(chromium)
    (user / ".mozilla" / "firefox").mkdir(parents=True)
    partial = Setup(home, user, chromium, user / ".mozilla" / "firefox" / "broken.default", "")
    result = subprocess.run([sys.executable, "-m", "scanlet", "cert", "install", "--home",
                             str(home)], capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL, env=partial.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"nss:{chromium}" in result.stdout
    assert json.loads((home / "cert" / "trust.json").read_text())["user_home"] == str(user)
    [nickname] = nicknames(chromium)
    partial.broken.mkdir()
    (partial.broken / "cert9.db").write_bytes(b"not an NSS database\n" * 200)
    return Setup(home, user, chromium, partial.broken, nickname)


def test_under_the_monitor_the_monitor_runs_the_certificate_task(setup: Setup) -> None:
    output = setup.home / "monitor-output.log"
    with open(output, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "scanlet", "service", "run", "--home", str(setup.home),
             "--demo", "--port", "0"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=setup.env)
    monitor = MonitorProcess(process, setup.home, output)
    try:
        serve_pid, _ = monitor.wait_serve(timeout=30)
        info = json.loads((setup.home / "port.lock").read_text())
        assert info["https_port"], info  # serve has HTTPS: it runs the certificate watch
        # Rounds run in the monitor while serve answers.
        wait_for(setup.monitor_log, f"{ROUND} {setup.broken}", process, count=2)

        late = new_profile(setup, "late.default")
        wait_for(setup.monitor_log, f"{TRUSTED} nss:{late}", process)
        assert nicknames(late) == [setup.nickname]
        assert nicknames(setup.chromium) == [setup.nickname]
        # Two more rounds: time enough for serve to have run rounds too, had it the task.
        wait_for(setup.monitor_log, f"{ROUND} {setup.broken}", process,
                 after=f"{TRUSTED} nss:{late}", count=2)

        assert alive(serve_pid) and parent_of(serve_pid) == monitor.pid
        assert f"started serve (pid {serve_pid}, start 1)" in monitor.log  # never restarted
        serve_log = read(setup.serve_log)
        assert "serving on" in serve_log and "https://" in serve_log, serve_log
        assert TRUSTED not in serve_log, serve_log
        assert "certificate check" not in serve_log, serve_log
        assert monitor.log.count(f"{TRUSTED} ") == 1, monitor.log

        assert monitor.stop() == 0
        assert not alive(serve_pid)
    finally:
        monitor.cleanup()


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    output: Path

    def wait_ready(self, home: Path, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"serve exited: {read(self.output)}"
            with contextlib.suppress(OSError, ValueError, KeyError, httpx.HTTPError):
                info = json.loads((home / "port.lock").read_text())
                if info.get("pid") == self.process.pid and info.get("http_port"):
                    url = f"http://127.0.0.1:{info['http_port']}"
                    if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                        return url
            time.sleep(0.05)
        raise AssertionError(f"serve did not answer within {timeout} s: {read(self.output)}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end; only this test's own process."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def serve_alone(setup: Setup) -> Iterator[ServeProcess]:
    output = setup.home / "serve-output.log"
    with open(output, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "scanlet", "serve", "--home", str(setup.home), "--demo",
             "--port", "0"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=setup.env)
    serve = ServeProcess(process, output)
    try:
        yield serve
    finally:
        serve.stop()


def test_serve_alone_runs_the_certificate_task(setup: Setup, serve_alone: ServeProcess) -> None:
    """The counterpart: the same home and user without the monitor, and serve's own log
    shows the task's lines (the assertions of the test above can fail)."""
    serve_alone.wait_ready(setup.home)
    process = serve_alone.process
    wait_for(setup.serve_log, f"{ROUND} {setup.broken}", process, count=2)

    late = new_profile(setup, "late.default")
    wait_for(setup.serve_log, f"{TRUSTED} nss:{late}", process)
    assert nicknames(late) == [setup.nickname]
    assert read(setup.serve_log).count(f"{TRUSTED} ") == 1
    assert not setup.monitor_log.exists()
