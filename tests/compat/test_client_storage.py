"""The reference's own MIT client, ``twain-wia-sane-scanner`` 2.0.3 (``dynamsoftservice``),
unmodified and with ``raise_errors=True``, against a real service: scan with a job, copy its
pages into a document at positions from their next-page-info URLs, fetch the document as a
PDF, delete a page and the document, read a QR code and check blank and non-blank pages.
Every call must succeed without an exception."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from dynamsoftservice import ScannerController, ScannerType
from PIL import Image

from tests.compat.test_storage import QR_TEXT, import_pages, qr_image, source_url
from tests.conftest import Service

PAGES = 3


@pytest.fixture
def client() -> Iterator[ScannerController]:
    with ScannerController(timeout=60, raise_errors=True) as controller:
        yield controller


def test_scan_into_a_document_with_the_client(service: Service, client: ScannerController,
                                              tmp_path: Path) -> None:
    host = service.url
    devices = client.getDevices(host, ScannerType.SANESCANNER)
    device = next(d for d in devices if json.loads(d["device"]).get("id") == "sane:test:0")
    job = client.createJob(host, {
        "license": service.key, "device": device["device"], "autoRun": True,
        "config": {"IfShowUI": False, "PixelType": 1, "Resolution": 75,
                   "IfFeederEnabled": True, "IfDuplexEnabled": False, "XferCount": PAGES}})
    job_id = job["jobuid"]
    document = client.createDocument(host, {})
    uid = document["uid"]
    assert document["pages"] == []

    # Insert each page in front of the first: the document ends up in reverse scan order.
    scanned: list[str] = []
    urls: list[str] = []
    copies: list[str] = []
    while info := client.getImageInfo(host, job_id):
        scanned.append(info["imageuid"])
        urls.append(info["url"])
        answer: dict[str, Any] = client.insertPage(
            host, uid, {"password": "", "source": info["url"],
                        **({"insertPos": 1} if copies else {})})
        now = [p["uid"] for p in answer["pages"]]
        (new,) = set(now) - set(copies)
        assert now == [new, *copies]
        copies = now
    assert len(scanned) == PAGES and not set(copies) & set(scanned)
    assert all(url.startswith(f"{host}/api/device/scanners/jobs/{job_id}/") for url in urls)

    assert [p["uid"] for p in client.getDocumentInfo(host, uid)["pages"]] == copies
    with service.client() as http:  # copies: the job's document keeps its pages
        assert [p["id"] for p in http.get(f"/v1/documents/{uid}/pages").json()] == copies
        job_document = http.get(f"/v1/pages/{scanned[0]}").json()["document_id"]
        assert [p["id"] for p in http.get(f"/v1/documents/{job_document}/pages").json()] \
            == scanned

    pdf = client.getDocumentStream(host, uid, {"type": "application/pdf"})
    assert pdf is not None
    path = tmp_path / "document.pdf"
    path.write_bytes(pdf)
    subprocess.run(["qpdf", "--check", str(path)], check=True, capture_output=True)
    with pikepdf.open(path) as opened:
        assert len(opened.pages) == PAGES
    saved = tmp_path / Path(client.getDocumentFile(host, uid, str(tmp_path))).name
    assert saved.suffix == ".pdf" and saved.read_bytes()[:5] == b"%PDF-"
    png = client.getDocumentStream(host, uid, {"type": "image/png", "pages": [1]})
    assert png is not None
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"

    assert client.deletePage(host, uid, copies[0]) is True
    assert client.deletePage(host, uid, "0") is True
    assert [p["uid"] for p in client.getDocumentInfo(host, uid)["pages"]] == copies[2:]

    # Processing: the scanned page (the test scanner's solid black) and a QR page.
    with service.client() as http:
        _, (qr_page,) = import_pages(http, [qr_image()])
    qr_url = source_url(service, qr_page)
    found = client.readBarcode(host, {"license": service.key, "source": qr_url})
    assert [b["barcodeText"] for b in found] == [QR_TEXT]
    assert found[0]["barcodeFormatString"] == "QR_CODE"
    assert client.readBarcode(host, {"license": service.key, "source": urls[0],
                                     "settings": "speed"}) == []
    assert client.checkBlank(host, {"source": urls[0]}) == {"result": True}
    assert client.checkBlank(host, {"source": qr_url, "settings": {
        "minBlockHeight": 20, "maxBlockHeight": 30}}) == {"result": False}

    assert client.deleteDocument(host, uid) is True
    assert client.deleteJob(host, job_id) is True
    with service.client() as http:
        assert http.get(f"/v1/documents/{uid}").status_code == 404


def test_a_protected_document_with_the_client(service: Service, client: ScannerController,
                                              tmp_path: Path) -> None:
    host = service.url
    with service.client() as http:
        _, (page,) = import_pages(http, [qr_image()])
    uid = client.createDocument(host, {"password": "client-pw"})["uid"]
    answer = client.insertPage(host, uid, {"password": "client-pw",
                                           "source": source_url(service, page)})
    assert len(answer["pages"]) == 1
    assert len(client.getDocumentInfo(host, uid, "client-pw")["pages"]) == 1
    pdf = client.getDocumentStream(host, uid, {}, documentPassword="client-pw")
    assert pdf is not None and pdf[:5] == b"%PDF-"
    assert client.deleteDocument(host, uid, "client-pw") is True


def test_a_wrong_password_raises_the_reference_error(service: Service,
                                                      client: ScannerController) -> None:
    from dynamsoftservice import ScannerServiceError

    uid = client.createDocument(service.url, {"password": "right"})["uid"]
    with pytest.raises(ScannerServiceError) as raised:
        client.getDocumentInfo(service.url, uid, "wrong")
    assert raised.value.status_code == 403
    assert raised.value.details["code"] == -1043
    assert client.deleteDocument(service.url, uid, "right") is True
