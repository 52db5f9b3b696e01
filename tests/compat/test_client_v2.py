"""The reference's own open-source client, ``twain-wia-sane-scanner`` 2.0.3 (``import
dynamsoftservice``), unmodified and raising on every error, against a real service: scanners
and scan jobs (the storage and processing calls are tested in test_storage*/test_process*)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dynamsoftservice import JobStatus, ScannerController, ScannerServiceError, ScannerType
from PIL import Image

from tests.conftest import Service, make_home, start_service

FEEDER_CONFIG = {"IfShowUI": False, "PixelType": 2, "Resolution": 75, "IfFeederEnabled": True,
                 "IfDuplexEnabled": False, "XferCount": 3}


def _service(path: Path, extra_ini: str = "") -> Service:
    home = make_home(path)
    if extra_ini:
        with open(home / "user.ini", "a") as ini:
            ini.write(extra_ini)
    return start_service(home)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = _service(tmp_path_factory.mktemp("client-v2") / "home")
    yield svc
    svc.kill()


@pytest.fixture
def client() -> Iterator[ScannerController]:
    with ScannerController(timeout=30, raise_errors=True) as controller:
        yield controller


def _test_device(client: ScannerController, host: str, scanner_type: int | None = None,
                 ) -> dict[str, Any]:
    found = [d for d in client.getDevices(host, scanner_type) if "test:0" in d["name"]]
    assert len(found) == 1, found
    return found[0]


def _error(exc: pytest.ExceptionInfo[ScannerServiceError], status: int, code: int) -> None:
    assert exc.value.status_code == status, exc.value.details
    assert exc.value.details["code"] == code and exc.value.details["statusCode"] == status


def test_scanners_by_type_mask(client: ScannerController, service: Service) -> None:
    default = client.getDevices(service.url)
    assert {d["type"] for d in default} == {ScannerType.SANESCANNER}
    assert {"frontend-tester (test:0)", "frontend-tester (test:1)"} <= {d["name"]
                                                                       for d in default}
    assert client.getDevices(service.url, ScannerType.SANESCANNER) == default
    assert client.getDevices(service.url, ScannerType.SANESCANNER | ScannerType.ESCLSCANNER) \
        == default
    # Without [compat] twain_types, a TWAIN-only request finds no TWAIN device here.
    assert client.getDevices(service.url, ScannerType.TWAINSCANNER) == []
    assert client.getDevices(service.url,
                             ScannerType.TWAINSCANNER | ScannerType.TWAINX64SCANNER) == []
    with pytest.raises(ScannerServiceError) as bad:
        client.getDevices(service.url, -1)
    _error(bad, 400, -2113)


def test_auto_run_job_pages_until_204(client: ScannerController, service: Service) -> None:
    device = _test_device(client, service.url)
    job = client.createJob(service.url, {"license": service.key, "device": device["device"],
                                         "config": FEEDER_CONFIG})
    assert job["status"] in (JobStatus.RUNNING, JobStatus.COMPLETED)
    assert job["scanner"] == device
    pages = []
    while (data := client.getImageStream(service.url, job["jobuid"])) is not None:
        pages.append(data)
    assert len(pages) == 3
    for data in pages:
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG" and image.mode == "RGB"
            assert image.size == (620, 876)  # A4 at 75 dpi
    assert client.checkJob(service.url, job["jobuid"]) == {
        "status": JobStatus.COMPLETED, "code": "0", "message": "Successful"}
    jpeg = client.getImageStream(service.url, job["jobuid"], "image/jpeg")
    assert jpeg is None  # the cursor is at the end whatever the type
    assert client.deleteJob(service.url, job["jobuid"]) is True


def test_pending_job_capabilities_start_pages_and_info(client: ScannerController,
                                                      service: Service) -> None:
    device = _test_device(client, service.url)
    job = client.createJob(service.url, {
        "license": service.key, "device": device["device"], "autoRun": False,
        "jobTimeout": 60, "scannerFailureTimeout": 15, "requestFocusForScanningUI": False,
        "checkFeederLoaded": False,
        "config": {**FEEDER_CONFIG, "PixelType": 1, "Resolution": 100, "XferCount": 2}})
    uid = job["jobuid"]
    assert job["status"] == JobStatus.PENDING
    assert client.checkJob(service.url, uid)["status"] == JobStatus.PENDING
    caps = {c["capability"]["value"]: c for c in client.getScannerCapabilities(service.url, uid)}
    assert caps[257]["curValue"]["value"] == 1 and [v["value"] for v in caps[257]["values"]] \
        == [0, 1, 2]
    assert caps[4376]["curValue"]["value"] == 100
    assert caps[4098]["curValue"]["value"] is True
    assert caps[1]["curValue"]["value"] == 2
    only = client.getScannerCapabilities(service.url, uid, [4376, 4115])
    assert [c["capability"]["value"] for c in only] == [4376, 4115]
    assert client.getScannerSettings(service.url, uid)["settings"]

    started = client.updateJob(service.url, uid, {"status": JobStatus.RUNNING})
    assert started["status"] in (JobStatus.RUNNING, JobStatus.COMPLETED)
    streams = client.getImageStreams(service.url, uid, "image/jpeg")
    assert len(streams) == 2
    infos = [client.getImageInfo(service.url, uid) for _ in streams]
    assert client.getImageInfo(service.url, uid) == {}  # 204: no more pages
    for number, info in enumerate(infos, start=1):
        assert info["imageId"] == number
        image = info["imageInfo"]
        assert (image["ImageWidth"], image["ImageLength"]) == (826, 1169)  # A4, 100 dpi
        assert image["PixelType"] == 1 and image["BitsPerPixel"] == 8
        assert image["XResolution"] == image["YResolution"] == 100
        assert info["url"].startswith(f"{service.url}/api/device/scanners/jobs/{uid}/"
                                      f"next-page?page={info['imageuid']}")
        data = client.getStreamFromUrl(info["url"])
        assert data is not None
        with Image.open(io.BytesIO(data)) as page:
            assert page.format == "PNG" and page.mode == "L" and page.size == (826, 1169)
    assert client.checkJob(service.url, uid)["status"] == JobStatus.COMPLETED

    # Pages scanned here are ordinary buffer pages, visible through /v1.
    with service.client() as http:
        first = http.get(f"/v1/pages/{infos[0]['imageuid']}").json()
        listed = http.get(f"/v1/documents/{first['document_id']}/pages").json()
    assert [p["id"] for p in listed] == [i["imageuid"] for i in infos]
    assert listed[0]["dpi"] == 100 and listed[0]["mode"] == "gray"

    # A page added to a stored document is a copy: it outlives the job.
    document = client.createDocument(service.url, {})
    added = client.insertPage(service.url, document["uid"], {"password": "",
                                                              "source": infos[1]["url"]})
    assert len(added["pages"]) == 1

    assert client.deleteJob(service.url, uid) is True
    kept = client.getDocumentInfo(service.url, document["uid"])
    assert [p["uid"] for p in kept["pages"]] == [p["uid"] for p in added["pages"]]
    with pytest.raises(ScannerServiceError) as gone:
        client.checkJob(service.url, uid)
    _error(gone, 410, -1034)
    with service.client() as http:  # deleted with the pages it scanned
        assert http.get(f"/v1/pages/{infos[0]['imageuid']}").status_code == 404
    lenient = ScannerController(raise_errors=False)
    assert lenient.checkJob(service.url, uid) == {}
    assert lenient.last_error is not None
    assert lenient.last_error["statusCode"] == 410 and lenient.last_error["code"] == -1034
    assert lenient.deleteJob(service.url, uid) is False
    assert client.deleteDocument(service.url, document["uid"]) is True


def test_unknown_job_is_404(client: ScannerController, service: Service) -> None:
    with pytest.raises(ScannerServiceError) as unknown:
        client.checkJob(service.url, "b3701dc5-86d3-44b6-a8a1-ff0b5d43fd86")
    _error(unknown, 404, -1034)
    with pytest.raises(ScannerServiceError) as unknown:
        client.getImageStream(service.url, "nope")
    _error(unknown, 404, -1034)


def test_wrong_or_missing_key_is_403(client: ScannerController, service: Service) -> None:
    device = _test_device(client, service.url)
    for key in ("t0000000000-trial", "slk_" + "0" * 40, ""):
        with pytest.raises(ScannerServiceError) as refused:
            client.createJob(service.url, {"license": key, "device": device["device"]})
        _error(refused, 403, -2800)


@pytest.mark.parametrize("config", [{"PixelType": 99}, {"Resolution": 0},
                                    {"Resolution": 5000}, {"XferCount": 0},
                                    {"IfFeederEnabled": "yes"}])
def test_bad_parameters_are_400(client: ScannerController, service: Service,
                                config: dict[str, Any]) -> None:
    device = _test_device(client, service.url)
    with pytest.raises(ScannerServiceError) as bad:
        client.createJob(service.url, {"license": service.key, "device": device["device"],
                                       "config": config})
    _error(bad, 400, -2113)


def test_bad_device_string_is_400(client: ScannerController, service: Service) -> None:
    for device in ('{"scanlet":1,"id":"sane:nothing:9"}', '{"deviceInfo":{}}', "{"):
        with pytest.raises(ScannerServiceError) as bad:
            client.createJob(service.url, {"license": service.key, "device": device})
        _error(bad, 400, -2113)


@pytest.fixture(scope="module")
def twain_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = _service(tmp_path_factory.mktemp("client-v2-twain") / "home",
                   "\n[compat]\ntwain_types = true\n")
    yield svc
    svc.kill()


def test_twain_types_offers_devices_to_the_examples(client: ScannerController,
                                                    twain_service: Service) -> None:
    """The clients' examples, unchanged: ``getDevices(TWAIN | TWAIN x64)``, then a job."""
    host = twain_service.url
    twain = client.getDevices(host, ScannerType.TWAINSCANNER | ScannerType.TWAINX64SCANNER)
    assert twain and {d["type"] for d in twain} == {ScannerType.TWAINSCANNER}
    assert {d["type"] for d in client.getDevices(host, ScannerType.TWAINX64SCANNER)} \
        == {ScannerType.TWAINX64SCANNER}
    assert {d["type"] for d in client.getDevices(host)} == {ScannerType.SANESCANNER}
    assert client.getDevices(host, ScannerType.WIASCANNER) == []
    device = next(d for d in twain if "test:0" in d["name"])
    job = client.createJob(host, {"license": twain_service.key, "device": device["device"],
                                  "autoRun": True, "config": {**FEEDER_CONFIG,
                                                              "XferCount": -1}})
    pages = client.getImageStreams(host, job["jobuid"])
    assert len(pages) == 10  # the test backend's feeder holds ten sheets
    assert client.deleteJob(host, job["jobuid"]) is True
