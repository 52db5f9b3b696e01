"""The whole web flow of issue 7 in Debian's Chromium, as a web application would do it.

A page of a foreign origin (the test's own server on another loopback port) imports the SDK
and the viewer from the service's ``/sdk/``, connects, pairs through Scanlet's consent page
(the test clicks Allow), scans the test scanner's feeder (3 pages, slowed down so the
thumbnails can be seen arriving while the scan runs), rotates one page and drags another to a
new place in the viewer, downloads the PDF export (``qpdf --check``, 3 pages in the new order,
the rotated one landscape) and uploads the document to its own server.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import Service, make_home, start_service
from tests.web.sdk_fixtures import SdkServer

pytestmark = pytest.mark.timeout(120)

#: A foreign web application: it loads Scanlet's SDK and viewer from the service itself.
APP_PAGE = """<!doctype html><html lang=en><head><meta charset=utf-8><title>Invoices</title>
</head><body>
<button id=pair type=button>Connect scanner</button>
<scanlet-viewer id=viewer style="height: 520px"></scanlet-viewer>
<script type=module>
const service = new URLSearchParams(location.search).get("service");
const sdk = await import(service + "/sdk/scanlet.js");
await import(service + "/sdk/viewer.js");
const viewer = document.getElementById("viewer");
const log = { added: [], jobDone: false, errors: [] };
window.app = { sdk, viewer, log };
viewer.addEventListener("pageadded", () => log.added.push({ jobDone: log.jobDone,
  thumbs: viewer.pageIds.length }));
viewer.addEventListener("error", (e) => log.errors.push(String(e.detail.error)));
window.app.client = await sdk.connect({ urls: [service] });
document.getElementById("pair").addEventListener("click", () => {
  window.app.client.pair({ appName: "Invoices", scopes: ["scan", "upload"], pollMs: 200,
                           onCode: (code) => { log.code = code; } })
    .then((r) => { log.paired = r.scopes; }, (e) => { log.pairError = String(e); });
});
window.app.scan = async (settings) => {
  const client = window.app.client;
  const doc = await client.createDocument({ name: "Invoice 7" });
  viewer.client = client;
  viewer.documentId = doc.id;
  const job = client.scan({ ...settings, document_id: doc.id });
  job.done.then(() => { log.jobDone = true; }, (e) => { log.scanError = String(e); });
  return doc.id;
};
window.app.ready = true;
</script></body></html>"""

SCAN = {"device": "sane:test:0", "source": "feeder", "mode": "gray", "resolution": 75,
        "pages": 3, "raw_options": {"read_delay": True, "read_delay_duration": 100000}}


@pytest.fixture(scope="module")
def site() -> Iterator[SdkServer]:
    server = SdkServer(pages={"/": APP_PAGE})
    yield server
    server.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, site: SdkServer) -> Iterator[Service]:
    home = make_home(tmp_path_factory.mktemp("e2e") / "home")
    with open(home / "user.ini", "a") as fh:  # the site is not pre-allowed: it must pair
        fh.write(f"\n[upload]\ndev_targets = {site.origin}\n")
    svc = start_service(home)
    yield svc
    svc.kill()


def pages_of(service: Service, document_id: str) -> list[dict[str, Any]]:
    with service.client() as http:
        answer = http.get(f"/v1/documents/{document_id}/pages")
        assert answer.status_code == 200, answer.text
        pages: list[dict[str, Any]] = answer.json()
        return pages


def thumb_box(page: Page, page_id: str) -> dict[str, float]:
    box = page.locator(f'scanlet-viewer [data-page-id="{page_id}"]').bounding_box()
    assert box is not None
    return {"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]}


def test_scan_view_edit_export_and_upload_from_a_foreign_page(
        chromium: Browser, site: SdkServer, service: Service, tmp_path: Path) -> None:
    context = chromium.new_context(accept_downloads=True,
                                  viewport={"width": 1280, "height": 800})
    try:
        run_flow(context.new_page(), site, service, tmp_path)
    finally:
        context.close()


def run_flow(page: Page, site: SdkServer, service: Service, tmp_path: Path) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.url(f"/?service={service.url}"))
    page.wait_for_function("window.app && window.app.ready === true")

    # Pair: the consent page opens in a window of its own; the user (the test) allows.
    with page.context.expect_page() as popup_info:
        page.click("#pair")
    consent = popup_info.value
    consent.wait_for_load_state()
    page.wait_for_function("typeof window.app.log.code === 'string'")
    assert consent.inner_text("#origin") == site.origin
    assert consent.inner_text("#code") == page.evaluate("window.app.log.code")
    with consent.expect_navigation():
        consent.click("#allow")
    page.wait_for_function("window.app.log.paired || window.app.log.pairError")
    assert page.evaluate("window.app.log.pairError") is None
    assert sorted(page.evaluate("window.app.log.paired")) == ["scan", "upload"]

    # Scan 3 feeder pages: the thumbnails appear while the scan runs.
    document_id = page.evaluate("(s) => window.app.scan(s)", SCAN)
    page.wait_for_function("window.app.log.jobDone || window.app.log.scanError",
                           timeout=60_000)
    assert page.evaluate("window.app.log.scanError") is None
    added = page.evaluate("window.app.log.added")
    assert [a["thumbs"] for a in added] == [1, 2, 3]
    assert not added[0]["jobDone"], "the first page was shown only after the scan finished"
    thumbs = page.locator("scanlet-viewer [part~=thumb]")
    assert thumbs.count() == 3
    page.wait_for_function(
        """() => [...document.querySelector('scanlet-viewer').shadowRoot
                  .querySelectorAll('[part~=thumb] img')]
                 .filter((i) => i.complete && i.naturalWidth > 0).length === 3""")
    first, second, third = (p["id"] for p in pages_of(service, document_id))

    # Rotate the second page right with the viewer's button.
    page.locator(f'scanlet-viewer [data-page-id="{second}"]').click()
    page.locator('scanlet-viewer button[data-action="rotate-right"]').click()
    page.wait_for_function(
        "(id) => window.app.viewer.pages.find((p) => p.id === id).version === 1", arg=second)
    rotated = {p["id"]: p for p in pages_of(service, document_id)}[second]
    assert rotated["version"] == 1 and rotated["width"] > rotated["height"]

    # Drag the first thumbnail below the third.
    source, target = thumb_box(page, first), thumb_box(page, third)
    page.mouse.move(source["x"] + source["width"] / 2, source["y"] + source["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + target["height"] * 0.85,
                    steps=12)
    page.mouse.up()
    order = [second, third, first]
    page.wait_for_function("(o) => JSON.stringify(window.app.viewer.pageIds) === "
                           "JSON.stringify(o)", arg=order)
    assert [p["id"] for p in pages_of(service, document_id)] == order

    # Export: a real browser download of the PDF.
    with page.expect_download() as download_info:
        page.evaluate("(id) => window.app.client.download(id, { format: 'pdf' })",
                      document_id)
    saved = tmp_path / "invoice.pdf"
    download_info.value.save_as(saved)
    check = subprocess.run(["qpdf", "--check", str(saved)], capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    with pikepdf.open(saved) as pdf:
        assert len(pdf.pages) == 3
        boxes = [(float(p.mediabox[2]), float(p.mediabox[3])) for p in pdf.pages]
        # The rotated page (now first) is landscape, the others portrait.
        assert boxes[0][0] > boxes[0][1] and all(w < h for w, h in boxes[1:])
        images = [hashlib.sha256(next(iter(p.get_images().values())).read_raw_bytes()).hexdigest()
                  for p in pdf.pages]
    with service.client() as http:
        for index, page_id in enumerate(order):  # each PDF page is that buffer page
            single = http.get(f"/v1/documents/{document_id}/export",
                              params={"format": "pdf", "pages": page_id})
            assert single.status_code == 200, single.text
            with pikepdf.open(io.BytesIO(single.content)) as one:
                raw = next(iter(one.pages[0].get_images().values())).read_raw_bytes()
                assert hashlib.sha256(raw).hexdigest() == images[index]

    # Upload to the application's own server (its origin: allowed without any admin list).
    before = len(site.uploads)
    result = page.evaluate("""async ([id, url]) => {
        const task = window.app.client.upload(id, { url, fileName: "invoice.pdf",
                                                    fields: { customer: "42" } });
        const done = await task.done;
        return { state: done.state, status: done.result.status };
    }""", [document_id, site.url("/upload")])
    assert result == {"state": "completed", "status": 200}, result
    assert len(site.uploads) == before + 1
    upload = site.uploads[-1]
    assert upload.method == "POST" and upload.headers["content-type"].startswith(
        "multipart/form-data")
    assert b'name="customer"' in upload.body and b'filename="invoice.pdf"' in upload.body
    start = upload.body.index(b"%PDF")
    end = upload.body.rindex(b"%%EOF") + len(b"%%EOF")
    with pikepdf.open(io.BytesIO(upload.body[start:end])) as sent:
        assert len(sent.pages) == 3
        sent_images = [hashlib.sha256(next(iter(p.get_images().values())).read_raw_bytes())
                       .hexdigest() for p in sent.pages]
    assert sent_images == images
    assert page.evaluate("window.app.log.errors") == []
    assert errors == []
    # Nothing of the upload is left in the service's staging folder.
    assert list((service.home / "upload").iterdir()) == []
    # The page's token works only for its origin: the same token from elsewhere is refused.
    token = page.evaluate("window.app.client.token")
    refused = httpx.get(f"{service.url}/v1/devices", timeout=10,
                        headers={"Authorization": f"Bearer {token}",
                                 "Origin": "http://127.0.0.1:1"})
    assert refused.status_code in (401, 403), refused.text
