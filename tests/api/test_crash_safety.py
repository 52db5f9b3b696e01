"""Crash safety with real processes: kill -9 the service or the scan worker mid-job."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
from pathlib import Path

import psutil
from PIL import Image
from websockets.sync.client import connect

from tests.conftest import Service, make_home, start_service
from tests.helpers import job_events

SLOW_FEEDER = {"device": "sane:test:0", "source": "feeder", "mode": "color", "resolution": 75,
               "paper_size": "A4", "pages": "all",
               "raw_options": {"test_picture": "Color pattern", "read_delay": True,
                               "read_delay_duration": 20000}}


def _wait_pages(service: Service, job_id: str, count: int) -> list[str]:
    """Page ids announced over the WebSocket, once ``count`` pages have been announced."""
    url = "ws" + service.url.removeprefix("http") + f"/v1/jobs/{job_id}/events"
    announced: list[str] = []
    with connect(url, additional_headers=service.auth) as ws:
        while len(announced) < count:
            event = json.loads(ws.recv(timeout=60))
            if event["type"] == "page":
                announced.append(event["page"]["id"])
            assert not (event["type"] == "job" and event["job"]["state"] == "completed")
    return announced


def _worker_pids(service: Service) -> list[int]:
    return [c.pid for c in psutil.Process(service.process.pid).children(recursive=True)
            if "scanlet.devices.worker" in " ".join(c.cmdline())]


def test_kill_9_service_mid_job_keeps_announced_pages(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    service = start_service(home)
    try:
        with service.client() as http:
            job = http.post("/v1/jobs", json=SLOW_FEEDER).json()
        announced = _wait_pages(service, job["id"], 3)
        workers = _worker_pids(service)
        service.kill(signal.SIGKILL)
    finally:
        service.kill()
    for pid in workers:  # the worker dies with its parent
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).wait(timeout=10)

    restarted = start_service(home)
    try:
        with restarted.client() as http:
            status = http.get(f"/v1/jobs/{job['id']}").json()
            assert status["state"] == "interrupted"
            listed = http.get(f"/v1/documents/{job['document_id']}/pages").json()
            ids = [p["id"] for p in listed]
            assert ids[: len(announced)] == announced
            assert len(ids) >= len(announced)
            assert status["pages_stored"] == len(ids)
            for page in listed:  # no half-written page is listed: every one decodes fully
                image = http.get(f"/v1/pages/{page['id']}/image")
                assert image.status_code == 200
                with Image.open(io.BytesIO(image.content)) as im:
                    im.load()
                    assert im.size == (page["width"], page["height"])
            events = job_events(restarted.url, job["id"], headers=restarted.auth)
            assert events[-1]["job"]["state"] == "interrupted"
        leftovers = [p for p in (home / "cache").rglob("*") if p.name.endswith(".part")]
        assert leftovers == []
    finally:
        restarted.kill(signal.SIGTERM)


def test_killed_worker_fails_job_with_driver_crashed_and_next_job_works(
        service: Service) -> None:
    with service.client() as http:
        job = http.post("/v1/jobs", json=SLOW_FEEDER).json()
        _wait_pages(service, job["id"], 1)
        workers = _worker_pids(service)
        assert workers
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        events = job_events(service.url, job["id"], headers=service.auth)
        final = events[-1]["job"]
        assert final["state"] == "failed"
        assert final["error"]["code"] == "driver_crashed"
        kept = http.get(f"/v1/documents/{job['document_id']}/pages").json()
        assert len(kept) == final["pages_stored"] >= 1

        assert http.get("/v1/health").json()["status"] == "ok"
        second = http.post("/v1/jobs", json={**SLOW_FEEDER, "pages": 2, "raw_options": {}})
        assert second.status_code == 201
        done = job_events(service.url, second.json()["id"], headers=service.auth)[-1]["job"]
        assert done["state"] == "completed" and done["pages_stored"] == 2
        assert set(_worker_pids(service)).isdisjoint(workers)


def test_second_serve_on_same_home_names_running_instance(service: Service) -> None:
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "scanlet", "serve", "--demo", "--home", str(service.home),
         "--port", "0"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    text = " ".join((result.stdout + result.stderr).split())
    assert "already_running" in text
    assert f"pid {service.process.pid}" in text
    assert service.url.rsplit(":", 1)[1] in text


def test_bad_config_value_names_file_key_and_form(home: Path) -> None:
    import sys

    (home / "user.ini").write_text("[server]\nport = eighty\n")
    result = subprocess.run(
        [sys.executable, "-m", "scanlet", "serve", "--home", str(home)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 4
    text = " ".join((result.stdout + result.stderr).split())
    assert "user.ini" in text and "port" in text and "integer 0-65535" in text
