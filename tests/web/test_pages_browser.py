"""Scanlet's own pages (``/``, ``/admin``, ``/demo``) in real headless Chromium.

Debian's /usr/bin/chromium driven by Playwright (tests/security/browser.py), against a real
``scanlet serve --demo``. The pages run under the service's strict CSP, load the SDK from
``/sdk/scanlet.js`` and the viewer from ``/sdk/viewer.js``, and need no token on their own
origin. Whatever a page changes is checked on the service with the CLI's key.

Screenshots of ``/`` and ``/demo`` at 1280x800 and 375x740 go to ``$SCANLET_ARTIFACTS`` (else
``tests/artifacts/``) for review.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from scanlet import web
from tests.conftest import Service, make_home, start_service
from tests.security.test_access_http import FOREIGN, as_site, pair

pytestmark = pytest.mark.timeout(90)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
STRINGS = {lang: json.loads((web.WEB_DIR / "i18n" / f"{lang}.json").read_text())
           for lang in ("en", "de")}
REPO = Path(__file__).resolve().parents[2]
#: The test scanner's feeder, slowed down so that a job is still running when a page looks.
SLOW_SCAN = {"device": "sane:test:0", "source": "feeder", "mode": "color", "resolution": 75,
             "raw_options": {"test_picture": "Color pattern", "read_delay": True,
                             "read_delay_duration": 100000}}


def artifacts() -> Path:
    folder = Path(os.environ.get("SCANLET_ARTIFACTS") or REPO / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# Fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    ctx = chromium.new_context(viewport=DESKTOP, accept_downloads=True, locale="en-US")
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


class Receiver:
    """An upload target on loopback: keeps every request body it gets."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.bodies.append((self.path, {k.lower(): v for k, v in
                                                    self.headers.items()}, body))
                answer = json.dumps({"stored": len(body)}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def svc(tmp_path: Path, receiver: Receiver) -> Iterator[Service]:
    """A demo service that may upload to the test's receiver (a loopback dev target)."""
    home = make_home(tmp_path / "home")
    with open(home / "user.ini", "a") as fh:
        fh.write(f"\n[upload]\ndev_targets = {receiver.origin}\n")
    service = start_service(home)
    yield service
    service.kill(signal.SIGTERM)


def watch(page: Page) -> list[str]:
    """Uncaught errors of the page, and anything its CSP refused."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text)
            if "Content Security Policy" in message.text else None)
    return errors


def open_page(context: BrowserContext, url: str) -> tuple[Page, list[str]]:
    """Open ``url``; the list collects uncaught errors and CSP violations of the page."""
    page = context.new_page()
    errors = watch(page)
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    return page, errors


def fits_width(page: Page, width: int) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"the page is {overflow} px wide at {width} px"


def screenshots(page: Page, name: str) -> None:
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.wait_for_timeout(300)  # layout and the viewer's resize observer settle
        fits_width(page, size["width"])
        page.screenshot(path=str(artifacts() / f"{name}-{size['width']}x{size['height']}.png"),
                        full_page=True)
    page.set_viewport_size(DESKTOP)


# Welcome page -----------------------------------------------------------------------------


def test_welcome_page_shows_version_devices_and_data_folder(context: BrowserContext,
                                                            svc: Service) -> None:
    with svc.client() as http:
        version = http.get("/v1/version").json()
        build = http.get("/v1/admin/status").json()["build"]
        devices = http.get("/v1/devices").json()
        # a scan that runs a few seconds (about 0.9 s a page): the page lists it
        job = http.post("/v1/jobs", json={**SLOW_SCAN, "pages": 6})
        assert job.status_code == 201, job.text
    page, errors = open_page(context, svc.url + "/")
    running = page.locator(f'#jobs li[data-job-id="{job.json()["id"]}"]')
    test_scanner = next(d for d in devices if d["id"] == "sane:test:0")
    expect(running).to_contain_text(test_scanner["label"])
    expect(running).to_contain_text(re.compile("(waiting|scanning)"))
    expect(page.locator("#version")).to_have_text(f"{version['version']} ({build})")
    items = page.locator("#devices li")
    expect(items).to_have_count(len(devices))
    for device in devices:
        expect(page.locator(f'#devices li[data-device-id="{device["id"]}"]')).to_be_visible()
    expect(page.locator("#data-dir")).to_have_text(str(svc.home))
    expect(page.locator("#listeners")).to_contain_text(svc.url)
    expect(page.locator("#uptime")).not_to_have_text("…")
    expect(page.locator("#alert")).to_be_hidden()
    expect(page.locator("h1")).to_have_text(STRINGS["en"]["home"]["heading"])
    # landmarks and a working link to the SDK
    for role in ("banner", "navigation", "main"):
        expect(page.get_by_role(role)).to_have_count(1)
    expect(page.locator("#snippet")).to_contain_text(f"{svc.url}/sdk/scanlet.js")
    screenshots(page, "welcome")
    assert errors == []


def test_pages_switch_to_german(context: BrowserContext, svc: Service) -> None:
    de, en = STRINGS["de"], STRINGS["en"]
    page, errors = open_page(context, svc.url + "/?lang=de")
    expect(page.locator("h1")).to_have_text(de["home"]["heading"])
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("#devices-heading")).to_have_text(de["home"]["devices"])
    expect(page.get_by_role("link", name=de["app"]["navDemo"], exact=True)).to_have_attribute(
        "href", "/demo?lang=de")
    # switched at run time, and the URL remembers it
    page.get_by_label(de["app"]["language"]).select_option("en")
    expect(page.locator("h1")).to_have_text(en["home"]["heading"])
    assert page.url.endswith("lang=en")
    # the demo in German: its labels, and the viewer told the language
    page.goto(svc.url + "/demo?lang=de")
    expect(page.locator("h1")).to_have_text(de["demo"]["heading"])
    expect(page.locator("#scan")).to_have_text(de["demo"]["scan"])
    expect(page.get_by_label(de["demo"]["device"])).to_be_visible()
    expect(page.locator("#conn-status")).to_contain_text("Scanlet")
    expect(page.locator('#source option[value="flatbed"]')).to_have_text(de["source"]["flatbed"])
    assert page.evaluate("document.getElementById('viewer').lang") == "de"
    assert errors == []


# Administration ---------------------------------------------------------------------------


def test_admin_revokes_sites_and_keys_and_sets_the_log_level(context: BrowserContext,
                                                             svc: Service) -> None:
    token = pair(svc)["token"]
    assert httpx.get(svc.url + "/v1/devices", headers=as_site(token)).status_code == 200
    page, errors = open_page(context, svc.url + "/admin")
    row = page.locator(f'#sites tr[data-origin="{FOREIGN}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text(STRINGS["en"]["scope"]["scan"])
    expect(page.locator("#listeners")).to_contain_text(svc.url)
    expect(page.locator("#data-dir")).to_have_text(str(svc.home))

    # revoke the site from the page: gone on the service, its token dead
    page.get_by_role("button", name=f"Revoke access of {FOREIGN}").click()
    expect(row).to_have_count(0)
    expect(page.locator("#action-status")).to_contain_text(FOREIGN)
    with svc.client() as http:
        sites = http.get("/v1/sites").json()
    assert FOREIGN not in [site["origin"] for site in sites]
    assert httpx.get(svc.url + "/v1/devices", headers=as_site(token)).status_code == 401
    expect(page.locator("#sites-empty")).to_be_visible()

    # the log level, as the page sets it
    with svc.client() as http:
        assert http.get("/v1/admin/log").json()["level"] == "INFO"
        for level in ("DEBUG", "WARNING"):
            page.get_by_label("Log level").select_option(level)
            expect(page.locator("#log-status")).to_contain_text(
                STRINGS["en"]["logLevel"][level])
            assert http.get("/v1/admin/log").json()["level"] == level

    # an API key: created (shown once), usable, revoked
    page.get_by_label("Name", exact=True).fill("robot")
    page.locator('#key-scopes input[value="upload"]').check()
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-key-value")
    expect(secret).to_have_text(re.compile(r"^slk_"))
    key = secret.inner_text()
    robot = {"Authorization": f"Bearer {key}"}
    assert httpx.get(svc.url + "/v1/devices", headers=robot).status_code == 200
    with svc.client() as http:
        listed = {k["name"]: k for k in http.get("/v1/keys").json()}
    assert sorted(listed["robot"]["scopes"]) == ["scan", "upload"]
    expect(page.locator("#keys tr", has_text="robot")).to_have_count(1)
    # the CLI's own key cannot be revoked from the page
    expect(page.get_by_role("button", name="Revoke the key scanlet-cli")).to_be_disabled()
    page.get_by_role("button", name="Revoke the key robot").click()
    expect(page.locator("#keys tr", has_text="robot")).to_have_count(0)
    assert httpx.get(svc.url + "/v1/devices", headers=robot).status_code == 401
    expect(page.locator("#alert")).to_be_hidden()
    assert errors == []


def test_admin_page_says_so_when_the_api_refuses(context: BrowserContext, svc: Service) -> None:
    """As on another origin or with a key without the admin scope: a clear message."""
    problem = {"type": "urn:scanlet:error:origin_not_allowed", "title": "Access denied",
               "status": 403, "code": "origin_not_allowed", "detail": "not Scanlet's page"}
    page = context.new_page()
    errors = watch(page)
    page.route("**/v1/sites", lambda route: route.fulfill(
        status=403, content_type="application/problem+json", body=json.dumps(problem)))
    page.goto(svc.url + "/admin")
    alert = page.get_by_role("alert")  # the page has one (no viewer there)
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(f"{svc.url}/admin")
    expect(alert).to_have_attribute("data-code", "origin_not_allowed")
    assert errors == []


# Demo -------------------------------------------------------------------------------------


def wait_until(check: Callable[[], bool], message: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def upload_pdf(body: bytes, content_type: str) -> bytes:
    """The file part of a multipart/form-data body."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    for part in body.split(b"--" + boundary):
        head, _, data = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            return data.removesuffix(b"\r\n")
    raise AssertionError("no file part")


def test_demo_scans_shows_edits_exports_and_uploads(context: BrowserContext, svc: Service,
                                                    receiver: Receiver,
                                                    tmp_path: Path) -> None:
    page, errors = open_page(context, svc.url + "/demo")
    expect(page.locator("#conn-status")).to_contain_text(svc.url)
    page.get_by_label("Scanner").select_option("sane:test:0")
    expect(page.locator('#source option[value="feeder"]')).to_have_count(1)
    page.get_by_label("Paper source").select_option("feeder")
    page.get_by_label("Colour").select_option("gray")
    page.get_by_label("Resolution").select_option("75")
    page.get_by_label("Number of pages").fill("3")
    page.get_by_role("button", name="Scan", exact=True).click()

    thumbs = page.locator("scanlet-viewer [data-page-id]")
    expect(thumbs).to_have_count(3, timeout=30_000)
    expect(page.locator("#scan-status")).to_have_text("Done: 3 pages scanned.", timeout=30_000)
    document_id = page.evaluate("document.getElementById('viewer').documentId")
    with svc.client() as http:
        pages = http.get(f"/v1/documents/{document_id}/pages").json()
    assert len(pages) == 3
    assert page.evaluate("document.getElementById('viewer').pageIds") == [p["id"] for p in pages]

    # edit with the viewer's tools: rotate the first page a quarter turn
    thumbs.first.click()
    page.locator('scanlet-viewer button[data-action="rotate-right"]').click()
    first = pages[0]

    def rotated() -> bool:
        with svc.client() as http:
            now = http.get(f"/v1/pages/{first['id']}").json()
        return bool(now["width"] == first["height"] and now["height"] == first["width"])

    wait_until(rotated, "the page was not rotated")
    page.wait_for_function("() => !document.getElementById('viewer').busy")

    # export: a real download of a 3-page PDF, the first page turned
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename == "scanlet-demo.pdf"
    saved = tmp_path / "demo.pdf"
    download.save_as(saved)
    with pikepdf.open(saved) as pdf:
        assert len(pdf.pages) == 3
        sizes = [(float(p.mediabox[2]), float(p.mediabox[3])) for p in pdf.pages]
    assert sizes[0] == (sizes[1][1], sizes[1][0]) and sizes[1] == sizes[2]
    expect(page.locator("#export-status")).to_contain_text("scanlet-demo.pdf")

    # upload to a URL: the task's progress and the server's answer are shown
    page.get_by_label("Upload to (URL)").fill(receiver.origin + "/inbox")
    page.get_by_role("button", name="Upload PDF").click()
    expect(page.locator("#upload-status")).to_have_text(
        "Uploaded: the server answered 201.", timeout=30_000)
    expect(page.locator("#upload-result")).to_be_visible()
    expect(page.locator("#upload-body")).to_contain_text('"stored"')
    assert len(receiver.bodies) == 1
    path, headers, body = receiver.bodies[0]
    assert path == "/inbox"
    uploaded = tmp_path / "uploaded.pdf"
    uploaded.write_bytes(upload_pdf(body, headers["content-type"]))
    with pikepdf.open(uploaded) as pdf:
        assert len(pdf.pages) == 3

    expect(page.locator("#alert")).to_be_hidden()
    screenshots(page, "demo")
    assert errors == []


def test_demo_shows_guidance_when_the_service_stopped(context: BrowserContext,
                                                     svc: Service) -> None:
    page, errors = open_page(context, svc.url + "/demo")
    expect(page.locator("#conn-status")).to_contain_text(svc.url)
    expect(page.locator("#scan")).to_be_enabled()
    guidance = page.evaluate("""async () => {
        const sdk = await import("/sdk/scanlet.js");
        return new sdk.NotRunningError(["x"]).guidance;
    }""")
    assert "not running" in guidance
    svc.kill()
    page.get_by_role("button", name="Reconnect").click()
    alert = page.locator("#alert")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_have_attribute("data-code", "service_not_running")
    expect(alert.locator(".alert-title")).to_have_text(
        STRINGS["en"]["errors"]["service_not_running"])
    expect(alert.locator(".alert-text")).to_have_text(guidance)
    expect(page.locator("#conn-status")).to_have_text(STRINGS["en"]["demo"]["notConnected"])
    expect(page.locator("#scan")).to_be_disabled()
    # Retry keeps working (and keeps failing) without breaking the page
    page.get_by_role("button", name="Retry").first.click()
    expect(page.locator("#connect")).to_be_enabled()
    expect(alert).to_have_attribute("data-code", "service_not_running")
    page.wait_for_timeout(300)
    assert errors == []
