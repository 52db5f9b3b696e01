"""The demo scanner through the real service path: ``scanlet serve --demo`` lists it first, a
feeder job through POST /v1/jobs stores the whole demo stack, and the stored pages read back
through the API are the demo documents (tesseract reads the letter, zxing-cpp the invoice's QR
code), so what a new user sees first is readable."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import httpx
import pytest
import zxingcpp
from PIL import Image

from scanlet.devices.demo.invoice import QR_TEXT
from scanlet.devices.demo.stack import DEFAULT_STACK
from tests.conftest import Service
from tests.helpers import job_events

pytestmark = pytest.mark.timeout(300)

DEVICE = "demo:scanner"
#: Words tesseract must find on the demo letter (tests/devices/test_demo_documents.py).
LETTER_WORDS = ("Dear Ms Johnson", "Northwind Paper Company", "delivery", "Yours sincerely")


def ocr(image: Image.Image, tmp_path: Path) -> str:
    """The text tesseract (the CLI, English) reads on ``image``."""
    path = tmp_path / "page.png"
    image.save(path)
    done = subprocess.run(["tesseract", str(path), "stdout", "-l", "eng"], check=True,
                          capture_output=True, text=True, timeout=120)
    return done.stdout


def stored_image(http: httpx.Client, page_id: str) -> Image.Image:
    """The stored page image as the API serves it, decoded by Pillow."""
    response = http.get(f"/v1/pages/{page_id}/image")
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def test_the_demo_service_lists_the_demo_scanner_first_and_scans_its_feeder(
        service: Service, tmp_path: Path) -> None:
    with service.client() as http:
        listed = http.get("/v1/devices")
        assert listed.status_code == 200, listed.text
        devices = listed.json()
        assert devices and devices[0]["id"] == DEVICE, [d["id"] for d in devices]
        assert devices[0]["driver"] == "demo"

        response = http.post("/v1/jobs", json={"device": DEVICE, "source": "feeder",
                                               "mode": "gray", "resolution": 200,
                                               "pages": "all"})
        assert response.status_code == 201, response.text
        job = response.json()
    events = job_events(service.url, job["id"], headers=service.auth)
    assert events[-1]["job"]["state"] == "completed", events[-1]
    stored = [e["page"] for e in events if e["type"] == "page"]
    assert len(stored) == len(DEFAULT_STACK)

    with service.client() as http:
        status = http.get(f"/v1/jobs/{job['id']}").json()
        assert status["state"] == "completed" and status["pages_stored"] == len(DEFAULT_STACK)
        pages = http.get(f"/v1/documents/{job['document_id']}/pages").json()
        assert [p["id"] for p in pages] == [p["id"] for p in stored]
        assert all(p["source"] == "feeder" and p["dpi"] == 200 for p in pages), pages

        letter = stored_image(http, pages[DEFAULT_STACK.index("letter")]["id"])
        text = ocr(letter, tmp_path)
        for words in LETTER_WORDS:
            assert words in text, (words, text)

        invoice = stored_image(http, pages[DEFAULT_STACK.index("invoice")]["id"])
        codes = {(r.format, r.text) for r in zxingcpp.read_barcodes(invoice)}
        assert (zxingcpp.BarcodeFormat.QRCode, QR_TEXT) in codes, codes
