"""``scanlet service run`` with real processes: kill -9, SIGSTOP, crash loops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers import job_events
from tests.service.conftest import (
    MonitorProcess,
    alive,
    cpu_seconds,
    make_monitor_home,
    reports,
    start_monitor,
)


def _log_order(log: str, *texts: str) -> bool:
    """The monitor.log lines containing ``texts`` come in this order, each once; else an
    AssertionError showing the log."""
    lines = log.splitlines()
    found = []
    for text in texts:
        where = [i for i, line in enumerate(lines) if text in line]
        assert len(where) == 1, (text, log)
        found.append(where[0])
    assert found == sorted(found), (texts, log)
    return True


FAST_FEEDER = {"device": "sane:test:0", "source": "feeder", "mode": "color", "resolution": 75,
               "paper_size": "A4", "pages": 2}


def test_kill_9_serve_is_restarted_quickly_with_buffer_intact(
        monitored: MonitorProcess) -> None:
    pid, url = monitored.wait_serve()
    with httpx.Client(base_url=url, headers=monitored.auth, timeout=30) as http:
        job = http.post("/v1/jobs", json=FAST_FEEDER).json()
        final = job_events(url, job["id"], headers=monitored.auth)[-1]["job"]
        assert final["state"] == "completed" and final["pages_stored"] == 2
        pages = http.get(f"/v1/documents/{job['document_id']}/pages").json()
        images = [http.get(f"/v1/pages/{p['id']}/image").content for p in pages]

    os.kill(pid, signal.SIGKILL)
    new_pid, new_url = monitored.wait_serve(other_than=pid, timeout=60)  # a guard only
    # Quickly: the monitor saw the kill, chose its first back-off (0.5 s) and started a new
    # serve, in that order. How long that took on the clock depends on the machine's load.
    assert _log_order(monitored.log, f"serve (pid {pid}) killed by SIGKILL",
                      "restarting serve in 0.5 s", f"started serve (pid {new_pid},")

    with httpx.Client(base_url=new_url, headers=monitored.auth, timeout=30) as http:
        again = http.get(f"/v1/documents/{job['document_id']}/pages").json()
        assert [p["id"] for p in again] == [p["id"] for p in pages]
        assert [http.get(f"/v1/pages/{p['id']}/image").content for p in again] == images
    [report] = reports(monitored.home, "serve")
    text = report.read_text()
    assert f"pid: {pid}\n" in text and "signal: SIGKILL" in text and "scanlet: " in text
    assert "python: " in text and "sane: " in text
    assert "slk_" not in text  # never the CLI key

    # One monitor per home: a second one names the first and exits 5.
    second = subprocess.run(
        [sys.executable, "-m", "scanlet", "service", "run", "--home", str(monitored.home),
         "--demo", "--port", "0"], capture_output=True, text=True, timeout=60)
    assert second.returncode == 5
    assert f"monitor already runs for this home (pid {monitored.pid})" in \
        " ".join(second.stderr.split())
    assert alive(new_pid)

    assert monitored.stop() == 0
    assert not alive(new_pid)


def test_stopped_serve_is_detected_as_hung_dumped_killed_and_restarted(
        monitored: MonitorProcess) -> None:
    pid, _ = monitored.wait_serve()
    monitored.wait_log(f"serve (pid {pid}) answers on")  # else start_timeout applies
    os.kill(pid, signal.SIGSTOP)
    new_pid, _ = monitored.wait_serve(other_than=pid, timeout=20)
    assert not alive(pid)
    assert f"serve (pid {pid}) hangs: no answer to /v1/health" in monitored.log
    [report] = reports(monitored.home, "serve")
    text = report.read_text()
    assert "reason: hung (no answer to /v1/health" in text and "signal: SIGKILL" in text
    # A hung (running) serve gets SIGUSR1 first for its tracebacks; a stopped one cannot
    # run the handler, and the report says so.
    assert "tracebacks: none: the process was stopped" in text
    assert monitored.stop() == 0
    assert not alive(new_pid)


def test_crash_loop_backs_off_logs_once_costs_no_cpu_and_doctor_says_why(
        tmp_path: Path) -> None:
    home = make_monitor_home(tmp_path / "home")
    ini = (home / "user.ini").read_text().replace("backoff_max = 1\n", "backoff_max = 0.5\n")
    (home / "user.ini").write_text(ini + "crash_loop_restarts = 3\ncrash_loop_window = 60\n"
                                   "crash_loop_pause = 60\n\n[limits]\nmax_body_kb = lots\n")
    monitor = start_monitor(home)
    try:
        monitor.wait_log("monitor started")
        started_cpu = cpu_seconds(monitor.pid)
        monitor.wait_log("crash loop:", timeout=40)
        in_loop_cpu = cpu_seconds(monitor.pid)
        time.sleep(1.0)  # restarts are paused: the monitor must sleep, not spin
        paused_cpu = cpu_seconds(monitor.pid)

        lines = [line for line in monitor.log.splitlines() if "crash loop:" in line]
        assert len(lines) == 1, monitor.log
        assert " ERROR " in lines[0]
        assert "serve exited 3 times" in lines[0] and "exited with status 4" in lines[0]
        assert "not restarting for 60 s" in lines[0] and "dump/crash-" in lines[0]
        assert monitor.log.count("started serve (pid") == 3
        serve_reports = reports(home, "serve")
        assert len(serve_reports) == 3
        assert "max_body_kb" in serve_reports[-1].read_text()

        assert in_loop_cpu - started_cpu < 1.0, (started_cpu, in_loop_cpu)
        assert paused_cpu - in_loop_cpu < 0.1, (in_loop_cpu, paused_cpu)

        doctor = subprocess.run([sys.executable, "-m", "scanlet", "doctor", "--home", str(home)],
                                capture_output=True, text=True, timeout=120)
        screen = " ".join(doctor.stdout.split())
        assert doctor.returncode == 1, doctor.stdout + doctor.stderr
        assert "FAIL crash loop: serve exited 3 times" in screen
        assert "FAIL " in screen and "max_body_kb = 'lots' is invalid" in screen
        assert "exited with status 4" in screen  # the latest crash reports

        # SIGTERM ends the 60 s pause at once (a monitor that slept it out would make stop()
        # raise TimeoutExpired: 30 s is a guard, far from both).
        assert monitor.stop(timeout=30) == 0
        assert '"state": "stopped"' in (home / "monitor.json").read_text()
    finally:
        monitor.cleanup()
