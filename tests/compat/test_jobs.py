"""Scan jobs of the compatibility API (``/api/device/scanners/jobs``) over real sockets: the
life cycle, the device lock, timeouts, cursors, ``caps``/``config``/``settings`` and every
documented error, against a real service with the SANE test backend."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.compat.conftest import dwt_error
from tests.conftest import Service, make_home, start_service
from tests.helpers import job_events

JOBS = "/api/device/scanners/jobs"
TEST0 = '{"scanlet":1,"id":"sane:test:0"}'
TEST1 = '{"scanlet":1,"id":"sane:test:1"}'
GRAY_75 = {"PixelType": 1, "Resolution": 75}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = make_home(tmp_path_factory.mktemp("compat-jobs") / "home")
    with open(home / "user.ini", "a") as ini:
        ini.write("\n[limits]\nscans_per_minute = 0\n")
    svc = start_service(home)
    yield svc
    svc.kill()


def create(http: httpx.Client, service: Service, status: int = 201, **body: Any,
           ) -> dict[str, Any]:
    answer = http.post(JOBS, json={"device": TEST0, "config": GRAY_75, **body},
                       headers={"DWT-PRODUCT-KEY": service.key})
    assert answer.status_code == status, answer.text
    result: dict[str, Any] = answer.json()
    return result


def delete(http: httpx.Client, uid: str) -> None:
    answer = http.delete(f"{JOBS}/{uid}")
    assert answer.status_code == 204, answer.text


def wait_status(http: httpx.Client, uid: str, wanted: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while (status := http.get(f"{JOBS}/{uid}").json()["status"]) != wanted:
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def test_a_pending_job_holds_its_device(http: httpx.Client, service: Service) -> None:
    first = create(http, service, device=TEST1, autoRun=False)
    body = dwt_error(http.post(JOBS, json={"device": TEST1, "autoRun": False},
                               headers={"DWT-PRODUCT-KEY": service.key}), 423, -1004)
    assert first["jobuid"] in body["message"]
    dwt_error(http.post(JOBS, json={"device": TEST1}, headers={"DWT-PRODUCT-KEY": service.key}),
              423, -1004)
    other = create(http, service, autoRun=False)  # another device is free
    delete(http, other["jobuid"])
    cancelled = http.patch(f"{JOBS}/{first['jobuid']}", json={"status": "canceled"})
    assert cancelled.json() == {"status": "canceled"}
    assert http.get(f"{JOBS}/{first['jobuid']}/next-page").status_code == 204
    second = create(http, service, device=TEST1, autoRun=False)  # released
    delete(http, second["jobuid"])
    delete(http, first["jobuid"])


def test_a_pending_job_locks_its_device_for_v1_jobs_too(http: httpx.Client,
                                                        service: Service) -> None:
    pending = create(http, service, device=TEST1, autoRun=False)
    v1_job = {"device": "sane:test:1", "mode": "gray", "resolution": 75}
    with service.client() as v1:
        busy = v1.post("/v1/jobs", json=v1_job)
        assert busy.status_code == 409 and busy.json()["code"] == "device_busy", busy.text
        assert "pending" in busy.json()["detail"]
        # Started, the job scans; finished, it lets the device go.
        started = http.patch(f"{JOBS}/{pending['jobuid']}", json={"status": "running"})
        assert started.status_code == 200, started.text
        wait_status(http, pending["jobuid"], "completed")
        free = v1.post("/v1/jobs", json=v1_job)
        assert free.status_code == 201, free.text
        job_events(service.url, free.json()["id"], headers=service.auth)
        # A deleted pending job lets it go as well.
        again = create(http, service, device=TEST1, autoRun=False)
        assert v1.post("/v1/jobs", json=v1_job).status_code == 409
        delete(http, again["jobuid"])
        last = v1.post("/v1/jobs", json=v1_job)
        assert last.status_code == 201, last.text
        job_events(service.url, last.json()["id"], headers=service.auth)
    delete(http, pending["jobuid"])


def test_state_rules(http: httpx.Client, service: Service) -> None:
    job = create(http, service, autoRun=False)
    uid = job["jobuid"]
    dwt_error(http.get(f"{JOBS}/{uid}/content", params={"page": 0}), 409, -1011)
    dwt_error(http.get(f"{JOBS}/{uid}/next-page"), 409, -1011)
    dwt_error(http.patch(f"{JOBS}/{uid}", json={"status": "completed"}), 400, -2113)
    assert http.patch(f"{JOBS}/{uid}", json={"status": "running"},
                      headers={"Content-Type": "application/text"}).status_code == 200
    wait_status(http, uid, "completed")
    dwt_error(http.patch(f"{JOBS}/{uid}", json={"status": "running"}), 409, -1011)
    dwt_error(http.patch(f"{JOBS}/{uid}", json={"status": "canceled"}), 409, -1011)
    dwt_error(http.get(f"{JOBS}/{uid}/scanner/capabilities"), 409, -1011)
    dwt_error(http.get(f"{JOBS}/{uid}/scanner/settings"), 409, -1011)
    dwt_error(http.put(f"{JOBS}/{uid}", json={}), 405, -2112)
    delete(http, uid)
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/next-page"),
                         ("GET", "/next-page-info"), ("GET", "/scanner/capabilities")):
        answer = http.request(method, f"{JOBS}/{uid}{path}", json={"status": "running"})
        dwt_error(answer, 410, -1034)
    dwt_error(http.get(f"{JOBS}/{uid.upper()}"), 410, -1034)


def test_cancel_a_running_job_keeps_its_pages(http: httpx.Client, service: Service) -> None:
    job = create(http, service, config={"PixelType": 2, "Resolution": 300,
                                        "IfFeederEnabled": True})
    uid = job["jobuid"]
    answer = http.patch(f"{JOBS}/{uid}", json={"status": "canceled"})
    assert answer.status_code == 200, answer.text
    wait_status(http, uid, "canceled")
    status = http.get(f"{JOBS}/{uid}").json()
    assert status["code"] == "0"
    kept = 0
    while http.get(f"{JOBS}/{uid}/next-page-info").status_code == 200:
        kept += 1
    assert kept < 10
    delete(http, uid)


def test_job_timeout_deletes_pending_and_finished_jobs(http: httpx.Client,
                                                       service: Service) -> None:
    created = time.monotonic()
    pending = create(http, service, autoRun=False, jobTimeout=1)
    finished = create(http, service, device=TEST1, jobTimeout=1)
    for job in (pending, finished):
        # Polled (the guard is far beyond the 1 s timeout): how soon after its timeout a job
        # goes depends on the machine, not on the rule.
        deadline = time.monotonic() + 30
        while (answer := http.get(f"{JOBS}/{job['jobuid']}")).status_code != 410:
            assert answer.status_code == 200 and time.monotonic() < deadline, answer.text
            if job is pending:
                assert answer.json()["status"] == "pending"
            time.sleep(0.1)
        dwt_error(answer, 410, -1034)
    # Never before the timeout (a busy machine can only make this later).
    assert time.monotonic() - created >= 1.0 - 0.01
    again = create(http, service, autoRun=False)  # the device was let go
    delete(http, again["jobuid"])
    dwt_error(http.post(JOBS, json={"jobTimeout": -1}, headers={"DWT-PRODUCT-KEY":
                                                                service.key}), 400, -2113)


def test_cursors_page_ids_and_content(http: httpx.Client, service: Service) -> None:
    job = create(http, service, config={**GRAY_75, "IfFeederEnabled": True, "XferCount": 3})
    uid = job["jobuid"]
    info = http.get(f"{JOBS}/{uid}/next-page-info")
    assert info.status_code == 200, info.text
    first = info.json()[0]
    assert first["imageId"] == 1 and first["url"].endswith(f"?page={first['imageuid']}")
    # next-page has a cursor of its own: it starts at the first page too.
    page = http.get(f"{JOBS}/{uid}/next-page", params={"type": "image/jpeg"})
    assert page.headers["content-type"] == "image/jpeg"
    by_id = http.get(f"{JOBS}/{uid}/next-page", params={"page": first["imageuid"],
                                                        "type": "image/jpeg"})
    assert by_id.content == page.content
    with Image.open(io.BytesIO(http.get(first["url"]).content)) as image:
        assert image.format == "PNG"  # the default type
    second = http.get(f"{JOBS}/{uid}/content", params={"type": "image/png", "page": 1})
    assert second.status_code == 200 and second.headers["content-type"] == "image/png"
    assert http.get(f"{JOBS}/{uid}/next-page-info").json()[0]["imageId"] == 2
    dwt_error(http.get(f"{JOBS}/{uid}/content", params={"page": 3}), 404, -1040)
    dwt_error(http.get(f"{JOBS}/{uid}/content", params={"page": "x"}), 400, -2113)
    dwt_error(http.get(f"{JOBS}/{uid}/next-page", params={"type": "image/tiff"}), 400, -2113)
    dwt_error(http.get(f"{JOBS}/{uid}/next-page", params={"page": "nope"}), 404, -1040)
    remaining = [http.get(f"{JOBS}/{uid}/next-page").status_code for _ in range(3)]
    assert remaining == [200, 200, 204]
    delete(http, uid)


def test_caps_and_config(http: httpx.Client, service: Service) -> None:
    unknown = {"capability": 4103, "curValue": 1}
    dwt_error(http.post(JOBS, json={"device": TEST0, "caps": {
        "exception": "fail", "capabilities": [unknown]}},
        headers={"DWT-PRODUCT-KEY": service.key}), 400, -2113)
    dwt_error(http.post(JOBS, json={"device": TEST0, "caps": {
        "capabilities": [{"capability": 257, "curValue": 7, "exception": "fail"}]}},
        headers={"DWT-PRODUCT-KEY": service.key}), 400, -2113)
    job = create(http, service, config={"Resolution": 75}, caps={
        "exception": "ignore",
        "capabilities": [unknown, {"capability": 257, "curValue": 0},
                         {"capability": 4376, "curValue": 150},
                         {"capability": 4386, "curValue": 5}]})
    info = http.get(f"{JOBS}/{job['jobuid']}/next-page-info").json()[0]["imageInfo"]
    assert info["PixelType"] == 0 and info["BitsPerPixel"] == 1
    assert info["XResolution"] == 75  # config wins over caps
    assert abs(info["ImageWidth"] - 437) <= 1  # A5 (TWSS 5) at 75 dpi
    delete(http, job["jobuid"])


def test_settings_round_trip_and_default_device(http: httpx.Client, service: Service) -> None:
    first = create(http, service, device=TEST1, autoRun=False,
                   config={"PixelType": 1, "Resolution": 150, "IfFeederEnabled": True})
    settings = http.get(f"{JOBS}/{first['jobuid']}/scanner/settings",
                        params={"showui": "false"}).json()["settings"]
    delete(http, first["jobuid"])
    # No device: the latest job's; the settings string brings back its settings.
    again = http.post(JOBS, json={"autoRun": False, "settings": settings},
                      headers={"DWT-PRODUCT-KEY": service.key})
    assert again.status_code == 201, again.text
    assert "sane:test:1" in again.json()["scanner"]["device"]
    uid = again.json()["jobuid"]
    caps = {c["capability"]["value"]: c["curValue"]["value"]
            for c in http.get(f"{JOBS}/{uid}/scanner/capabilities").json()}
    assert (caps[257], caps[4376], caps[4098], caps[1]) == (1, 150, True, -1)
    delete(http, uid)
    dwt_error(http.post(JOBS, json={"settings": "bm90IG91cnM="},
                        headers={"DWT-PRODUCT-KEY": service.key}), 400, -2113)


def test_jobs_belong_to_their_key(http: httpx.Client, service: Service) -> None:
    made = subprocess.run([sys.executable, "-m", "scanlet", "keys", "create", "other-app",
                           "--home", str(service.home)], capture_output=True, text=True,
                          check=False)
    assert made.returncode == 0, made.stderr
    other = {"DWT-PRODUCT-KEY": made.stdout.strip()}
    job = create(http, service, autoRun=False)
    uid = job["jobuid"]
    dwt_error(http.get(f"{JOBS}/{uid}", headers=other), 404, -1034)
    dwt_error(http.delete(f"{JOBS}/{uid}", headers=other), 404, -1034)
    mine = http.get(f"{JOBS}/{uid}", headers={"DWT-PRODUCT-KEY": service.key})
    assert mine.json()["status"] == "pending"
    delete(http, uid)


def test_keyless_and_bad_bodies(http: httpx.Client, service: Service) -> None:
    dwt_error(http.post(JOBS, json={"device": TEST0}), 403, -2800)
    key = {"DWT-PRODUCT-KEY": service.key}
    dwt_error(http.post(JOBS, content=b"[1]", headers=key), 400, -2113)
    dwt_error(http.post(JOBS, json={"autoRun": "no"}, headers=key), 400, -2113)
    dwt_error(http.post(JOBS, json={"config": []}, headers=key), 400, -2113)
    dwt_error(http.get("/api/device/scanners", params={"type": "twain"}), 400, -2113)
    dwt_error(http.get("/api/device/scanners", params={"type": "0"}), 400, -2113)
    # The body's license is a key too, whatever the Content-Type.
    body = json.dumps({"license": service.key, "device": TEST0, "autoRun": False})
    answer = http.post(JOBS, content=body, headers={"Content-Type": "application/text"})
    assert answer.status_code == 201, answer.text
    delete(http, answer.json()["jobuid"])


def test_a_client_that_gives_up_does_not_use_up_a_page(http: httpx.Client,
                                                       service: Service) -> None:
    # A4 colour at 600 dpi takes the test backend far longer than the client waits.
    job = create(http, service, config={"PixelType": 2, "Resolution": 600,
                                        "IfFeederEnabled": True, "XferCount": 1})
    uid = job["jobuid"]
    with pytest.raises(httpx.TimeoutException):
        http.get(f"{JOBS}/{uid}/next-page-info", timeout=0.05)
    with pytest.raises(httpx.TimeoutException):
        http.get(f"{JOBS}/{uid}/next-page", timeout=0.05)
    info = http.get(f"{JOBS}/{uid}/next-page-info")
    assert info.status_code == 200 and info.json()[0]["imageId"] == 1
    page = http.get(f"{JOBS}/{uid}/next-page", params={"type": "image/jpeg"})
    assert page.status_code == 200
    with Image.open(io.BytesIO(page.content)) as image:
        assert image.size[0] == 4960 and abs(image.size[1] - 7016) <= 1  # A4 at 600 dpi
    assert http.get(f"{JOBS}/{uid}/next-page").status_code == 204
    delete(http, uid)
