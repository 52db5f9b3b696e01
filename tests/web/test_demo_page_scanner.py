"""The demo page's first scan is readable: headless Chromium opens ``/demo`` of a service
started with ``--demo``, clicks Scan without choosing anything, and the page the service stored
is the demo letter, read by tesseract from the image the API serves.

This is the first thing a new user does; the page's defaults (first device, first source,
first mode, default resolution) must give a page worth looking at.
"""

from __future__ import annotations

import io
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, expect

from tests.conftest import Service, make_home, start_service

pytestmark = pytest.mark.timeout(120)

#: Words tesseract must find on the demo letter (tests/devices/test_demo_documents.py).
LETTER_WORDS = ("Dear Ms Johnson", "Northwind Paper Company", "delivery", "Yours sincerely")


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Service]:
    service = start_service(make_home(tmp_path / "home"))  # scanlet serve --demo
    yield service
    service.kill(signal.SIGTERM)


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    ctx = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def ocr(image: Image.Image, tmp_path: Path) -> str:
    """The text tesseract (the CLI, English) reads on ``image``."""
    path = tmp_path / "page.png"
    image.save(path)
    done = subprocess.run(["tesseract", str(path), "stdout", "-l", "eng"], check=True,
                          capture_output=True, text=True, timeout=120)
    return done.stdout


def test_the_demo_pages_first_scan_with_its_defaults_is_readable(
        context: BrowserContext, svc: Service, tmp_path: Path) -> None:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(svc.url + "/demo")
    assert response is not None and response.status == 200

    scan = page.get_by_role("button", name="Scan", exact=True)
    expect(scan).to_be_enabled()  # connected, devices listed, capabilities read
    assert page.get_by_label("Scanner").input_value() == "demo:scanner"
    scan.click()

    expect(page.locator("#scan-status")).to_have_text("Done: 1 page scanned.", timeout=60_000)
    expect(page.locator("scanlet-viewer [data-page-id]")).to_have_count(1)
    expect(page.locator("#alert")).to_be_hidden()
    document_id = page.evaluate("document.getElementById('viewer').documentId")
    settings = {name: page.get_by_label(label).input_value()
                for name, label in (("source", "Paper source"), ("mode", "Colour"),
                                    ("resolution", "Resolution"))}

    with svc.client() as http:
        pages = http.get(f"/v1/documents/{document_id}/pages").json()
        assert len(pages) == 1, pages
        stored = pages[0]
        assert stored["source"] == settings["source"] and stored["mode"] == settings["mode"]
        assert stored["dpi"] == int(settings["resolution"])
        served = http.get(f"/v1/pages/{stored['id']}/image")
        assert served.status_code == 200, served.text
    with Image.open(io.BytesIO(served.content)) as image:
        image.load()
        text = ocr(image, tmp_path)
    for words in LETTER_WORDS:
        assert words in text, (words, settings, text)
    assert errors == []
