"""Shared helpers for browser tests of the JavaScript SDK (and later the viewer and pages).

``SdkServer`` is a foreign web origin (a small HTTP server of the test on another loopback
port) that serves the SDK's files from ``sdk-js/src`` at ``/sdk/<file>``, test pages the tests
write, and an upload target at ``/upload`` that keeps what it received. The tests therefore
do not depend on the service's own ``/sdk`` route.

Plain helpers, no pytest fixtures: a test module wraps them in fixtures of the scope it needs.
"""

from __future__ import annotations

import json
import mimetypes
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page

from tests.conftest import Service, make_home, start_service

REPO = Path(__file__).resolve().parents[2]
SDK_DIR = REPO / "sdk-js"
SDK_SRC = SDK_DIR / "src"
#: Largest request body the upload target keeps (bytes).
MAX_UPLOAD = 50 * 2**20

_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
          ".json": "application/json", ".html": "text/html; charset=utf-8",
          ".svg": "image/svg+xml"}

#: A page that loads the SDK as ``window.sdk`` and offers helpers to the tests:
#: ``describeError(e)`` (a plain object of an error's class and fields) and
#: ``blobBase64(blob)`` (a Blob's bytes as base64, to check them in Python).
SDK_PAGE = """<!doctype html><html lang=en><head><meta charset=utf-8>
<title>SDK test page</title></head><body>
<button id=pair type=button>Pair</button>
<p id=status>loading</p>
<script type=module>
import * as sdk from "/sdk/scanlet.js";
window.sdk = sdk;
window.describeError = (e) => ({
  name: e && e.name, message: String(e && e.message), code: e && e.code,
  status: e && e.status, title: e && e.title, detail: e && e.detail,
  guidance: e && e.guidance, field: e && e.field, problem: e && e.problem,
  urls: e && e.urls, permission: e && e.permission,
  isScanletError: e instanceof sdk.ScanletError,
  classes: Object.entries(sdk).filter(([, v]) => typeof v === "function" && v.prototype
      instanceof Error && e instanceof v).map(([k]) => k).sort(),
});
window.blobBase64 = async (blob) => {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
};
// Pairing starts on a click (a user gesture, so the consent popup may open).
document.getElementById("pair").addEventListener("click", () => {
  window.pairResult = null;
  window.pairError = null;
  const onCode = (code, url) => { window.pairCode = code; window.consentUrl = url; };
  window.client.pair({ appName: "SDK test", pollMs: 200, onCode })
    .then((r) => { window.pairResult = r; }, (e) => { window.pairError = describeError(e); });
});
document.getElementById("status").textContent = "ready";
window.sdkReady = true;
</script></body></html>"""


@dataclass
class Upload:
    """One request the upload target received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class SdkServer:
    """A web origin of the test: the SDK at /sdk/, pages, and an upload target at /upload."""

    pages: dict[str, str] = field(default_factory=lambda: {"/": SDK_PAGE})
    uploads: list[Upload] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path in server.pages:
                    self._send(200, server.pages[path].encode(), _TYPES[".html"])
                    return
                file = server.sdk_file(path)
                if file is None:
                    self._send(404, b"not found", "text/plain")
                    return
                kind = _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] \
                    or "application/octet-stream"
                self._send(200, file.read_bytes(), kind)

            def _receive(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_UPLOAD:
                    self._send(413, b"too large", "text/plain")
                    return
                body = self.rfile.read(length)
                server.uploads.append(Upload(self.command, self.path,
                                             {k.lower(): v for k, v in self.headers.items()},
                                             body))
                answer = json.dumps({"received": len(body)}).encode()
                self._send(200, answer, "application/json")

            def do_POST(self) -> None:
                self._receive()

            def do_PUT(self) -> None:
                self._receive()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=f"sdk-server-{self.port}")
        self._thread.start()

    @staticmethod
    def sdk_file(path: str) -> Path | None:
        """The file under sdk-js/src for ``/sdk/<name>`` (None outside it or missing)."""
        if not path.startswith("/sdk/"):
            return None
        root = SDK_SRC.resolve()
        candidate = (root / path.removeprefix("/sdk/")).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return None
        return candidate

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def sdk_server() -> Iterator[SdkServer]:
    server = SdkServer()
    try:
        yield server
    finally:
        server.close()


def start_sdk_service(home: Path, *, allowed_origins: list[str],
                      upload_dev_targets: list[str] | None = None,
                      extra_config: str = "") -> Service:
    """A service whose admin allowed ``allowed_origins`` (they get a token without consent)
    and whose uploads may go to the loopback ``upload_dev_targets``."""
    make_home(home)
    lines = ["[security]", f"allowed_origins = {', '.join(allowed_origins)}"]
    if upload_dev_targets:
        lines += ["[upload]", f"dev_targets = {', '.join(upload_dev_targets)}"]
    with open(home / "user.ini", "a") as fh:
        fh.write("\n" + "\n".join(lines) + "\n" + extra_config.strip() + "\n")
    return start_service(home)


def open_sdk_page(context: BrowserContext, url: str) -> Page:
    """Open a page that loads the SDK; wait until ``window.sdk`` is there."""
    page = context.new_page()
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    page.wait_for_function("window.sdkReady === true")
    return page


def connect_page(page: Page, service_url: str, *, pair: bool = True) -> None:
    """``window.client = await sdk.connect(...)`` (and pair, for an admin-allowed origin)."""
    page.evaluate("""async ([url, pair]) => {
        window.client = await window.sdk.connect({ urls: [url], timeoutMs: 3000 });
        if (pair) await window.client.pair({ scopes: ["scan", "upload", "files"] });
    }""", [service_url, pair])


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
