"""No secret reaches a log or a crash report (issue 14, item 5).

A real service at log level DEBUG gets one unique marker in every input that can carry a
secret: a presigned upload URL's query string (to a real receiving server), upload headers,
an FTP password, wrong site tokens and API keys, a wrong pairing secret, a compatibility
document password (at creation, in its headers and as a file password), the password of an
encrypted PDF it imports, a query string and a cookie on ordinary routes. A scan worker is then
killed with SIGSEGV, so a crash report (with the log's last lines) is written too. No file
under ``log/`` or ``dump/``, and nothing the service printed, may hold the marker.
"""

from __future__ import annotations

import http.server
import os
import re
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from scanlet.security.access import AccessStore
from tests.conftest import Service, make_home, start_service
from tests.helpers import job_events
from tests.importing.makers import encrypted, vector_pdf
from tests.security.test_access_http import FOREIGN
from tests.security.test_access_http import pair as pair_site
from tests.service.conftest import SLOW_FEEDER, reports
from tests.upload.test_ftp_upload import USER, FTPHandler, Server, run_ftp

#: In every planted secret; random so that nothing else can produce it.
MARK = "Zq" + secrets.token_hex(8)


class Receiver(http.server.BaseHTTPRequestHandler):
    """Takes PUT bodies on /put/..., answers 503 elsewhere (a failed upload, logged)."""

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200 if self.path.startswith("/put/") else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test's own server: quiet


@pytest.fixture
def receiver() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


@pytest.fixture
def ftp(tmp_path: Path) -> Iterator[Server]:
    yield from run_ftp(tmp_path / "ftp", FTPHandler)


def upload(service: Service, document: str, body: dict[str, Any]) -> dict[str, Any]:
    """Start an upload, wait for its end; the final task."""
    with service.client() as http:
        answer = http.post(f"/v1/documents/{document}/upload", json=body)
        assert answer.status_code == 202, answer.text
        task_id = answer.json()["id"]
        url = "ws" + service.url.removeprefix("http") + f"/v1/tasks/{task_id}/events"
        with connect(url, open_timeout=10, additional_headers=service.auth) as ws:
            for _ in ws:
                pass
        task: dict[str, Any] = http.get(f"/v1/tasks/{task_id}").json()
        return task


def plant_everywhere(service: Service, receiver: int, ftp: Server) -> list[str]:
    """Send the marker in every secret-bearing input; the other secrets seen on the way."""
    with service.client() as http:
        job = http.post("/v1/jobs", json={"device": "sane:test:0", "mode": "gray",
                                          "resolution": 50})
        assert job.status_code == 201, job.text
        events = job_events(service.url, job.json()["id"], headers=service.auth)
        assert events[-1]["job"]["state"] == "completed", events[-1]
        document = str(job.json()["document_id"])

    # presigned upload URLs: one that works, one the target refuses (logged as a failure)
    query = (f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA{MARK}%2Fs3"
             f"&X-Amz-Signature={MARK}&{MARK}")
    done = upload(service, document, {
        "url": f"http://127.0.0.1:{receiver}/put/scan.pdf?{query}", "method": "PUT",
        "headers": {"Authorization": f"Bearer {MARK}", "X-Api-Key": MARK}})
    assert done["state"] == "completed", done
    failed = upload(service, document, {
        "url": f"http://127.0.0.1:{receiver}/refused?{query}", "method": "PUT",
        "headers": {"Authorization": f"AWS4-HMAC-SHA256 Signature={MARK}"}})
    assert failed["state"] == "failed", failed
    # an FTP login the server refuses
    refused = upload(service, document, {
        "url": f"ftp://127.0.0.1:{ftp.port}/in/scan.pdf",
        "ftp": {"user": USER, "password": f"pw-{MARK}"}})
    assert refused["state"] == "failed", refused

    # wrong credentials, a query string and a cookie on ordinary routes
    url = service.url
    for headers in ({"Origin": FOREIGN, "Authorization": f"Bearer slt_{MARK}"},
                    {"Authorization": f"Bearer slk_{MARK}"},
                    {"Authorization": f"Bearer {MARK}"},
                    {"Authorization": f"Basic {MARK}"},
                    {"DWT-PRODUCT-KEY": f"slk_{MARK}"}):
        assert httpx.get(url + "/v1/devices", headers=headers, timeout=10).status_code == 401
    assert httpx.get(url + "/api/device/scanners", headers={"DWT-PRODUCT-KEY": f"slk_{MARK}"},
                     timeout=10).status_code == 403
    with service.client() as http:
        assert http.get(f"/v1/devices?X-Amz-Signature={MARK}&token={MARK}&{MARK}",
                        headers={"Cookie": f"session={MARK}; other={MARK}"}).status_code == 200
        assert http.get(f"/v1/nowhere?sig={MARK}").status_code == 404

    # an API key and a site token that work, and a wrong pairing secret
    store = AccessStore(service.home / "keys" / "access.sqlite3")
    try:
        robot, _ = store.create_key("robot", ["scan", "files"])
    finally:
        store.close()
    assert httpx.get(url + "/v1/devices", headers={"Authorization": f"Bearer {robot}"},
                     timeout=10).status_code == 200
    token = pair_site(service)["token"]
    assert httpx.get(url + "/v1/devices", timeout=10, headers={
        "Origin": FOREIGN, "Authorization": f"Bearer {token}"}).status_code == 200
    asked = httpx.post(url + "/v1/pair", json={"scopes": ["scan"], "app_name": "Logs"},
                       headers={"Origin": FOREIGN}, timeout=10).json()
    wrong = httpx.post(f"{url}/v1/pair/{asked['request_id']}/token",
                       json={"secret": f"{MARK}x"}, headers={"Origin": FOREIGN}, timeout=10)
    assert wrong.status_code >= 400

    # compatibility document passwords: at creation, in each header, as a file password
    storage = url + "/api/storage/documents"
    created = httpx.post(storage, json={"password": MARK[:16]}, timeout=30)
    assert created.status_code == 201, created.text
    uid = created.json()["uid"]
    for name in ("DWT-DOC-PASSWORD", "X-DICS-DOC-PASSWORD"):
        assert httpx.get(f"{storage}/{uid}", headers={name: MARK[:16]},
                         timeout=10).status_code == 200
        assert httpx.get(f"{storage}/{uid}", headers={name: MARK[::-1][:16]},
                         timeout=10).status_code == 403
    assert httpx.post(f"{storage}/{uid}/pages", json={"source": "nowhere"}, timeout=10,
                      headers={"DWT-SOURCE-PASSWORD": MARK[:16],
                               "DWT-DOC-PASSWORD": MARK[:16]}).status_code >= 400
    content = httpx.get(f"{storage}/{uid}/content", params={"password": MARK[:16]},
                        headers={"DWT-DOC-PASSWORD": MARK[:16]}, timeout=30)
    assert content.status_code in (200, 400), content.text

    # the password of an encrypted PDF, right and wrong
    pdf = encrypted(vector_pdf([(200.0, 300.0, b"0 0 m 100 100 l S")]), MARK)
    with service.client() as http:
        for password, ok in ((MARK, True), (MARK + "-wrong", False)):
            answer = http.post(f"/v1/documents/{document}/import", content=pdf,
                               headers={"Content-Type": "application/pdf",
                                        "X-PDF-Password": password})
            assert (answer.status_code < 300) is ok, answer.text
    return [robot, token, service.key, asked["secret"]]


def crash_a_worker(service: Service) -> Path:
    """Kill the device worker mid-scan with SIGSEGV: the service writes a crash report."""
    with service.client() as http:
        job = http.post("/v1/jobs", json=SLOW_FEEDER).json()
        url = "ws" + service.url.removeprefix("http") + f"/v1/jobs/{job['id']}/events"
        with connect(url, additional_headers=service.auth) as ws:
            while '"page"' not in str(ws.recv(timeout=60)):
                pass
        log = (service.home / "log" / "scanlet.log").read_text()
        pid = int(re.findall(r"worker sane:test:0 ready \(pid (\d+)", log)[-1])
        os.kill(pid, signal.SIGSEGV)
        final = job_events(service.url, job["id"], headers=service.auth)[-1]["job"]
        assert final["state"] == "failed"
    deadline = time.monotonic() + 20
    while not reports(service.home, "worker") and time.monotonic() < deadline:
        time.sleep(0.05)
    [report] = reports(service.home, "worker")
    return report


def test_no_planted_secret_reaches_a_log_or_a_crash_report(
        tmp_path: Path, receiver: int, ftp: Server) -> None:
    home = make_home(tmp_path / "home")
    with open(home / "user.ini", "a") as fh:
        fh.write(f"\n[log]\nlevel = DEBUG\n[upload]\ndev_targets = http://127.0.0.1:{receiver}, "
                 f"ftp://127.0.0.1:{ftp.port}\nretries = 0\n")
    service = start_service(home)
    try:
        others = plant_everywhere(service, receiver, ftp)
        report = crash_a_worker(service)
    finally:
        service.kill(signal.SIGTERM)
    log_text = (home / "log" / "scanlet.log").read_text(encoding="utf-8")
    # the inputs did reach the log, without their secrets
    assert f"upload to http://127.0.0.1:{receiver}/put/scan.pdf" in log_text
    assert f"upload to ftp://127.0.0.1:{ftp.port}/in/scan.pdf" in log_text
    assert "GET /v1/devices?X-Amz-Signature=***&token=***&***= 200" in log_text
    assert f"{MARK[:6]}" not in report.read_text(encoding="utf-8")
    files = [p for folder in ("log", "dump") for p in (home / folder).rglob("*") if p.is_file()]
    assert any(p.parent.name == "dump" for p in files)
    files.append(service.log)  # everything the service printed (stdout and stderr)
    leaks = []
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        for secret in (MARK, MARK[:16], MARK[::-1][:16], *others):
            if secret in text:
                line = next(line for line in text.splitlines() if secret in line)
                leaks.append(f"{path.relative_to(tmp_path)}: {line[:300]}")
    assert not leaks, "\n".join(leaks)
