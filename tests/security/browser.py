"""Headless Chromium helpers for the browser attack tests: foreign origins and a network log.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright, never a downloaded browser.
"Foreign origins" are tiny HTTP servers on other loopback ports that serve pages the tests
write; what the browser really sent and got back is read from the DevTools protocol, which
also reports CORS preflights and WebSocket handshakes that page scripts cannot see.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser as PwBrowser
from playwright.sync_api import BrowserContext, Page, Playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
    "--password-store=basic", "--use-mock-keychain",
]
#: The attacker's DNS name; the browser resolves it to 127.0.0.1, as after a DNS rebind.
EVIL_HOST = "evil.test"


def launch_chromium(playwright: Playwright, *extra: str) -> PwBrowser:
    """Debian's Chromium, headless, with ``evil.test`` resolving to loopback."""
    if not Path(CHROMIUM).exists():  # pragma: no cover - the test image has it
        raise RuntimeError(f"{CHROMIUM} is missing (apt-get install chromium)")
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {EVIL_HOST} 127.0.0.1", *extra],
    )


class PageServer:
    """A foreign origin: serves ``pages`` (path -> HTML) on ``127.0.0.1`` and a free port.

    Paths are matched without the query string; unknown paths get 404.
    """

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = server.pages.get(urlsplit(self.path).path)
                data = (body if body is not None else "not found").encode()
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=f"page-server-{self.port}")
        self._thread.start()

    def origin(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return self.origin(host) + path

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@dataclass
class Exchange:
    """One request the browser made, as the DevTools protocol reported it."""

    request_id: str
    url: str
    method: str
    type: str
    request_headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    failed: str | None = None
    cors_error: str | None = None
    preflight: bool = False


def _lower(headers: dict[str, Any] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


class NetworkLog:
    """Everything one page's network stack did, including CORS preflights and WebSockets.

    Playwright's own request events leave out preflights, so this listens to the DevTools
    ``Network`` domain of the page instead.
    """

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.exchanges: dict[str, Exchange] = {}
        self.websockets: dict[str, dict[str, Any]] = {}
        self._page = page
        self._cdp = context.new_cdp_session(page)
        handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "Network.requestWillBeSent": self._request,
            "Network.requestWillBeSentExtraInfo": self._request_extra,
            "Network.responseReceived": self._response,
            "Network.responseReceivedExtraInfo": self._response_extra,
            "Network.loadingFailed": self._failed,
            "Network.webSocketCreated": self._ws_created,
            "Network.webSocketWillSendHandshakeRequest": self._ws_request,
            "Network.webSocketHandshakeResponseReceived": self._ws_response,
            "Network.webSocketFrameError": self._ws_error,
        }
        for name, handler in handlers.items():
            self._cdp.on(name, handler)
        self._cdp.send("Network.enable")

    def _get(self, request_id: str) -> Exchange:
        return self.exchanges.setdefault(request_id, Exchange(request_id, "", "", ""))

    def _request(self, event: dict[str, Any]) -> None:
        exchange = self._get(event["requestId"])
        request = event["request"]
        exchange.url, exchange.method = request["url"], request["method"]
        exchange.type = event.get("type", "") or ""
        exchange.request_headers = {**_lower(request.get("headers")),
                                    **exchange.request_headers}

    def _request_extra(self, event: dict[str, Any]) -> None:
        exchange = self._get(event["requestId"])
        exchange.request_headers.update(_lower(event.get("headers")))

    def _response(self, event: dict[str, Any]) -> None:
        exchange = self._get(event["requestId"])
        response = event["response"]
        exchange.status = int(response["status"])
        exchange.response_headers = {**_lower(response.get("headers")),
                                     **exchange.response_headers}
        exchange.preflight = event.get("type") == "Preflight"
        if exchange.preflight:
            exchange.type = "Preflight"

    def _response_extra(self, event: dict[str, Any]) -> None:
        exchange = self._get(event["requestId"])
        exchange.response_headers.update(_lower(event.get("headers")))
        if exchange.status is None and event.get("statusCode"):
            exchange.status = int(event["statusCode"])

    def _failed(self, event: dict[str, Any]) -> None:
        exchange = self._get(event["requestId"])
        exchange.failed = str(event.get("errorText") or "failed")
        cors = event.get("corsErrorStatus")
        if cors:
            exchange.cors_error = str(cors.get("corsError"))

    def _ws_created(self, event: dict[str, Any]) -> None:
        self.websockets.setdefault(event["requestId"], {})["url"] = event["url"]

    def _ws_request(self, event: dict[str, Any]) -> None:
        self.websockets.setdefault(event["requestId"], {})["request_headers"] = _lower(
            event["request"].get("headers"))

    def _ws_response(self, event: dict[str, Any]) -> None:
        entry = self.websockets.setdefault(event["requestId"], {})
        entry["status"] = int(event["response"]["status"])
        entry["response_headers"] = _lower(event["response"].get("headers"))

    def _ws_error(self, event: dict[str, Any]) -> None:
        self.websockets.setdefault(event["requestId"], {})["error"] = event.get("errorMessage")

    def find(self, url: str, method: str | None = None, *,
             preflight: bool | None = None) -> list[Exchange]:
        """Exchanges for exactly this URL (and method / preflight-ness when given)."""
        return [e for e in self.exchanges.values() if e.url == url
                and (method is None or e.method == method)
                and (preflight is None
                     or (e.preflight or e.method == "OPTIONS") == preflight)]

    def answered(self, url: str, method: str | None = None, *, preflight: bool | None = None,
                 or_failed: bool = False, guard_seconds: float = 10.0) -> list[Exchange]:
        """``find``, after waiting until every match has its status (or, with ``or_failed``,
        its failure) in the log.

        The DevTools events arrive on their own schedule: a fetch can resolve in the page
        before the event with its status reaches this log. Waiting goes through Playwright,
        which delivers the events meanwhile; the bound is a guard only, after which the
        matches are returned as they are for the caller's assertion to report.
        """
        deadline = time.monotonic() + guard_seconds
        while True:
            found = self.find(url, method, preflight=preflight)
            if found and all(e.status is not None or (or_failed and e.failed) for e in found):
                return found
            if time.monotonic() >= deadline:
                return found
            self._page.wait_for_timeout(50)

    def detach(self) -> None:
        self._cdp.detach()


#: ``callFetch(url, init)`` in a page: never throws, reports what the page could see.
FETCH_JS = """
async ([url, init]) => {
  try {
    const r = await fetch(url, init || {});
    let body = null;
    try { body = await r.text(); } catch (e) { body = null; }
    return {ok: true, status: r.status, type: r.type, body: body};
  } catch (e) {
    return {ok: false, status: null, type: null, body: null, error: String(e)};
  }
}
"""

#: ``openSocket(url, protocols, ms)`` in a page: what a WebSocket did within ``ms``.
WEBSOCKET_JS = """
([url, protocols, ms]) => new Promise((resolve) => {
  const out = {opened: false, protocol: null, messages: [], error: false, code: null};
  let ws;
  try { ws = protocols ? new WebSocket(url, protocols) : new WebSocket(url); }
  catch (e) { out.error = String(e); resolve(out); return; }
  const timer = setTimeout(() => { try { ws.close(); } catch (e) {} resolve(out); }, ms);
  ws.onopen = () => { out.opened = true; out.protocol = ws.protocol; };
  ws.onmessage = (m) => { out.messages.push(m.data); };
  ws.onerror = () => { out.error = true; };
  ws.onclose = (e) => { out.code = e.code; clearTimeout(timer); resolve(out); };
})
"""


def page_fetch(page: Page, url: str, init: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``fetch(url, init)`` inside ``page``; {ok, status, type, body[, error]}."""
    result: dict[str, Any] = page.evaluate(FETCH_JS, [url, init or {}])
    return result


def page_websocket(page: Page, url: str, protocols: list[str] | None = None,
                   ms: int = 3000) -> dict[str, Any]:
    """Open a WebSocket inside ``page``; {opened, protocol, messages, error, code}."""
    result: dict[str, Any] = page.evaluate(WEBSOCKET_JS, [url, protocols, ms])
    return result
