"""A foreign web origin for the ``<scanlet-viewer>`` browser tests.

``ViewerOrigin`` is a tiny HTTP server on another loopback port (so another origin than the
service) that serves what a web developer's site would: a page with ``<scanlet-viewer>``, the
SDK files copied from ``sdk-js/src`` under ``/sdk/`` (as an npm install would), and a harness
module that connects a client and records what the viewer dispatched. Its HTML carries the
same strict CSP as the service's own pages (no inline scripts, no eval, images only from
``self``/``blob:``/``data:``), plus ``connect-src`` for the service, and reports violations.

The client is the real SDK (``sdk-js/src/scanlet.js``) unless ``SCANLET_VIEWER_CLIENT=mini``
(or the SDK file is missing): then ``MINI_CLIENT_JS`` below, a test-only client with just the
methods the viewer uses, implemented with fetch against the real service.
"""

from __future__ import annotations

import json
import mimetypes
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
SDK_SRC = ROOT / "sdk-js" / "src"

#: The page's CSP: the service's own (src/scanlet/security/middleware.py) plus the service.
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; connect-src 'self' {service} {ws}")

HARNESS_HTML = """<!doctype html>
<html lang="{html_lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>scanlet-viewer test</title>
<link rel="stylesheet" href="/harness.css">
<script type="module" src="/harness.js"></script>
</head>
<body>
<main>
<button type="button" id="before">Before</button>
<scanlet-viewer{viewer_attrs}></scanlet-viewer>
<button type="button" id="after">After</button>
</main>
</body>
</html>
"""

HARNESS_CSS = """
html, body { margin: 0; font-family: system-ui, sans-serif; }
main { padding: 8px; display: flex; flex-direction: column; gap: 8px; }
main > button { align-self: flex-start; }
scanlet-viewer { height: calc(100vh - 110px); min-height: 300px; }
"""

#: The harness: window.harness = {ready, client, viewer, log, attach(), scan(), ...}.
HARNESS_JS = """
const params = new URLSearchParams(location.search);
const service = params.get("service");
const kind = params.get("client") || "sdk";
// The SDK copied to this site (/sdk/), or the copy the service serves (<service>/sdk/).
const sdkBase = params.get("sdk") === "service" ? `${service}/sdk/` : "/sdk/";
await import(`${sdkBase}viewer.js`);
const viewer = document.querySelector("scanlet-viewer");
const log = { events: [], violations: [], pagesCalls: 0, jobDone: null, scanError: null };
document.addEventListener("securitypolicyviolation", (e) => {
  log.violations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
const EVENTS = ["selectionchange", "orderchange", "pagedeleted", "pageedited", "pageadded",
                "error", "zoomchange", "stringsloaded"];
for (const type of EVENTS) {
  document.addEventListener(type, (e) => {
    if (e.target !== viewer) return;
    const d = e.detail || {};
    log.events.push({
      type, t: performance.now(), jobDone: log.jobDone !== null,
      thumbs: viewer.pageIds.length,
      pageIds: d.pageIds || null, page: d.page || null, zoom: d.zoom ?? null,
      error: d.error ? { code: d.error.code ?? null, status: d.error.status ?? null,
                         message: String(d.error.message || d.error) } : null,
    });
  });
}

async function makeClient() {
  if (kind === "mini") {
    const { MiniClient } = await import("/mini-client.js");
    const client = new MiniClient(service);
    await client.pair();
    return client;
  }
  const sdk = await import(`${sdkBase}scanlet.js`);
  const client = await sdk.connect({ urls: [service] });
  await client.pair({ appName: "viewer test", openConsent: false });
  return client;
}

function deepActive() {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  return el;
}

const harness = {
  log, viewer, client: null,
  async attach(documentId) {
    viewer.client = harness.client;
    viewer.documentId = documentId;
    await viewer.refresh();
    return viewer.pageIds;
  },
  scan(settings) {
    const job = harness.client.scan(settings);
    job.done.then((info) => { log.jobDone = { t: performance.now(), info,
                                               thumbs: viewer.pageIds.length }; },
                  (error) => { log.scanError = String(error && (error.code || error)); });
    return true;
  },
  active() {
    const el = deepActive();
    if (!el) return null;
    const style = getComputedStyle(el);
    return { tag: el.tagName.toLowerCase(), role: el.getAttribute("role"),
             action: el.dataset ? el.dataset.action || null : null,
             pageId: el.dataset ? el.dataset.pageId || null : null,
             label: el.getAttribute("aria-label"),
             inViewer: viewer.contains(document.activeElement),
             outline: style.outlineStyle, outlineWidth: style.outlineWidth, id: el.id || null };
  },
  thumbs() {
    return [...viewer.shadowRoot.querySelectorAll("[part~=thumb]")].map((li) => {
      const img = li.querySelector("img");
      return { id: li.dataset.pageId, selected: li.getAttribute("aria-selected") === "true",
               src: img.getAttribute("src"), loaded: !!(img.complete && img.naturalWidth),
               w: img.naturalWidth, h: img.naturalHeight };
    });
  },
  large() {
    const img = viewer.shadowRoot.querySelector("[part~=page]");
    const box = img.getBoundingClientRect();
    return { src: img.getAttribute("src"), loaded: !!(img.complete && img.naturalWidth),
             w: img.naturalWidth, h: img.naturalHeight,
             box: { x: box.x, y: box.y, width: box.width, height: box.height } };
  },
  blobAlive(url) {  // an <img> (img-src allows blob:; connect-src does not)
    return new Promise((resolve) => {
      const img = new Image();
      img.onload = () => resolve(true);
      img.onerror = () => resolve(false);
      img.src = url;
    });
  },
};
window.harness = harness;

harness.ready = makeClient().then((client) => {
  harness.client = client;
  const pages = client.pages.bind(client);
  client.pages = (...args) => { log.pagesCalls++; return pages(...args); };
  return true;
});
harness.ready.catch((error) => { log.readyError = String(error && (error.stack || error)); });
"""

#: A test-only client: the methods of the SDK contract the viewer uses, with fetch.
MINI_CLIENT_JS = """
const path = (s) => encodeURIComponent(s);

export class MiniClient extends EventTarget {
  constructor(baseUrl) { super(); this.baseUrl = baseUrl; this.token = null; }

  async _req(method, url, { json, blob } = {}) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    const r = await fetch(this.baseUrl + url, { method, headers, body, credentials: "omit" });
    if (!r.ok) {
      let p = {};
      try { p = await r.json(); } catch (e) { p = {}; }
      const error = new Error(p.title || `HTTP ${r.status}`);
      Object.assign(error, { code: p.code, status: r.status, detail: p, title: p.title });
      throw error;
    }
    if (blob) return r.blob();
    return r.status === 204 ? undefined : r.json();
  }

  async pair() {
    const json = { scopes: ["scan"], app_name: "viewer test" };
    const answer = await this._req("POST", "/v1/pair", { json });
    if (!answer.token) throw new Error("pairing is not immediate: allowed_origins missing?");
    this.token = answer.token;
  }

  pages(documentId) { return this._req("GET", `/v1/documents/${path(documentId)}/pages`); }

  async pageImageUrl(pageId, { width, height } = {}) {
    const q = new URLSearchParams();
    if (width) q.set("width", width);
    if (height) q.set("height", height);
    const url = `/v1/pages/${path(pageId)}/image?${q}`;
    return URL.createObjectURL(await this._req("GET", url, { blob: true }));
  }

  thumbnailUrl(pageId, size = 200) {
    return this.pageImageUrl(pageId, { width: size, height: size });
  }

  async _edit(pageId, edit) {
    const json = { edits: [edit] };
    return (await this._req("POST", `/v1/pages/${path(pageId)}/edit`, { json })).page;
  }

  rotate(pageId, angle) { return this._edit(pageId, { op: "rotate", angle }); }
  crop(pageId, box) { return this._edit(pageId, { op: "crop", box }); }

  async deletePages(documentId, ids) {
    const url = `/v1/documents/${path(documentId)}/pages/delete`;
    await this._req("POST", url, { json: { page_ids: ids } });
  }

  movePages(documentId, ids, toIndex) {
    const url = `/v1/documents/${path(documentId)}/pages/move`;
    return this._req("POST", url, { json: { page_ids: ids, to_index: toIndex } });
  }

  setPageOrder(documentId, ids) {
    const url = `/v1/documents/${path(documentId)}/pages/order`;
    return this._req("PUT", url, { json: { page_ids: ids } });
  }

  scan(settings) {
    const follow = (job) => new Promise((resolve, reject) => {
      const url = this.baseUrl.replace(/^http/, "ws") + `/v1/jobs/${path(job.id)}/events`;
      const ws = new WebSocket(url, ["scanlet", `scanlet.bearer.${this.token}`]);
      let last = job;
      ws.onmessage = (m) => {
        const event = JSON.parse(m.data);
        if (event.type === "page") {
          this.dispatchEvent(new CustomEvent("page", { detail: { page: event.page, job } }));
        }
        if (event.type === "job") last = event.job;
      };
      ws.onclose = () => {
        if (last.state === "completed") resolve(last);
        else reject(new Error(last.state));
      };
    });
    const done = this._req("POST", "/v1/jobs", { json: settings }).then(follow);
    return { done, then: (a, b) => done.then(a, b) };
  }
}
"""


def client_kind() -> str:
    """"sdk" (the real SDK) unless SCANLET_VIEWER_CLIENT=mini or the SDK is missing."""
    wanted = os.environ.get("SCANLET_VIEWER_CLIENT", "").strip().lower()
    if wanted in {"sdk", "mini"}:
        return wanted
    return "sdk" if (SDK_SRC / "scanlet.js").is_file() else "mini"


class ViewerOrigin:
    """The web developer's site on ``http://127.0.0.1:<port>``: harness page + SDK files."""

    def __init__(self) -> None:
        self.service_url = ""
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                origin._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=f"viewer-origin-{self.port}")
        self._thread.start()

    def page_url(self, *, client: str | None = None, lang: str | None = None,
                 html_lang: str = "en", sdk: str = "site") -> str:
        """The harness page; ``sdk="service"`` loads the SDK from the service's ``/sdk/``."""
        query = f"service={self.service_url}&client={client or client_kind()}&html_lang={html_lang}"
        if lang:
            query += f"&lang={lang}"
        if sdk == "service":
            query += "&sdk=service"
        return f"{self.origin}/viewer.html?{query}"

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        headers = {"Cache-Control": "no-store"}
        if path == "/viewer.html":
            lang = query.get("lang", "")
            attrs = f' lang="{lang}"' if lang.isalpha() else ""
            html_lang = query.get("html_lang", "en")
            body = HARNESS_HTML.format(html_lang=html_lang if html_lang.isalpha() else "en",
                                       viewer_attrs=attrs).encode()
            ctype = "text/html; charset=utf-8"
            ws = "ws" + self.service_url.removeprefix("http")
            csp = CSP.format(service=self.service_url, ws=ws)
            if query.get("sdk") == "service":
                csp = csp.replace("script-src 'self'", f"script-src 'self' {self.service_url}")
            headers["Content-Security-Policy"] = csp
        elif path == "/harness.js":
            body, ctype = HARNESS_JS.encode(), "text/javascript; charset=utf-8"
        elif path == "/mini-client.js":
            body, ctype = MINI_CLIENT_JS.encode(), "text/javascript; charset=utf-8"
        elif path == "/harness.css":
            body, ctype = HARNESS_CSS.encode(), "text/css; charset=utf-8"
        elif path.startswith("/sdk/"):
            file = (SDK_SRC / path.removeprefix("/sdk/")).resolve()
            if not file.is_relative_to(SDK_SRC.resolve()) or not file.is_file():
                self._send(handler, 404, b"not found", "text/plain", headers)
                return
            body = file.read_bytes()
            guessed = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            ctype = "text/javascript; charset=utf-8" if file.suffix == ".js" else guessed
        elif path == "/favicon.ico":
            self._send(handler, 204, b"", "text/plain", headers)
            return
        else:
            self._send(handler, 404, b"not found", "text/plain", headers)
            return
        self._send(handler, 200, body, ctype, headers)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str,
              headers: dict[str, str]) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if body:
            handler.wfile.write(body)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def allowed_origin_config(origin: str) -> str:
    """user.ini text that lets ``origin`` pair at once (POST /v1/pair answers a token)."""
    return f"\n[security]\nallowed_origins = {origin}\n"


def dumps(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True)
