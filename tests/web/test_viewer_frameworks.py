"""``<scanlet-viewer>`` inside React 18 and Vue 3 in real headless Chromium.

docs/sdk.md says the viewer "works in plain pages, React and Vue". These tests load the
frameworks as a site without a bundler would (React's UMD builds, Vue's esm-browser build
that compiles its template at runtime), in both their development builds (which report
misuse as console warnings and errors) and their production builds, at the exact versions of
sdk-js/package.json's devDependencies (``npm ci --prefix sdk-js``; missing is a failure).

The pages (tests/web/frameworks/) come from another loopback origin than the service, import
the SDK and the viewer from sdk-js/src, pair with a real ``scanlet serve --demo`` that lets
their origin pair at once (``[security] allowed_origins``), and keep the viewer's selection
in framework state shown in the DOM. Each test: a 3-page document shows 3 thumbnails;
clicking one updates the framework's text; a re-render unrelated to the viewer keeps the
same element, its pages (no reload) and its selection; the viewer's own rotate button turns
the page on the service (version 1); switching ``documentId`` through framework state shows
a 2-page document, and back. No page error, console error or warning, or CSP violation.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.conftest import Service, make_home, start_service
from tests.helpers import job_events
from tests.web.viewer_fixtures import CSP, ROOT, ViewerOrigin, allowed_origin_config

pytestmark = pytest.mark.timeout(60)

PAGES_DIR = Path(__file__).resolve().parent / "frameworks"
SDK_DIR = ROOT / "sdk-js"
NODE_MODULES = SDK_DIR / "node_modules"
#: /vendor/<build>/<name> -> the file of sdk-js/node_modules it serves.
VENDOR = {
    "dev": {"react.js": "react/umd/react.development.js",
            "react-dom.js": "react-dom/umd/react-dom.development.js",
            "vue.js": "vue/dist/vue.esm-browser.js"},
    "prod": {"react.js": "react/umd/react.production.min.js",
             "react-dom.js": "react-dom/umd/react-dom.production.min.js",
             "vue.js": "vue/dist/vue.esm-browser.prod.js"},
}
#: Scanner pages with a picture (so a rotation shows), small and quick.
SCAN: dict[str, Any] = {"device": "sane:test:0", "source": "feeder", "mode": "color",
                        "resolution": 75, "raw_options": {"test_picture": "Color pattern"}}


class FrameworkOrigin(ViewerOrigin):
    """The web developer's site: the framework pages, their vendor files and /sdk/."""

    def url(self, framework: str, **query: str) -> str:
        return f"{self.origin}/{framework}.html?{urlencode({'service': self.service_url, **query})}"

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        headers = {"Cache-Control": "no-store"}
        name = path.removeprefix("/")
        if name in ("react.html", "vue.html"):
            build = "prod" if query.get("build") == "prod" else "dev"
            body = (PAGES_DIR / name).read_text().replace("__BUILD__", build).encode()
            ctype = "text/html; charset=utf-8"
            csp = CSP.format(service=self.service_url,
                             ws="ws" + self.service_url.removeprefix("http"))
            if name == "vue.html":  # Vue's runtime template compiler uses new Function()
                csp = csp.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")
            headers["Content-Security-Policy"] = csp
        elif name in ("common.js", "react-app.js", "vue-app.js", "app.css"):
            body = (PAGES_DIR / name).read_bytes()
            ctype = mimetypes.guess_type(name)[0] or "text/plain"
            ctype = ("text/javascript" if name.endswith(".js") else ctype) + "; charset=utf-8"
        elif path.startswith("/vendor/") and path.count("/") == 3:
            _, _, build, file = path.split("/")
            relative = VENDOR.get(build, {}).get(file)
            if relative is None:
                self._send(handler, 404, b"not found", "text/plain", headers)
                return
            body = (NODE_MODULES / relative).read_bytes()
            ctype = "text/javascript; charset=utf-8"
        else:  # /sdk/ (sdk-js/src), /favicon.ico, 404
            super()._serve(handler)
            return
        self._send(handler, 200, body, ctype, headers)


# Fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def origin() -> Iterator[FrameworkOrigin]:
    missing = [rel for files in VENDOR.values() for rel in files.values()
               if not (NODE_MODULES / rel).is_file()]
    assert not missing, f"missing {missing}: run npm ci --prefix sdk-js (scripts/install)"
    server = FrameworkOrigin()
    yield server
    server.close()


@pytest.fixture(scope="module")
def svc(origin: FrameworkOrigin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = make_home(tmp_path_factory.mktemp("frameworks") / "home")
    with open(home / "user.ini", "a") as fh:
        fh.write(allowed_origin_config(origin.origin))
    service = start_service(home)
    origin.service_url = service.url
    yield service
    service.kill()


@pytest.fixture
def page(chromium: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A fresh page and the problems it reports: page errors, console errors and warnings."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console.{message.type}: {message.text} ({message.location})")

    tab.on("console", console)
    tab.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    try:
        yield tab, problems
    finally:
        context.close()


# Helpers ----------------------------------------------------------------------------------

def declared_version(package: str) -> str:
    dev: dict[str, str] = json.loads((SDK_DIR / "package.json").read_text())["devDependencies"]
    return dev[package]


def scan_document(svc: Service, pages: int) -> tuple[str, list[str]]:
    """A finished feeder scan with the CLI's key: (document id, page ids)."""
    with svc.client() as client:
        response = client.post("/v1/jobs", json={**SCAN, "pages": pages})
        assert response.status_code == 201, response.text
        job = response.json()
    events = job_events(svc.url, job["id"], timeout=30, headers=svc.auth)
    assert events[-1]["job"]["state"] == "completed", events[-1]
    return job["document_id"], [p["id"] for p in server_pages(svc, job["document_id"])]


def server_pages(svc: Service, document_id: str) -> list[dict[str, Any]]:
    with svc.client() as client:
        response = client.get(f"/v1/documents/{document_id}/pages")
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()
        return result


def wait_thumbs(tab: Page, page_ids: list[str]) -> None:
    """The viewer shows exactly these pages, in order, each with its image loaded."""
    try:
        tab.wait_for_function(
            """(ids) => { const t = window.app.thumbs();
                         return t.length === ids.length
                                && t.every((x, i) => x.id === ids[i] && x.loaded); }""",
            arg=page_ids)
    except PlaywrightTimeoutError:
        shown = tab.evaluate("() => window.app.thumbs()")
        raise AssertionError(f"the viewer shows {shown}, not {page_ids} loaded") from None


def log(tab: Page) -> dict[str, Any]:
    result: dict[str, Any] = tab.evaluate("() => window.app.log")
    return result


# Tests ------------------------------------------------------------------------------------

CASES = [
    pytest.param("react", {"build": "dev"}, id="react18-dev"),
    pytest.param("react", {"build": "prod"}, id="react18-prod"),
    # A new onSelect on every render (not memoized): the listener effect runs first, so the
    # selectionchange a documentId change fires is not lost (see docs/sdk.md's snippet).
    pytest.param("react", {"build": "dev", "onselect": "inline"}, id="react18-dev-inline-onselect"),
    pytest.param("vue", {"build": "dev", "bind": "attr"}, id="vue3-dev-document-id-attribute"),
    pytest.param("vue", {"build": "prod", "bind": "attr"}, id="vue3-prod-document-id-attribute"),
    pytest.param("vue", {"build": "dev", "bind": "prop"}, id="vue3-dev-documentId-prop"),
]


@pytest.mark.parametrize(("framework", "query"), CASES)
def test_viewer_in_framework(framework: str, query: dict[str, str], svc: Service,
                             origin: FrameworkOrigin, page: tuple[Page, list[str]]) -> None:
    tab, problems = page
    doc_a, (a1, a2, a3) = scan_document(svc, 3)
    doc_b, (b1, b2) = scan_document(svc, 2)

    response = tab.goto(origin.url(framework, **query, docs=f"{doc_a},{doc_b}"))
    assert response is not None and response.status == 200
    tab.wait_for_function("() => window.app && window.app.ready")
    tab.evaluate("() => window.app.ready")
    assert log(tab)["readyError"] is None, log(tab)["readyError"]
    package = "react" if framework == "react" else "vue"
    assert tab.evaluate("() => window.app.framework") == f"{package} {declared_version(package)}"

    # The framework rendered the viewer; it shows the first document's 3 pages.
    viewer = tab.locator("scanlet-viewer")
    expect(viewer).to_have_count(1)
    wait_thumbs(tab, [a1, a2, a3])
    expect(tab.locator("#document")).to_have_text(doc_a)
    expect(tab.locator("#selection")).to_have_text("")

    # A click in the viewer reaches framework state, which renders it.
    viewer.locator(f'[data-page-id="{a2}"]').click()
    expect(tab.locator("#selection")).to_have_text(a2)
    assert log(tab)["selectionEvents"][-1] == [a2]

    # Re-renders unrelated to the viewer: the same element, patched (data-renders), keeps its
    # pages (not loaded again) and its selection.
    calls, events = log(tab)["pagesCalls"], len(log(tab)["selectionEvents"])
    tab.evaluate("() => { document.querySelector('scanlet-viewer').testMark = 'same'; }")
    tab.locator("#rerender").click()
    tab.locator("#rerender").click()
    expect(tab.locator("#renders")).to_have_text("2")
    expect(viewer).to_have_attribute("data-renders", "2")
    assert tab.evaluate("() => document.querySelector('scanlet-viewer').testMark") == "same"
    wait_thumbs(tab, [a1, a2, a3])
    assert tab.evaluate("() => document.querySelector('scanlet-viewer').selectedPageIds") == [a2]
    expect(tab.locator("#selection")).to_have_text(a2)
    assert log(tab)["pagesCalls"] == calls, "a re-render made the viewer load its pages again"
    assert len(log(tab)["selectionEvents"]) == events

    # The viewer's own rotate button turns the selected page on the service.
    viewer.get_by_role("button", name="Rotate right").click()
    tab.wait_for_function("() => window.app.log.edited.length === 1")
    assert log(tab)["edited"][0]["id"] == a2 and log(tab)["edited"][0]["version"] == 1
    assert [(p["id"], p["version"]) for p in server_pages(svc, doc_a)] == [
        (a1, 0), (a2, 1), (a3, 0)]

    # documentId through framework state: the second document's 2 pages; the selection
    # (of pages no longer shown) is cleared, and the framework hears it.
    tab.locator("#switch").click()
    expect(tab.locator("#document")).to_have_text(doc_b)
    wait_thumbs(tab, [b1, b2])
    expect(tab.locator("#selection")).to_have_text("")
    assert log(tab)["selectionEvents"][-1] == []
    viewer.locator(f'[data-page-id="{b2}"]').click()
    expect(tab.locator("#selection")).to_have_text(b2)
    # And back: the first document again, with the rotated page.
    tab.locator("#switch").click()
    wait_thumbs(tab, [a1, a2, a3])
    rotated = next(p for p in tab.evaluate("() => document.querySelector('scanlet-viewer').pages")
                   if p["id"] == a2)
    assert rotated["version"] == 1
    expect(viewer).to_have_count(1)
    assert tab.evaluate("() => document.querySelector('scanlet-viewer').testMark") == "same"

    final = log(tab)
    assert final["violations"] == [], final["violations"]
    assert final["frameworkErrors"] == [], final["frameworkErrors"]
    assert problems == [], problems
