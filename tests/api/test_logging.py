"""The service log seen from outside: request lines, JSON format, the run-time level (service
and scan workers), admin-only access, the CLI, and no secrets or page bytes in the file."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from tests.conftest import Service, make_home, start_service
from tests.helpers import assert_problem, consent_form, job_events

FOREIGN = "http://127.0.0.1:5555"
SMALL_SCAN = {"device": "sane:test:0", "mode": "color", "resolution": 75}


def log_text(service: Service) -> str:
    return (service.home / "log" / "scanlet.log").read_text(encoding="utf-8")


def wait_for(check: Callable[[], Any], timeout: float = 15) -> Any:
    """Poll until ``check()`` is truthy (log lines are written just after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def configured(tmp_path: Path, text: str) -> Service:
    home = make_home(tmp_path / "home")
    with open(home / "user.ini", "a") as fh:
        fh.write("\n" + text.strip() + "\n")
    return start_service(home)


def scan(service: Service, headers: dict[str, str]) -> dict[str, Any]:
    answer = httpx.post(service.url + "/v1/jobs", json=SMALL_SCAN, headers=headers, timeout=30)
    assert answer.status_code == 201, answer.text
    job: dict[str, Any] = answer.json()
    events = job_events(service.url, job["id"], headers=headers)
    assert events[-1]["job"]["state"] == "completed", events[-1]
    return job


def access_records(service: Service) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in log_text(service).splitlines()]
    return [r for r in records if r["logger"] == "scanlet.access"]


def test_one_json_line_per_request_and_websocket(tmp_path: Path) -> None:
    service = configured(tmp_path, "[log]\nformat = json")
    try:
        with service.client() as http:
            assert http.get("/v1/devices").status_code == 200
            assert http.get("/v1/nope", params={"token": "slt_querytoken"}).status_code == 404
            assert http.get("/v1/admin/log").status_code == 200
        assert httpx.get(service.url + "/v1/devices").status_code == 401
        url = "ws" + service.url.removeprefix("http") + "/v1/session"
        with connect(url, additional_headers=service.auth, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "session"
        refused = "ws" + service.url.removeprefix("http") + "/v1/session"
        with pytest.raises(InvalidStatus), connect(refused, open_timeout=10):
            pass

        def seen() -> list[dict[str, Any]]:
            records = access_records(service)
            return records if sum(r["method"] == "WS" for r in records) == 2 else []

        records = wait_for(seen)
        assert records, log_text(service)
        # every line of the file is a JSON object with the common fields
        for line in log_text(service).splitlines():
            record = json.loads(line)
            assert {"time", "level", "logger", "message"} <= set(record)
        by = {(r["method"], r["path"], r["status"]): r for r in records}
        devices = by[("GET", "/v1/devices", 200)]
        assert devices["client"].startswith("key:") and devices["level"] == "INFO"
        assert isinstance(devices["duration_ms"], float) and devices["duration_ms"] >= 0
        assert devices["message"].startswith("GET /v1/devices 200 ")
        assert devices["bytes"] > 0
        refused_http = by[("GET", "/v1/devices", 401)]
        assert refused_http["client"].startswith("127.0.0.1:")
        assert ("GET", "/v1/nope?token=***", 404) in by
        assert ("GET", "/v1/admin/log", 200) in by
        ws_line = by[("WS", "/v1/session", 101)]
        assert ws_line["close_code"] == 1000 and ws_line["client"].startswith("key:")
        assert by[("WS", "/v1/session", 403)]["client"].startswith("127.0.0.1:")
        assert not [r for r in records if r["path"] == "/v1/health"]  # DEBUG: monitor polls
        # exactly one line per request
        assert sum(r["path"] == "/v1/devices" for r in records) == 2
    finally:
        service.kill()


def test_request_lines_can_be_turned_off(tmp_path: Path) -> None:
    service = configured(tmp_path, "[log]\nrequests = false")
    try:
        with service.client() as http:
            assert http.get("/v1/devices").status_code == 200
            assert http.put("/v1/admin/log", json={"level": "INFO"}).status_code == 200
        assert wait_for(lambda: "log level changed" in log_text(service))
        assert "scanlet.access" not in log_text(service)
    finally:
        service.kill()


def test_level_changes_at_run_time_in_the_service_and_its_workers(service: Service) -> None:
    with service.client() as http:
        shown = http.get("/v1/admin/log").json()
        assert shown["level"] == shown["configured_level"] == "INFO"
        assert shown["format"] == "text" and shown["requests"] is True
        assert shown["file"] == str(service.home / "log" / "scanlet.log")
        assert (shown["max_mb"], shown["backups"]) == (5, 5)

        scan(service, service.auth)
        ready = wait_for(lambda: re.search(r"worker sane:test:0 ready \(pid (\d+)",
                                           log_text(service)))
        assert ready, log_text(service)
        pid = ready.group(1)
        assert "page 1 read in" not in log_text(service)
        assert " DEBUG " not in log_text(service)

        changed = http.put("/v1/admin/log", json={"level": "debug"})
        assert changed.status_code == 200 and changed.json()["level"] == "DEBUG"
        assert http.get("/v1/admin/log").json()["configured_level"] == "INFO"
        # the running worker got the new level without a restart
        assert wait_for(lambda: f"[sane:test:0 {pid}] __main__: log level is now "
                        "DEBUG" in log_text(service)), log_text(service)
        scan(service, service.auth)
        assert wait_for(lambda: re.search(
            rf" DEBUG scanlet\.worker: \[sane:test:0 {pid}\] scanlet\.devices\.sane_driver: "
            r"page 1 read in \d+ ms", log_text(service))), log_text(service)

        assert http.put("/v1/admin/log", json={"level": "WARNING"}).json()["level"] == "WARNING"
        mark = len(log_text(service))
        assert http.get("/v1/devices").status_code == 200
        scan(service, service.auth)
        assert http.put("/v1/admin/log", json={"level": "INFO"}).status_code == 200
        assert wait_for(lambda: "PUT /v1/admin/log 200" in log_text(service)[mark:])
        quiet = log_text(service)[mark:].split("log level changed from WARNING to INFO")[0]
        quiet_lines = quiet.split("\n")[:-1]  # the lines before the one saying so
        assert not [line for line in quiet_lines if " INFO " in line or " DEBUG " in line]

        bad = http.put("/v1/admin/log", json={"level": "LOUD"})
        body = assert_problem(bad, 422, "invalid_setting")
        assert body["field"] == "level" and body["allowed"] == ["DEBUG", "INFO", "WARNING",
                                                                 "ERROR"]
        assert http.put("/v1/admin/log", json={"level": 10}).status_code == 422
        assert http.put("/v1/admin/log", json={"level": "INFO", "x": 1}).status_code == 422
        assert http.get("/v1/admin/log").json()["level"] == "INFO"


def pair(service: Service) -> tuple[str, dict[str, str]]:
    """Pair FOREIGN through the consent page; the token and the secrets seen on the way."""
    with httpx.Client(base_url=service.url, timeout=10) as http:
        ask = http.post("/v1/pair", json={"scopes": ["scan"], "app_name": "Logs"},
                        headers={"Origin": FOREIGN}).json()
        page = http.get(f"/pair/{ask['request_id']}").text
        nonce = consent_form(page)
        pending = http.post(f"/v1/pair/{ask['request_id']}/token",
                            json={"secret": ask["secret"]}, headers={"Origin": FOREIGN})
        assert pending.status_code == 202
        decided = http.post(f"/pair/{ask['request_id']}/decision",
                            data={"nonce": nonce, "decision": "allow"},
                            headers={"Origin": service.url, "Sec-Fetch-Site": "same-origin"})
        assert decided.status_code == 200, decided.text
        answer = http.post(f"/v1/pair/{ask['request_id']}/token",
                           json={"secret": ask["secret"]}, headers={"Origin": FOREIGN})
        assert answer.status_code == 200, answer.text
        return answer.json()["token"], {"secret": ask["secret"], "nonce": nonce,
                                        "code": ask["code"]}


def test_non_admin_credentials_cannot_read_or_change_the_log(service: Service) -> None:
    token, _ = pair(service)
    site = {"Origin": FOREIGN, "Authorization": f"Bearer {token}"}
    assert httpx.get(service.url + "/v1/devices", headers=site).status_code == 200
    assert_problem(httpx.put(service.url + "/v1/admin/log", json={"level": "DEBUG"},
                             headers=site), 403, "scope_not_granted")
    assert_problem(httpx.get(service.url + "/v1/admin/log", headers=site), 403,
                   "scope_not_granted")
    from scanlet.security.access import AccessStore

    store = AccessStore(service.home / "keys" / "access.sqlite3")
    try:
        key, _ = store.create_key("robot", ["scan"])
    finally:
        store.close()
    assert_problem(httpx.put(service.url + "/v1/admin/log", json={"level": "DEBUG"},
                             headers={"Authorization": f"Bearer {key}"}), 403,
                   "scope_not_granted")
    assert_problem(httpx.put(service.url + "/v1/admin/log", json={"level": "DEBUG"}), 401,
                   "unauthorized")
    with service.client() as http:
        assert http.get("/v1/admin/log").json()["level"] == "INFO"


def test_tokens_keys_secrets_and_pages_never_reach_the_log(tmp_path: Path) -> None:
    service = configured(tmp_path, "[log]\nlevel = DEBUG")
    try:
        token, seen = pair(service)
        site = {"Origin": FOREIGN, "Authorization": f"Bearer {token}"}
        from scanlet.security.access import AccessStore

        store = AccessStore(service.home / "keys" / "access.sqlite3")
        try:
            robot, _ = store.create_key("robot", ["scan", "files"])
        finally:
            store.close()
        assert httpx.get(service.url + "/v1/devices", headers=site).status_code == 200
        assert httpx.get(service.url + "/v1/devices", params={"token": token, "key": robot},
                         headers=site).status_code == 200
        assert httpx.get(service.url + "/v1/devices",
                         headers={"DWT-PRODUCT-KEY": robot}).status_code == 200
        wrong = "slt_" + "W" * 43
        assert httpx.get(service.url + "/v1/devices", headers={
            "Origin": FOREIGN, "Authorization": f"Bearer {wrong}"}).status_code == 401
        url = "ws" + service.url.removeprefix("http") + "/v1/session"
        protocols = [Subprotocol("scanlet"), Subprotocol(f"scanlet.bearer.{token}")]
        with connect(url, subprotocols=protocols, origin=Origin(FOREIGN),
                     open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "session"

        job = scan(service, {"DWT-PRODUCT-KEY": robot})
        with service.client() as http:
            pages = http.get(f"/v1/documents/{job['document_id']}/pages").json()
            image = http.get(f"/v1/pages/{pages[0]['id']}/image")
            assert image.content[:3] == b"\xff\xd8\xff"
            pdf = http.get(f"/v1/documents/{job['document_id']}/export",
                           params={"format": "pdf", "title": "t"})
            assert pdf.status_code == 200
            imported = http.post(f"/v1/documents/{job['document_id']}/import",
                                 content=b"%PDF-1.7 broken" + image.content[:5000],
                                 headers={"Content-Type": "application/pdf",
                                          "X-PDF-Password": "pdf-password-sentinel"})
            assert 400 <= imported.status_code < 500
        assert wait_for(lambda: "page 1 read in" in log_text(service))
    finally:
        service.kill(15)
    cache_key = (service.home / "keys" / "cache.key").read_bytes()
    secrets = [token, service.key, robot, wrong, seen["secret"], seen["nonce"],
               "pdf-password-sentinel", base64.b64encode(cache_key).decode(), cache_key.hex(),
               base64.urlsafe_b64encode(cache_key).decode()]
    for path in (service.home / "log" / "scanlet.log", service.log):
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        for secret in secrets:
            assert secret not in text, (path.name, secret)
        assert not re.search(rf"(?<![\d.]){re.escape(seen['code'])}(?![\d.])", text)
        assert b"\xff\xd8\xff" not in raw and b"%PDF" not in raw
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
        assert max(len(line) for line in text.splitlines()) < 20_000
    text = log_text(service)
    # the requests were logged, with their credentials masked
    assert "GET /v1/devices 200 " in text and f" {FOREIGN}\n" in text
    assert "GET /v1/devices?token=***&key=*** 200" in text
    assert "GET /v1/devices 401" in text and "WS /v1/session 101" in text
    assert " DEBUG scanlet.access: GET /v1/health 200 " in text


def test_cli_shows_and_changes_the_level(service: Service, tmp_path: Path) -> None:
    def scanlet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "scanlet", "log-level", *args],
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    home = ["--home", str(service.home)]
    shown = scanlet(*home)
    assert shown.returncode == 0 and shown.stdout.startswith("INFO"), shown.stderr
    changed = scanlet("debug", *home)
    assert changed.returncode == 0, changed.stderr
    assert "INFO -> DEBUG" in changed.stdout and "[log] level = INFO" in changed.stdout
    with service.client() as http:
        assert http.get("/v1/admin/log").json()["level"] == "DEBUG"
    bad = scanlet("loud", *home)
    assert bad.returncode == 2 and "invalid_setting" in bad.stderr
    idle = make_home(tmp_path / "idle")
    assert scanlet("--home", str(idle)).returncode == 0
    refused = scanlet("ERROR", "--home", str(idle))
    assert refused.returncode == 1 and "no Scanlet service runs" in refused.stderr
