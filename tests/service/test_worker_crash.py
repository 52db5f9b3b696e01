"""A scan worker killed with SIGSEGV mid-job: a clean job failure and a crash report."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import psutil
from websockets.sync.client import connect

from tests.conftest import Service, make_home, start_service
from tests.helpers import job_events
from tests.service.conftest import SLOW_FEEDER, reports


def _worker_pids(service: Service) -> list[int]:
    return [c.pid for c in psutil.Process(service.process.pid).children(recursive=True)
            if "scanlet.devices.worker" in " ".join(c.cmdline())]


def _device_worker(service: Service, device: str) -> int:
    """The pid of ``device``'s worker (not the listing one), from the service log."""
    log = (service.home / "log" / "scanlet.log").read_text()
    [pid] = re.findall(rf"worker {re.escape(device)} ready \(pid (\d+)", log)
    assert int(pid) in _worker_pids(service)
    return int(pid)


def _wait_first_page(service: Service, job_id: str) -> None:
    url = "ws" + service.url.removeprefix("http") + f"/v1/jobs/{job_id}/events"
    with connect(url, additional_headers=service.auth) as ws:
        while json.loads(ws.recv(timeout=60))["type"] != "page":
            pass


def test_worker_sigsegv_fails_job_with_driver_crashed_writes_report_next_job_works(
        tmp_path: Path) -> None:
    service = start_service(make_home(tmp_path / "home"))
    try:
        with service.client() as http:
            job = http.post("/v1/jobs", json=SLOW_FEEDER).json()
            _wait_first_page(service, job["id"])
            worker = _device_worker(service, "sane:test:0")
            os.kill(worker, signal.SIGSEGV)
            final = job_events(service.url, job["id"], headers=service.auth)[-1]["job"]
            assert final["state"] == "failed"
            assert final["error"]["code"] == "driver_crashed"
            assert final["error"]["detail"]["signal"] == "SIGSEGV"
            kept = http.get(f"/v1/documents/{job['document_id']}/pages").json()
            assert len(kept) == final["pages_stored"] >= 1

            deadline = time.monotonic() + 10
            while not reports(service.home, "worker") and time.monotonic() < deadline:
                time.sleep(0.05)
            [report] = reports(service.home, "worker")
            text = report.read_text()
            assert f"pid: {worker}\n" in text and "device: sane:test:0" in text
            assert "signal: SIGSEGV" in text and "exit_code: -11" in text
            assert "summary: Fatal Python error: Segmentation fault" in text
            assert "most recent call first" in text  # every thread's stack
            assert f"id={job['id']}" in text  # the job that was running
            assert "sane: libsane " in text and "scanlet: " in text
            assert service.key not in text and "slk_" not in text
            assert oct(report.stat().st_mode & 0o777) == "0o600"

            second = http.post("/v1/jobs", json={**SLOW_FEEDER, "pages": 2, "raw_options": {}})
            assert second.status_code == 201
            done = job_events(service.url, second.json()["id"], headers=service.auth)[-1]["job"]
            assert done["state"] == "completed" and done["pages_stored"] == 2
            assert worker not in _worker_pids(service)
    finally:
        service.kill(signal.SIGTERM)
