"""The legacy ``/DWTAPI`` (the reference's 18.4 to 18.5 REST API) over real sockets: plain-text
job ids with 201, JPEG pages, 410 when they run out, DELETE 200, and its errors."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from tests.compat.conftest import dwt_error
from tests.conftest import Service, make_home, start_service

TEST0 = '{"scanlet":1,"id":"sane:test:0"}'


def scan(http: httpx.Client, service: Service, config: dict[str, object]) -> str:
    """POST /DWTAPI/ScanJobs as the 1.0.0 client does: the key in the body, a JSON body
    labelled application/text."""
    body = {"license": service.key, "device": TEST0, "config": config}
    answer = http.post("/DWTAPI/ScanJobs", params={"timeout": 30}, content=json.dumps(body),
                       headers={"Content-Type": "application/text"})
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


def test_scanners(http: httpx.Client) -> None:
    listed = http.get("/DWTAPI/Scanners").json()
    assert "frontend-tester (test:0)" in {s["name"] for s in listed}
    assert http.get("/DWTAPI/Scanners", params={"type": 256}).json() == listed
    assert http.get("/DWTAPI/Scanners", params={"type": 16}).json() == []
    dwt_error(http.get("/DWTAPI/Scanners", params={"type": "x"}), 400, -2113)


def test_scan_next_document_until_410_and_delete(http: httpx.Client, service: Service) -> None:
    uid = scan(http, service, {"IfShowUI": False, "PixelType": 0, "Resolution": 100,
                               "IfFeederEnabled": True, "XferCount": 2})
    images = []
    while (answer := http.get(f"/DWTAPI/ScanJobs/{uid}/NextDocument")).status_code == 200:
        assert answer.headers["content-type"] == "image/jpeg"
        images.append(answer.content)
    assert answer.status_code == 410, answer.text
    assert len(images) == 2
    for data in images:
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG" and image.size == (826, 1169)  # A4, bw as JPEG
    deleted = http.delete(f"/DWTAPI/ScanJobs/{uid}")
    assert deleted.status_code == 200, deleted.text
    dwt_error(http.get(f"/DWTAPI/ScanJobs/{uid}/NextDocument"), 410, -1034)
    dwt_error(http.delete(f"/DWTAPI/ScanJobs/{uid}"), 410, -1034)


def test_settings_the_device_refuses_are_400(http: httpx.Client, service: Service) -> None:
    # The SANE test backend has no 5000 dpi: refused before anything scans.
    body = {"license": service.key, "device": TEST0, "config": {"Resolution": 5000}}
    dwt_error(http.post("/DWTAPI/ScanJobs", json=body), 400, -2113)


def test_errors(http: httpx.Client, service: Service) -> None:
    dwt_error(http.post("/DWTAPI/ScanJobs", json={"device": TEST0}), 403, -2800)
    dwt_error(http.post("/DWTAPI/ScanJobs", json={"license": "wrong", "device": TEST0}),
              403, -2800)
    dwt_error(http.get("/DWTAPI/ScanJobs/nope/NextDocument"), 404, -1034)
    dwt_error(http.delete("/DWTAPI/ScanJobs/nope"), 404, -1034)
    dwt_error(http.get("/DWTAPI/ScanJobs"), 405, -2112)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = make_home(tmp_path_factory.mktemp("compat-limited") / "home")
    with open(home / "user.ini", "a") as ini:
        ini.write("\n[limits]\nscans_per_minute = 2\n")
    svc = start_service(home)
    yield svc
    svc.kill()


def test_jobs_count_against_the_scan_rate_limit(limited: Service) -> None:
    key = {"DWT-PRODUCT-KEY": limited.key}
    with httpx.Client(base_url=limited.url, timeout=30) as http:
        pending = http.post("/api/device/scanners/jobs", headers=key,
                            json={"device": TEST0, "autoRun": False})
        assert pending.status_code == 201, pending.text
        legacy = http.post("/DWTAPI/ScanJobs", headers=key,
                           json={"device": '{"scanlet":1,"id":"sane:test:1"}'})
        assert legacy.status_code == 201, legacy.text
        refused = http.post("/api/device/scanners/jobs", headers=key, json={"device": TEST0})
        dwt_error(refused, 429, -2800)
        assert int(refused.headers["Retry-After"]) > 0
        assert http.delete(f"/api/device/scanners/jobs/{pending.json()['jobuid']}",
                           ).status_code == 204
