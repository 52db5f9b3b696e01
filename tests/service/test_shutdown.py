"""Graceful shutdown under the monitor: SIGTERM mid-job stops everything cleanly."""

from __future__ import annotations

import io
import json
import signal
import sqlite3

from PIL import Image
from websockets.sync.client import connect

from tests.conftest import start_service
from tests.service.conftest import SLOW_FEEDER, MonitorProcess, alive


def test_sigterm_to_monitor_mid_job_interrupts_job_keeps_pages_checkpoints_index(
        monitored: MonitorProcess) -> None:
    pid, url = monitored.wait_serve()
    import httpx

    with httpx.Client(base_url=url, headers=monitored.auth, timeout=30) as http:
        job = http.post("/v1/jobs", json=SLOW_FEEDER).json()
    announced: list[str] = []
    events_url = "ws" + url.removeprefix("http") + f"/v1/jobs/{job['id']}/events"
    with connect(events_url, additional_headers=monitored.auth) as ws:
        while len(announced) < 2:
            event = json.loads(ws.recv(timeout=60))
            if event["type"] == "page":
                announced.append(event["page"]["id"])

    monitored.process.send_signal(signal.SIGTERM)
    assert monitored.process.wait(timeout=60) == 0  # a guard only
    assert not alive(pid)
    # Within its shutdown grace: serve ended on the SIGTERM, the monitor never had to kill it.
    assert f"serve (pid {pid}) stopped (killed by SIGTERM)" in monitored.log
    assert "did not stop within" not in monitored.log
    assert "crash report" not in monitored.log
    assert list((monitored.home / "dump").iterdir()) == []

    database = monitored.home / "cache" / "buffer.sqlite3"
    wal = database.with_name(database.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    with sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True) as conn:
        state, data = conn.execute("SELECT state, data FROM jobs WHERE id = ?",
                                   (job["id"],)).fetchone()
        (stored,) = conn.execute("SELECT COUNT(*) FROM pages WHERE job_id = ?",
                                 (job["id"],)).fetchone()
    conn.close()
    assert state == "interrupted" and json.loads(data)["state"] == "interrupted"
    assert stored >= len(announced)
    assert json.loads(data)["pages_stored"] == stored

    restarted = start_service(monitored.home)
    try:
        with restarted.client() as http:
            assert http.get(f"/v1/jobs/{job['id']}").json()["state"] == "interrupted"
            pages = http.get(f"/v1/documents/{job['document_id']}/pages").json()
            assert [p["id"] for p in pages][:len(announced)] == announced
            assert len(pages) == stored
            for page in pages:  # every stored page reads back whole
                image = http.get(f"/v1/pages/{page['id']}/image")
                assert image.status_code == 200
                with Image.open(io.BytesIO(image.content)) as im:
                    im.load()
                    assert im.size == (page["width"], page["height"])
    finally:
        restarted.kill(signal.SIGTERM)
