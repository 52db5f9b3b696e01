"""The JavaScript SDK (sdk-js/src/scanlet.js) in real headless Chromium against a real service.

The SDK is loaded by a test page from a foreign origin (``SdkServer``, another loopback port),
which the service's admin allowed (``[security] allowed_origins``), so ``pair()`` gets a token
at once; the consent flow is tested with a second origin the admin did not allow. One service
and one browser serve the whole module. What the browser sent (WebSocket handshakes) is read
from the DevTools protocol; the exported files are checked in Python (pikepdf, qpdf).
"""

from __future__ import annotations

import base64
import io
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page

from tests.conftest import Service
from tests.devices.test_listing_cache import offer_test_devices
from tests.security.browser import NetworkLog
from tests.web.sdk_fixtures import (
    SdkServer,
    connect_page,
    free_port,
    open_sdk_page,
    start_sdk_service,
)

pytestmark = pytest.mark.timeout(60)

FEEDER_3 = {"device": "sane:test:0", "source": "feeder", "mode": "gray", "resolution": 75,
            "pages": 3}


# Fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site() -> Iterator[SdkServer]:
    """The partner web app: an origin the admin allowed, also its own upload target."""
    server = SdkServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def stranger() -> Iterator[SdkServer]:
    """A web app the admin did not allow: it must pair through the consent page."""
    server = SdkServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, site: SdkServer) -> Iterator[Service]:
    home = tmp_path_factory.mktemp("sdk") / "home"
    svc = start_sdk_service(home, allowed_origins=[site.origin],
                            upload_dev_targets=[site.origin])
    yield svc
    svc.kill(signal.SIGTERM)


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    ctx = chromium.new_context(accept_downloads=True)
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext, site: SdkServer, service: Service) -> Page:
    """The partner's page with ``window.client`` connected and paired."""
    opened = open_sdk_page(context, site.url())
    connect_page(opened, service.url)
    return opened


# Helpers ----------------------------------------------------------------------------------

def run(page: Page, script: str, arg: Any = None) -> Any:
    """Evaluate an async function in the page; JS errors come back as described objects."""
    wrapped = f"""async (arg) => {{
        try {{ return {{ ok: true, value: await ({script})(arg) }}; }}
        catch (e) {{ return {{ ok: false, error: window.describeError(e) }}; }}
    }}"""
    result: dict[str, Any] = page.evaluate(wrapped, arg)
    assert result["ok"], result["error"]
    return result["value"]


def run_error(page: Page, script: str, arg: Any = None) -> dict[str, Any]:
    """Evaluate an async function that must throw; the error, described."""
    wrapped = f"""async (arg) => {{
        try {{ await ({script})(arg); return null; }}
        catch (e) {{ return window.describeError(e); }}
    }}"""
    error: dict[str, Any] | None = page.evaluate(wrapped, arg)
    assert error is not None, "the call did not fail"
    return error


def png_bytes(size: tuple[int, int] = (300, 400)) -> bytes:
    """A small grey PNG with some structure (not blank)."""
    image = Image.new("L", size, 255)
    for x in range(20, size[0] - 20, 10):
        for y in range(20, size[1] - 20):
            image.putpixel((x, y), 0)
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(100, 100))
    return out.getvalue()


def import_png(page: Page, name: str) -> tuple[str, list[dict[str, Any]]]:
    """A new document with one imported PNG page (through the SDK): (document id, pages)."""
    data = base64.b64encode(png_bytes()).decode()
    value: dict[str, Any] = run(page, """async ([name, data]) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const doc = await window.client.createDocument({ name, tags: ["sdk-test"] });
        const pages = await window.client.importFile(doc.id,
            new Blob([bytes], { type: "image/png" }), { dpi: 100 });
        return { doc: doc.id, pages };
    }""", [name, data])
    return value["doc"], value["pages"]


# Connecting -------------------------------------------------------------------------------

def test_connect_checks_the_version_and_an_allowed_origin_pairs_at_once(
        context: BrowserContext, site: SdkServer, service: Service) -> None:
    page = open_sdk_page(context, site.url())
    value = run(page, """async (url) => {
        const client = await window.sdk.connect({ urls: ["http://127.0.0.1:1", url],
                                                  minVersion: "0.1.0", timeoutMs: 3000 });
        const before = client.token;
        const paired = await client.pair({ scopes: ["scan"] });
        return { baseUrl: client.baseUrl, version: client.version, before, paired,
                 token: client.token, health: await client.health(),
                 sdkVersion: window.sdk.SDK_VERSION };
    }""", service.url)
    assert value["baseUrl"] == service.url  # the first URL of the list that answered
    assert value["version"]["name"] == "scanlet" and value["version"]["version"] == "0.1.0"
    assert value["sdkVersion"] == "0.1.0"
    assert value["before"] is None
    paired = value["paired"]
    assert paired["token"].startswith("slt_") and paired["token"] == value["token"]
    assert paired["scopes"] == ["scan"] and paired["origin"] == site.origin
    assert isinstance(paired["expiresAt"], float)
    assert value["health"]["status"] == "ok"
    assert len(context.pages) == 1  # no consent window for an admin-allowed origin

    too_old = run_error(page, """(url) => window.sdk.connect({ urls: [url],
                                                               minVersion: "99.0" })""",
                        service.url)
    assert too_old["code"] == "version_mismatch" and too_old["name"] == "VersionError"
    assert too_old["isScanletError"] and too_old["guidance"]


def test_connect_without_a_service_rejects_with_not_running(
        context: BrowserContext, site: SdkServer) -> None:
    page = open_sdk_page(context, site.url())
    urls = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    error = run_error(page, "(urls) => window.sdk.connect({ urls, timeoutMs: 2000 })", urls)
    assert error["name"] == "NotRunningError" and error["code"] == "service_not_running"
    assert error["classes"] == ["NotRunningError", "ScanletError"]
    assert error["urls"] == urls and error["status"] is None
    assert "not running" in error["guidance"] and "install" in error["guidance"]


def test_a_denied_local_network_permission_is_reported(
        context: BrowserContext, site: SdkServer, service: Service) -> None:
    """Chrome's permission state is simulated (headless Chromium has no way to deny it):
    "loopback-network" is unknown (throws, as older browsers do), "local-network-access"
    is denied. A service that answers anyway is still found."""
    context.add_init_script("""(() => {
        const query = navigator.permissions.query.bind(navigator.permissions);
        navigator.permissions.query = async (descriptor) => {
            if (descriptor && descriptor.name === "local-network-access")
                return { state: "denied", name: descriptor.name };
            if (descriptor && descriptor.name === "loopback-network")
                throw new TypeError("unknown permission");
            return query(descriptor);
        };
    })()""")
    page = open_sdk_page(context, site.url())
    dead = [f"http://127.0.0.1:{free_port()}"]
    error = run_error(page, "(urls) => window.sdk.connect({ urls, timeoutMs: 1000 })", dead)
    assert error["name"] == "LocalNetworkPermissionError"
    assert error["code"] == "local_network_permission" and error["isScanletError"]
    assert error["permission"] == "local-network-access"
    assert "local network" in error["guidance"]
    found = run(page, "async (url) => (await window.sdk.connect({ urls: [url] })).baseUrl",
                service.url)
    assert found == service.url


def test_an_unknown_site_pairs_through_the_consent_page(
        context: BrowserContext, stranger: SdkServer, service: Service) -> None:
    """Before pairing the site's requests are blocked (NetworkError); pair() shows the code,
    opens Scanlet's consent page (the test clicks Allow there) and collects the token."""
    page = open_sdk_page(context, stranger.url())
    connect_page(page, service.url, pair=False)
    blocked = run_error(page, "() => window.client.devices()")
    assert blocked["name"] == "NetworkError" and blocked["code"] == "network_error"
    assert "pair" in blocked["guidance"].lower()

    with context.expect_page() as popup_info:
        page.click("#pair")
    popup = popup_info.value
    popup.wait_for_load_state()
    page.wait_for_function("typeof window.pairCode === 'string'")
    assert popup.url == page.evaluate("window.consentUrl")
    assert popup.url.startswith(service.url + "/pair/")
    assert popup.inner_text("#origin") == stranger.origin
    assert popup.inner_text("#code") == page.evaluate("window.pairCode")
    with popup.expect_navigation():
        popup.click("#allow")
    page.wait_for_function("window.pairResult !== null || window.pairError !== null")
    assert page.evaluate("window.pairError") is None
    result = page.evaluate("window.pairResult")
    assert result["token"].startswith("slt_") and result["scopes"] == ["scan"]
    assert result["origin"] == stranger.origin
    devices = run(page, "async () => (await window.client.devices()).map((d) => d.id)")
    assert "sane:test:0" in devices


def test_pairing_can_be_aborted_and_denied(context: BrowserContext, service: Service) -> None:
    """An AbortSignal stops the polling (AbortError); a Deny on the consent page (opened by
    the test itself, as with ``openConsent: false``) rejects with PairingError
    ``pairing_denied``."""
    server = SdkServer()
    try:
        page = open_sdk_page(context, server.url())
        connect_page(page, service.url, pair=False)
        aborted = page.evaluate("""async () => {
            const controller = new AbortController();
            const onCode = () => setTimeout(() => controller.abort(), 300);
            try {
                await window.client.pair({ openConsent: false, pollMs: 100, onCode,
                                           signal: controller.signal });
                return null;
            } catch (e) { return e.name; }
        }""")
        assert aborted == "AbortError"
        assert len(context.pages) == 1  # openConsent: false opened nothing

        page.evaluate("""() => {
            window.denied = null;
            window.client.pair({ openConsent: false, pollMs: 100,
                                 onCode: (code, url) => { window.consentUrl = url; } })
                .then(() => { window.denied = "paired"; },
                      (e) => { window.denied = window.describeError(e); });
        }""")
        page.wait_for_function("typeof window.consentUrl === 'string'")
        consent = context.new_page()
        consent.goto(page.evaluate("window.consentUrl"))
        with consent.expect_navigation():
            consent.click("#deny")
        page.wait_for_function("window.denied !== null")
        denied = page.evaluate("window.denied")
        assert denied["name"] == "PairingError" and denied["code"] == "pairing_denied"
        assert denied["status"] == 403 and denied["isScanletError"] and denied["guidance"]
        assert page.evaluate("window.client.token") is None
    finally:
        server.close()


# Devices and scanning ---------------------------------------------------------------------

def test_devices_and_capabilities(page: Page) -> None:
    value = run(page, """async () => {
        const devices = await window.client.devices();
        const one = await window.client.device("sane:test:0");
        const caps = await window.client.capabilities("sane:test:0", { session: true });
        return { devices, one, caps, session: window.client.sessionId };
    }""")
    assert "sane:test:0" in [d["id"] for d in value["devices"]]
    assert value["one"]["id"] == "sane:test:0" and value["one"]["driver"]
    sources = {s["source"]: s for s in value["caps"]["sources"]}
    assert {"flatbed", "feeder"} <= set(sources)
    assert "gray" in sources["feeder"]["color_modes"]
    assert str(value["session"]).startswith("ses_")


def test_devices_change_events_reach_the_page(page: Page, service: Service) -> None:
    """A listing that finds a scanner added (then gone) fires ``deviceschange`` on the client;
    ``devices({refresh: true})`` returns the new listing, plain ``devices()`` the cached one."""
    config = service.home / "sane"
    assert run(page, """async () => {
        window.changes = [];
        window.client.addEventListener("deviceschange", (e) => window.changes.push(e.detail));
        return await window.client.watchDevices();
    }""") is True
    offer_test_devices(config, 3)
    try:
        ids = run(page, """async () => {
            const cached = (await window.client.devices()).map((d) => d.id);
            const fresh = (await window.client.devices({ refresh: true })).map((d) => d.id);
            return { cached, fresh };
        }""")
        assert "sane:test:2" not in ids["cached"] and "sane:test:2" in ids["fresh"], ids
        page.wait_for_function("window.changes.length >= 1")
        assert run(page, "async () => window.changes") == [
            {"added": ["sane:test:2"], "removed": []}]
    finally:
        offer_test_devices(config, 2)
    fresh = run(page, """async () =>
        (await window.client.devices({ refresh: true })).map((d) => d.id)""")
    assert "sane:test:2" not in fresh
    page.wait_for_function("window.changes.length >= 2")
    assert run(page, "async () => window.changes[1]") == {
        "added": [], "removed": ["sane:test:2"]}


def test_feeder_scan_streams_pages_then_reorder_rotate_delete_and_export(
        context: BrowserContext, page: Page, service: Service, tmp_path: Path) -> None:
    log = NetworkLog(context, page)
    scanned = run(page, """async (settings) => {
        const client = window.client;
        const events = [];
        const fromClient = [];
        client.addEventListener("page", (e) => fromClient.push(e.detail.page.id));
        const job = client.scan(settings);
        job.addEventListener("page", (e) =>
            events.push(["page", e.detail.page.id, e.detail.pagesStored]));
        job.addEventListener("progress", (e) => events.push(["progress", e.detail.fraction]));
        job.addEventListener("state", (e) => events.push(["state", e.detail.job.state]));
        const final = await job;
        events.push(["done", final.state]);
        return { events, final, id: job.id, documentId: job.documentId, fromClient,
                 jobPages: job.pages.map((p) => p.id), session: client.sessionId };
    }""", FEEDER_3)
    events = scanned["events"]
    kinds = [e[0] for e in events]
    pages = [e for e in events if e[0] == "page"]
    assert [e[2] for e in pages] == [1, 2, 3], events
    assert kinds[-1] == "done" and max(i for i, k in enumerate(kinds) if k == "page") \
        < kinds.index("done")
    assert "progress" in kinds and ["state", "completed"] in events
    assert scanned["final"]["state"] == "completed" and scanned["final"]["pages_stored"] == 3
    ids = [e[1] for e in pages]
    assert scanned["jobPages"] == ids and scanned["fromClient"] == ids
    doc = scanned["documentId"]

    # The session and the job's events came over WebSockets carrying the token.
    sockets = {entry["url"]: entry for entry in log.websockets.values()}
    ws_base = "ws" + service.url.removeprefix("http")
    for path in ("/v1/session", f"/v1/jobs/{scanned['id']}/events"):
        entry = sockets[ws_base + path]
        assert entry.get("status") == 101, entry
        offered = entry["request_headers"]["sec-websocket-protocol"]
        assert offered.startswith("scanlet, scanlet.bearer.slt_"), offered
        assert entry["response_headers"]["sec-websocket-protocol"] == "scanlet"
    log.detach()

    listed = run(page, "(doc) => window.client.pages(doc)", doc)
    assert [p["id"] for p in listed] == ids
    moved = run(page, "([doc, id]) => window.client.movePages(doc, [id], 0)", [doc, ids[2]])
    assert [p["id"] for p in moved] == [ids[2], ids[0], ids[1]]
    order = [ids[1], ids[2], ids[0]]
    ordered = run(page, "([doc, order]) => window.client.setPageOrder(doc, order)", [doc, order])
    assert [p["id"] for p in ordered] == order

    before = listed[1]  # ids[1], now first
    rotated = run(page, "(id) => window.client.rotate(id, 90)", ids[1])
    assert rotated["version"] == 1
    assert (rotated["width"], rotated["height"]) == (before["height"], before["width"])

    thumb = run(page, """async (id) => {
        const url = await window.client.thumbnailUrl(id);
        const img = new Image();
        img.src = url;
        await img.decode();
        URL.revokeObjectURL(url);
        return { url, width: img.naturalWidth, height: img.naturalHeight };
    }""", ids[1])
    assert thumb["url"].startswith("blob:" + page.evaluate("location.origin"))
    assert 0 < thumb["width"] <= 200 and 0 < thumb["height"] <= 200
    assert thumb["width"] > thumb["height"]  # the rotated version

    run(page, "([doc, id]) => window.client.deletePages(doc, [id])", [doc, ids[2]])
    remaining = run(page, "async (doc) => (await window.client.pages(doc)).map((p) => p.id)",
                    doc)
    assert remaining == [ids[1], ids[0]]

    pdf_b64 = run(page, """async (doc) => {
        const blob = await window.client.export(doc, { format: "pdf", title: "SDK test" });
        if (blob.type !== "application/pdf") throw new Error("type " + blob.type);
        return window.blobBase64(blob);
    }""", doc)
    exported = tmp_path / "export.pdf"
    exported.write_bytes(base64.b64decode(pdf_b64))
    subprocess.run(["qpdf", "--check", str(exported)], check=True, capture_output=True)
    with pikepdf.open(exported) as pdf:
        assert len(pdf.pages) == 2
        boxes = [[float(v) for v in p.mediabox] for p in pdf.pages]
        assert boxes[0][2] > boxes[0][3]  # the rotated page first: landscape
        assert boxes[1][2] < boxes[1][3]
        assert str(pdf.docinfo.get("/Title")) == "SDK test"

    with page.expect_download() as download_info:
        name = run(page, "(doc) => window.client.download(doc, { fileName: 'scan.pdf' })", doc)
    assert name == "scan.pdf"
    download = download_info.value
    assert download.suggested_filename == "scan.pdf"
    saved = tmp_path / "download.pdf"
    download.save_as(saved)
    with pikepdf.open(saved) as pdf:
        assert len(pdf.pages) == 2


def test_cancel_keeps_the_pages_stored(page: Page) -> None:
    value = run(page, """async () => {
        const job = window.client.scan({ device: "sane:test:0", source: "feeder", mode: "gray",
            resolution: 75, pages: "all",
            raw_options: { read_delay: true, read_delay_duration: 20000 } });
        await new Promise((resolve) => job.addEventListener("page", resolve, { once: true }));
        await job.cancel();
        const final = await job;
        await job.cancel();  // a finished job: nothing happens
        return { final, pages: job.pages.length };
    }""")
    assert value["final"]["state"] == "cancelled"
    assert value["final"]["pages_stored"] >= 1 and value["pages"] >= 1


def test_documents_editing_and_processing_calls(page: Page) -> None:
    doc, [imported] = import_png(page, "Edit me")
    value = run(page, """async ([doc, id]) => {
        const c = window.client;
        const cropped = await c.crop(id, [10, 20, 110, 220]);
        const turned = await c.rotateRight(id);
        const back = await c.undo(id);
        const original = await c.undo(id, { toOriginal: true });
        const edited = await c.editPage(id, [{ op: "gray" }, { op: "invert" }],
                                        { output: "png" });
        const tagged = await c.updatePage(id, { tags: ["t1"], metadata: { k: "v" } });
        const renamed = await c.updateDocument(doc, { name: "Renamed", tags: ["x"] });
        const listed = (await c.documents()).map((d) => d.id);
        const blank = await c.isBlank(id, { sensitivity: 50 });
        const codes = await c.barcodes(id, { region: { left: 0, top: 0, width: 100,
                                                       height: 100 } });
        const byPage = await c.documentBarcodes(doc);
        const image = await c.pageImage(id, { width: 50, format: "jpeg" });
        await c.deleteDocument(doc);
        let gone = null;
        try { await c.document(doc); } catch (e) { gone = e.code; }
        return { cropped, turned, back, original, edited, tagged, renamed, listed, blank,
                 codes, byPage, imageType: image.type, gone };
    }""", [doc, imported["id"]])
    assert (value["cropped"]["width"], value["cropped"]["height"]) == (100, 200)
    assert value["cropped"]["version"] == 1
    assert (value["turned"]["width"], value["turned"]["height"]) == (200, 100)
    assert value["back"]["version"] == 1 and value["back"]["width"] == 100
    assert value["original"]["version"] == 0 and value["original"]["width"] == 300
    assert value["edited"]["page"]["format"] == "png" and "steps" in value["edited"]["report"]
    assert value["tagged"]["tags"] == ["t1"] and value["tagged"]["metadata"]["k"] == "v"
    assert value["renamed"]["name"] == "Renamed" and doc in value["listed"]
    assert value["blank"]["blank"] is False and value["blank"]["sensitivity"] == 50
    assert value["codes"] == [] and value["byPage"] == {imported["id"]: []}
    assert value["imageType"] == "image/jpeg"
    assert value["gone"] == "document_not_found"


# Tasks ------------------------------------------------------------------------------------

def test_upload_task_reports_progress_and_reaches_the_site(page: Page, site: SdkServer) -> None:
    doc, pages = import_png(page, "Upload me")
    assert len(pages) == 1 and pages[0]["width"] == 300 and pages[0]["dpi"] == 100
    site.uploads.clear()
    value = run(page, """async ([doc, url]) => {
        const progress = [];
        const states = [];
        const task = window.client.upload(doc, { url, fields: { invoice: "42" },
                                                 fileName: "upload.pdf" });
        task.addEventListener("progress", (e) => progress.push(e.detail));
        task.addEventListener("state", (e) => states.push(e.detail.task.state));
        const ready = await task.ready;
        const final = await task;
        return { ready, final, progress, states };
    }""", [doc, site.url("/upload")])
    assert value["ready"]["kind"] and value["final"]["state"] == "completed"
    assert value["final"]["result"]["status"] == 200
    assert value["progress"] and value["progress"][-1]["unit"] == "bytes"
    assert value["progress"][-1]["done"] == value["progress"][-1]["total"] > 0
    assert value["states"][-1] == "completed"
    [upload] = site.uploads
    assert upload.method == "POST" and upload.path == "/upload"
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert b'name="invoice"' in upload.body and b"42" in upload.body
    assert b'filename="upload.pdf"' in upload.body and b"%PDF-" in upload.body


def test_ocr_task_gives_its_file(page: Page) -> None:
    doc, _ = import_png(page, "Read me")
    value = run(page, """async (doc) => {
        const languages = await window.client.ocrLanguages();
        const progress = [];
        const task = window.client.ocr(doc, { lang: "eng", output: "text" });
        task.addEventListener("progress", (e) => progress.push(e.detail));
        const final = await task;
        const file = await task.file();
        return { languages, final, progress, type: file.type, size: file.size };
    }""", doc)
    assert "eng" in value["languages"]
    assert value["final"]["state"] == "completed" and value["final"]["kind"]
    assert value["progress"][-1]["done"] == value["progress"][-1]["total"] == 1
    assert value["type"].startswith("text/plain")


# Errors -----------------------------------------------------------------------------------

def test_service_problems_become_typed_errors(page: Page) -> None:
    missing = run_error(page, "() => window.client.document('doc_doesnotexist')")
    assert missing["name"] == "ScanletError" and missing["isScanletError"]
    assert missing["code"] == "document_not_found" and missing["status"] == 404
    assert missing["problem"]["code"] == "document_not_found" and missing["detail"]

    bad = run_error(page, """() => window.client.scan({ device: "sane:test:0",
                                                          source: "duplex" }).ready""")
    assert bad["code"] == "unsupported_source" and bad["status"] == 422
    assert bad["field"] == "source"

    not_a_device = run_error(page, "() => window.client.capabilities('sane:nothing:9')")
    assert not_a_device["code"] == "device_not_found"
    assert "scanner" in not_a_device["guidance"]

    bad_edit = run_error(page, "(id) => window.client.crop(id, [10, 10, 5, 5])", "pg_nothing")
    assert bad_edit["code"] == "page_not_found" and bad_edit["status"] == 404

    done_rejects = run_error(page, """async () => {
        const job = window.client.scan({ device: "sane:test:0", source: "duplex" });
        await job;  // the job never started: awaiting it rejects too
    }""")
    assert done_rejects["code"] == "unsupported_source"


def test_a_failed_job_rejects_with_its_error_code(context: BrowserContext,
                                                  site: SdkServer) -> None:
    """A job that fails on the scanner (here reported by a stand-in client, because web pages
    may not set the test backend's text options that make it fail) rejects ``done`` with the
    job's error code; without a socket the job is polled until it finished."""
    page = open_sdk_page(context, site.url())
    error = run_error(page, """async () => {
        let polls = 0;
        const client = {
            _closed: false, _emit() {},
            _openSocket() { throw new Error("no socket"); },
            _forgetSocket() {},
            pages: async () => [],
            job: async (id) => ({ id, document_id: "doc_x", pages_stored: 0,
                state: ++polls < 2 ? "running" : "failed",
                error: polls < 2 ? null : { code: "feeder_empty", message: "no paper",
                                            detail: {} } }),
        };
        const job = new window.sdk.ScanJob(client,
            Promise.resolve({ id: "job_x", state: "pending", document_id: "doc_x" }));
        await job;
    }""")
    assert error["name"] == "ScanletError" and error["code"] == "feeder_empty"
    assert error["detail"] == "no paper" and error["status"] is None
    assert error["guidance"] == "Put paper in the document feeder, then scan again."

