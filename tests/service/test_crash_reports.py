"""Crash report files (core/crash.py) and the monitor's tolerant config, in-process."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from scanlet.config import Home, Settings
from scanlet.core import crash
from scanlet.core.logs import MASK
from scanlet.service.monitor import load_monitor_settings
from tests.conftest import make_home, start_service


def _info(n: int, **extra: object) -> crash.CrashInfo:
    when = dt.datetime(2024, 5, 1, 12, 0, n, tzinfo=dt.UTC)
    return crash.CrashInfo(process="serve", reason="killed by SIGSEGV", pid=100 + n,
                           signal="SIGSEGV", exit_code=-11, time=when, sane="libsane 1.2.3",
                           **extra)  # type: ignore[arg-type]


def test_reports_rotate_and_their_header_reads_back(tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    for n in range(5):
        crash.write_report(dump, _info(n, faults=f"Fatal Python error: Segmentation fault\n\n"
                                               f"Current thread 0x{n:x}:"), keep=3)
    files = crash.report_files(dump)
    assert [f.name for f in files] == [f"crash-20240501T12000{n}.000Z-serve-{100 + n}.txt"
                                       for n in (4, 3, 2)]
    [latest, *_] = crash.latest_reports(dump)
    assert latest.process == "serve" and latest.reason == "killed by SIGSEGV"
    assert latest.time == "2024-05-01T12:00:04.000Z"
    assert latest.summary == "Fatal Python error: Segmentation fault"
    assert latest.fields["sane"] == "libsane 1.2.3" and latest.fields["pid"] == "104"
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"


def test_reports_never_carry_keys_or_tokens(tmp_path: Path) -> None:
    log = tmp_path / "scanlet.log"
    log.write_text("GET /v1/jobs?token=abc123 200\nAuthorization: Bearer eyJhbGciOi.x.y\n"
                   "created key slk_0123456789abcdefghijkl for the CLI\n")
    path = crash.write_report(tmp_path / "dump", _info(1, output=[
        "site token slt_ZZZZZZZZZZZZZZZZZZZZ paired", 'config {"api_key": "s3cr3t"}']),
        log_file=log)
    text = path.read_text()
    for secret in ("abc123", "eyJhbGciOi", "slk_0123456789", "slt_ZZZZ", "s3cr3t"):
        assert secret not in text
    assert text.count(MASK) >= 5  # the same masking as the logs (core/logs.py)


def test_report_details_and_jobs_are_masked_too(tmp_path: Path) -> None:
    """Issue 14, item 5: the header's details and the jobs' lines went out unmasked."""
    path = crash.write_report(tmp_path / "dump", _info(
        2, details={"upload": "https://s3.example/x.pdf?X-Amz-Signature=sig0123456789",
                    "auth": "Bearer not-a-real-token-42"},
        jobs=[{"id": "j1", "state": "running", "device": "ftp://u:pw-secret-77@host/x"}]))
    text = path.read_text()
    for secret in ("sig0123456789", "not-a-real-token-42", "pw-secret-77"):
        assert secret not in text
    assert "upload: https://s3.example/x.pdf?X-Amz-Signature=***" in text
    assert "id=j1, state=running" in text


def test_stale_tracebacks_of_a_lone_serve_become_a_report_at_its_next_start(
        tmp_path: Path) -> None:
    log, dump = tmp_path / "log", tmp_path / "dump"
    log.mkdir()
    crash.fault_file(log).write_text("# serve pid 4242 started 2024-05-01T12:00:00Z\n"
                                     "Fatal Python error: Segmentation fault\n\n"
                                     "Current thread 0x1 (most recent call first):\n")
    code = textwrap.dedent(f"""
        from pathlib import Path
        from scanlet.core import crash
        crash.enable_faulthandler(Path({str(log)!r}), Path({str(dump)!r}))
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    [report] = crash.latest_reports(dump)
    assert report.fields["pid"] == "4242"
    assert report.summary == "Fatal Python error: Segmentation fault"
    assert crash.fault_file(log).read_text().startswith("# serve pid ")
    assert crash.take_faults(log) == ""  # the new run's file holds only its header


def test_monitor_keeps_its_valid_keys_when_the_config_is_bad(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").create()
    home.service_config.write_text("[monitor]\nhang_timeout = 7\n[server]\nport = 80x\n")
    home.user_config.write_text("[monitor]\nbackoff_max = soon\ncrash_loop_pause = 9\n"
                                "[dump]\nkeep = 3\n")
    settings, problem = load_monitor_settings(home)
    assert problem is not None and "port" in problem.message
    assert settings.monitor_hang_timeout == 7 and settings.monitor_crash_loop_pause == 9
    assert settings.dump_keep == 3
    assert settings.monitor_backoff_max == Settings().monitor_backoff_max

    home.user_config.write_text("[monitor\nbroken")
    home.service_config.write_text("")
    settings, problem = load_monitor_settings(home)
    assert problem is not None and settings == Settings()


def test_sigusr1_makes_serve_write_every_thread_stack_and_go_on(tmp_path: Path) -> None:
    service = start_service(make_home(tmp_path / "home"))
    try:
        faults = crash.fault_file(service.home / "log")
        os.kill(service.process.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while "in serve" not in faults.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        text = faults.read_text()
        assert text.startswith(f"# serve pid {service.process.pid} started ")
        assert "most recent call first" in text and "in serve" in text  # the main thread's
        assert httpx.get(service.url + "/v1/health", timeout=10).status_code == 200
    finally:
        service.kill(signal.SIGTERM)
