"""Attacks on the access rules from a real browser: Debian's headless Chromium via Playwright.

Every attacker is a page served by a tiny HTTP server of the test on another loopback port (a
"foreign origin"), or a page whose host name ``evil.test`` the browser resolves to 127.0.0.1
(``--host-resolver-rules``), which is what a DNS rebind achieves. What the browser sent and got
back is read from the DevTools protocol (``NetworkLog``); that nothing changed is checked
through the API with the CLI's key.

Local Network Access: the foreign pages are served from 127.0.0.1, so their requests to the
service are loopback -> loopback, which Chromium's LNA checks do not gate (no permission is
granted and no LNA flag is changed); the ``evil.test`` pages also resolve to 127.0.0.1. So the
refusals seen here come from Scanlet, not from the browser's LNA.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from html import escape
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Response,
    sync_playwright,
)

from tests.conftest import Service, make_home, start_service
from tests.helpers import assert_problem, job_events
from tests.security.browser import (
    EVIL_HOST,
    NetworkLog,
    PageServer,
    launch_chromium,
    page_fetch,
    page_websocket,
)
from tests.security.conftest import write_config

pytestmark = pytest.mark.timeout(120)

SCAN = {"device": "sane:test:0", "source": "flatbed", "resolution": 75}
JSON_HEADERS = {"Content-Type": "application/json"}
#: The stable codes of the access rules' refusals (any of them means no route ran).
REFUSALS = {
    "fetch_mode_not_allowed", "unauthorized", "unsupported_media_type", "origin_not_allowed",
    "token_invalid", "token_origin_mismatch", "host_not_allowed",
}


# Fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    """One headless Chromium for the module; ``evil.test`` resolves to 127.0.0.1."""
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    """A fresh profile (no cookies, cache or permissions) per test."""
    ctx = chromium.new_context()
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def foreign() -> Iterator[PageServer]:
    """The attacker's (or a would-be partner's) web origin: http://127.0.0.1:<its port>."""
    server = PageServer()
    yield server
    server.close()


@pytest.fixture
def other_foreign() -> Iterator[PageServer]:
    """A second foreign origin (another port, so another origin)."""
    server = PageServer()
    yield server
    server.close()


# Helpers ----------------------------------------------------------------------------------

def ws_url(service: Service, path: str) -> str:
    return "ws" + service.url.removeprefix("http") + path


def scan_with_key(service: Service) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A finished one-page flatbed scan started by the native client (API key)."""
    with service.client() as http:
        response = http.post("/v1/jobs", json=SCAN)
        assert response.status_code == 201, response.text
        job: dict[str, Any] = response.json()
    events = job_events(service.url, job["id"], timeout=60, headers=service.auth)
    assert events and events[-1]["job"]["state"] == "completed", events
    return job, events


def job_ids(service: Service) -> list[str]:
    with service.client() as http:
        response = http.get("/v1/jobs")
        assert response.status_code == 200, response.text
        return [j["id"] for j in response.json()]


def problem_code(body: str | None) -> str | None:
    try:
        value = json.loads(body or "")
    except ValueError:
        return None
    return value.get("code") if isinstance(value, dict) else None


def open_page(context: BrowserContext, url: str) -> tuple[Page, NetworkLog]:
    page = context.new_page()
    log = NetworkLog(context, page)
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    return page, log


def json_post(body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = dict(JSON_HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return {"method": "POST", "headers": headers, "body": json.dumps(body)}


def bearer(token: str) -> dict[str, Any]:
    return {"headers": {"Authorization": f"Bearer {token}"}}


def revoke_site(home: Path, origin: str) -> None:
    """``scanlet sites revoke ORIGIN`` while the service runs."""
    done = subprocess.run([sys.executable, "-m", "scanlet", "sites", "revoke", origin,
                           "--home", str(home)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# 1. DNS rebinding -------------------------------------------------------------------------

REBOUND_PAGE = """<!doctype html><title>rebound</title><p>evil</p>"""


def test_dns_rebinding_is_refused_by_the_host_check(
        context: BrowserContext, home: Path, foreign: PageServer) -> None:
    """After a DNS rebind the attacker's origin IS the service's socket: only Host betrays it.

    The rebind is reproduced without a DNS server: ``evil.test`` always resolves to 127.0.0.1;
    the attacker page is loaded from ``http://evil.test:P/`` served by the test's own server,
    which then stops, and Scanlet starts on that same port P. From then on the page's
    same-origin requests reach Scanlet with ``Host: evil.test:P`` exactly as after a real
    rebind. (The page really came from 127.0.0.1, so Chromium's Local Network Access sees
    loopback -> loopback and does not interfere; a page fulfilled by Playwright's router
    would count as "public" and LNA would block its fetches before Scanlet saw them.)

    Proves: (a) the rebound page (same origin for the browser, no CORS involved) reads
    nothing, starts no scan, creates no document and opens no WebSocket: every answer is 403
    ``host_not_allowed``; (b) navigations to ``http://evil.test:P/...`` get the same 403;
    (c) a page on the attacker's other port gets nothing; (d) a raw request with
    ``Host: evil.test:P`` and a valid API key is refused, the same request with the right
    Host is answered.
    """
    rebinder = PageServer()
    port = rebinder.port
    evil = f"http://{EVIL_HOST}:{port}"
    rebinder.pages["/"] = REBOUND_PAGE
    rebound = context.new_page()
    log = NetworkLog(context, rebound)
    rebound.goto(evil + "/")
    rebinder.close()  # "the DNS answer changes": the same origin now reaches Scanlet
    service = start_service(home, "--port", str(port))
    try:
        assert service.url == f"http://127.0.0.1:{port}"
        job, _ = scan_with_key(service)
        assert rebound.evaluate("location.origin") == evil
        for path, init in (("/v1/version", {}), ("/v1/devices", {}), ("/v1/jobs", {}),
                           (f"/v1/jobs/{job['id']}", {}), ("/v1/jobs", json_post(SCAN)),
                           ("/v1/documents", json_post({"name": "rebound"})),
                           ("/v1/pair", json_post({"scopes": ["scan"]})),
                           (f"/v1/pages/{'x' * 16}", {"method": "DELETE"})):
            result = page_fetch(rebound, evil + path, init)
            # same origin for the browser: the refusal is readable, and it is the Host check
            assert result["ok"] and result["status"] == 403, (path, result)
            assert problem_code(result["body"]) == "host_not_allowed", (path, result)
        sent = log.answered(evil + "/v1/devices", "GET")
        assert sent and sent[0].request_headers.get("host") == f"{EVIL_HOST}:{port}"
        socket = page_websocket(rebound, f"ws://{EVIL_HOST}:{port}/v1/jobs/{job['id']}/events")
        assert not socket["opened"] and not socket["messages"], socket
        assert any("403" in str(ws.get("error")) for ws in log.websockets.values()), \
            log.websockets

        page = context.new_page()
        for path in ("/", "/v1/version", "/v1/devices", "/v1/jobs", f"/pair/{'x' * 22}",
                     "/v1/docs"):
            response = page.goto(evil + path)
            assert response is not None
            assert response.status == 403, (path, response.status)
            assert problem_code(response.text()) == "host_not_allowed", path

        foreign.pages["/"] = REBOUND_PAGE
        attacker, attacker_log = open_page(context, foreign.url("/", EVIL_HOST))
        for path in ("/v1/version", "/v1/devices"):
            result = page_fetch(attacker, evil + path)
            assert result["status"] != 200, (path, result)
            seen = attacker_log.answered(evil + path, "GET", preflight=False)
            assert seen and all(e.status == 403 for e in seen), [vars(e) for e in seen]

        assert job_ids(service) == [job["id"]]  # the rebound POST /v1/jobs started nothing
        with service.client() as http:
            assert all(d["name"] != "rebound" for d in http.get("/v1/documents").json())
            raw = http.get("/v1/devices", headers={"Host": f"{EVIL_HOST}:{port}"})
            assert_problem(raw, 403, "host_not_allowed")
            assert http.get("/v1/devices").status_code == 200  # the key itself is good
    finally:
        service.kill()


# 2. Foreign origins, pairing, tokens ------------------------------------------------------

PAIR_PAGE = """<!doctype html><html><head><meta charset=utf-8><title>Partner app</title></head>
<body>
<button id=pair>Pair with Scanlet</button>
<button id=open>Open Scanlet's consent page</button>
<p>Code: <span id=code></span></p>
<p>State: <span id=state>idle</span></p>
<script>
const SERVICE = "__SERVICE__";
let pairing = null;
window.token = null;
window.pairError = null;
window.polls = [];
document.getElementById("pair").addEventListener("click", async () => {
  const r = await fetch(SERVICE + "/v1/pair", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({scopes: ["scan"], app_name: "Browser test"})});
  pairing = await r.json();
  window.pairing = pairing;
  document.getElementById("code").textContent = pairing.code;
  document.getElementById("state").textContent = "pending";
  poll();
});
document.getElementById("open").addEventListener("click", () => {
  window.open(pairing.consent_url, "scanlet-consent");
});
async function poll() {
  for (;;) {
    const r = await fetch(SERVICE + "/v1/pair/" + pairing.request_id + "/token", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({secret: pairing.secret})});
    const body = await r.json();
    window.polls.push(r.status);
    if (r.status === 200) {
      window.token = body.token;
      document.getElementById("state").textContent = "paired";
      return;
    }
    if (r.status !== 202) {
      window.pairError = [r.status, body.code];
      document.getElementById("state").textContent = "error " + body.code;
      return;
    }
    await new Promise((done) => setTimeout(done, 150));
  }
}
</script></body></html>"""


def pair_page(service: Service) -> str:
    return PAIR_PAGE.replace("__SERVICE__", service.url)


def start_pairing(context: BrowserContext, page: Page) -> tuple[Page, str]:
    """Click "Pair", then "Open" (a user gesture): the consent popup and the page's code."""
    page.click("#pair")
    page.wait_for_function("document.getElementById('state').textContent === 'pending'")
    code = page.inner_text("#code")
    assert len(code.replace(" ", "")) == 6, code
    with context.expect_page() as popup_info:
        page.click("#open")
    popup = popup_info.value
    popup.wait_for_load_state()
    return popup, code


def decide_as_the_consent_form(service: Service, popup: Page, decision: str) -> str:
    """Click Allow or Deny on Scanlet's consent page, as the user does; the result shown."""
    with popup.expect_navigation():
        popup.click(f"#{decision}")
    shown = popup.query_selector("#result")
    assert shown is not None, popup.inner_text("body")[:300]
    return shown.inner_text()


@pytest.mark.parametrize(("button", "result"), [("allow", "Allowed"), ("deny", "Denied")])
def test_consent_buttons_work_in_a_real_browser(
        context: BrowserContext, service: Service, foreign: PageServer, button: str,
        result: str) -> None:
    """The user's click on Scanlet's own consent page is taken, in Chromium.

    Proves the decision form really works in a browser: the popup (opened by the page's
    button, a user gesture) shows the exact origin and code, the click on ``#allow`` /
    ``#deny`` is accepted by Scanlet (the popup shows ``#result``), and the polling page then
    gets its token, or 403 ``pairing_denied``. The form's POST must carry Scanlet's own
    ``Origin``: with ``Referrer-Policy: no-referrer`` on the page Chromium would send
    ``Origin: null`` for it (Fetch spec, "serializing a request origin"), hence
    ``same-origin`` on Scanlet's pages.
    """
    foreign.pages["/"] = pair_page(service)
    page, _log = open_page(context, foreign.url("/"))
    popup, code = start_pairing(context, page)
    assert popup.inner_text("#origin") == foreign.origin()
    assert popup.inner_text("#code") == code
    log = NetworkLog(context, popup)
    with popup.expect_navigation():
        popup.click(f"#{button}")
    [sent] = [e for e in log.exchanges.values() if e.method == "POST"]
    shown = popup.query_selector("#result")
    assert shown is not None, (
        f"the {button} click was refused: {sent.status}, request Origin "
        f"{sent.request_headers.get('origin')!r}: {popup.inner_text('body')[:300]}")
    assert shown.inner_text() == result
    if button == "allow":
        page.wait_for_function("window.token !== null")
        assert page.evaluate("window.token").startswith("slt_")
    else:
        page.wait_for_function("window.pairError !== null")
        assert page.evaluate("window.pairError") == [403, "pairing_denied"]
        assert page.evaluate("window.token") is None


def test_unpaired_foreign_origin_gets_no_data_and_no_websocket(
        context: BrowserContext, service: Service, foreign: PageServer) -> None:
    """A page of an unpaired origin can neither read the API nor watch a job nor start scans.

    The plain ``fetch`` reaches the service (no preflight) and is answered 401 without
    ``Access-Control-Allow-Origin``, so the page gets a network error and no body; a fetch
    with a made-up token or a JSON POST fails its preflight; a WebSocket to a real job's
    events is refused at the handshake (403), with or without a fake token subprotocol.
    """
    job, _ = scan_with_key(service)
    foreign.pages["/"] = "<!doctype html><title>attacker</title>"
    page, log = open_page(context, foreign.url("/"))

    devices = service.url + "/v1/devices"
    result = page_fetch(page, devices)
    assert not result["ok"] and result["body"] is None, result
    [seen] = log.answered(devices, "GET", preflight=False)
    assert seen.status == 401, vars(seen)
    assert "access-control-allow-origin" not in seen.response_headers, vars(seen)

    for url, init in ((devices, bearer("slt_" + "A" * 43)),
                      (service.url + "/v1/jobs", json_post(SCAN)),
                      (service.url + f"/v1/jobs/{job['id']}", {})):
        result = page_fetch(page, url, init)
        assert not result["ok"], (url, result)
    preflights = [e for e in log.exchanges.values() if e.method == "OPTIONS"]
    assert preflights and all(e.status == 403 and "access-control-allow-origin"
                              not in e.response_headers for e in preflights), \
        [vars(e) for e in preflights]

    events = ws_url(service, f"/v1/jobs/{job['id']}/events")
    for protocols in (None, ["scanlet"], ["scanlet", "scanlet.bearer.slt_" + "A" * 43]):
        socket = page_websocket(page, events, protocols)
        assert not socket["opened"] and not socket["messages"], (protocols, socket)
        assert socket["error"], socket
    errors = [ws.get("error") for ws in log.websockets.values()]
    assert len(errors) == 3 and all("403" in str(e) for e in errors), errors
    assert job_ids(service) == [job["id"]]


def test_pairing_consent_token_websocket_revoke_and_replay(
        context: BrowserContext, service: Service, foreign: PageServer,
        other_foreign: PageServer) -> None:
    """The whole life of a pairing, and what the token is good for.

    Proves: the consent popup (opened on a click) shows the page's exact origin and the same
    code; after a click on "Allow" the polling page collects its token, once; with it the
    page reads the device list and starts a scan, and a WebSocket offering the token as
    subprotocol opens
    (protocol ``scanlet``) and streams that job's events to the end; the same token used by a
    page of another origin (another port) gets nothing (preflight refused, WebSocket
    handshake 403, raw request 403 ``token_origin_mismatch``); after ``scanlet sites revoke``
    the token stops working at once (fetch fails, raw request 401 ``token_invalid``).
    """
    origin = foreign.origin()
    foreign.pages["/"] = pair_page(service)
    page, log = open_page(context, foreign.url("/"))

    devices = service.url + "/v1/devices"
    assert not page_fetch(page, devices)["ok"]  # not paired yet

    popup, code = start_pairing(context, page)
    consent_url = page.evaluate("window.pairing.consent_url")
    assert popup.url == consent_url and consent_url.startswith(service.url + "/pair/")
    assert popup.inner_text("#origin") == origin
    assert popup.inner_text("#code") == code
    assert page.evaluate("window.token") is None  # nothing before the user decides
    assert decide_as_the_consent_form(service, popup, "allow") == "Allowed"
    page.wait_for_function("window.token !== null")
    token = page.evaluate("window.token")
    assert token.startswith("slt_") and page.inner_text("#state") == "paired"
    polls = page.evaluate("window.polls")
    assert polls[-1] == 200 and set(polls[:-1]) <= {202}, polls
    # the token is handed out once
    again = page_fetch(page, service.url + f"/v1/pair/{page.evaluate('window.pairing.request_id')}"
                       "/token", json_post({"secret": page.evaluate("window.pairing.secret")}))
    assert again["ok"] and again["status"] != 200, again
    assert "slt_" not in (again["body"] or ""), again

    listed = page_fetch(page, devices, bearer(token))
    assert listed["ok"] and listed["status"] == 200, listed
    assert "sane:test:0" in {d["id"] for d in json.loads(listed["body"])}

    started = page_fetch(page, service.url + "/v1/jobs", json_post(SCAN, token))
    assert started["ok"] and started["status"] == 201, started
    job = json.loads(started["body"])
    socket = page_websocket(page, ws_url(service, f"/v1/jobs/{job['id']}/events"),
                            ["scanlet", "scanlet.bearer." + token], ms=60_000)
    assert socket["opened"] and socket["protocol"] == "scanlet", socket
    messages = [json.loads(m) for m in socket["messages"]]
    assert any(m["type"] == "page" for m in messages), messages
    assert messages[-1]["type"] == "job" and messages[-1]["job"]["state"] == "completed"
    assert messages[-1]["job"]["id"] == job["id"]
    [handshake] = [ws for ws in log.websockets.values() if ws.get("status")]
    assert handshake["status"] == 101
    assert handshake["response_headers"].get("sec-websocket-protocol") == "scanlet"

    # token replay from another origin (same host, other port)
    other_foreign.pages["/"] = "<!doctype html><title>other</title>"
    thief, thief_log = open_page(context, other_foreign.url("/"))
    stolen = page_fetch(thief, devices, bearer(token))
    assert not stolen["ok"], stolen
    [preflight] = thief_log.answered(devices, "OPTIONS")
    assert preflight.status == 403 and "access-control-allow-origin" not in \
        preflight.response_headers, vars(preflight)
    assert not page_fetch(thief, service.url + "/v1/jobs", json_post(SCAN, token))["ok"]
    thief_socket = page_websocket(thief, ws_url(service, f"/v1/jobs/{job['id']}/events"),
                                  ["scanlet", "scanlet.bearer." + token])
    assert not thief_socket["opened"] and not thief_socket["messages"], thief_socket
    assert any("403" in str(ws.get("error")) for ws in thief_log.websockets.values())
    raw = httpx.get(devices, headers={"Origin": other_foreign.origin(),
                                      "Authorization": f"Bearer {token}"})
    assert_problem(raw, 403, "token_origin_mismatch")
    assert job_ids(service) == [job["id"]]

    # revoke with the CLI: the token dies at once
    revoke_site(service.home, origin)
    revoked = page_fetch(page, devices, bearer(token))
    assert not revoked["ok"] or revoked["status"] == 401, revoked
    deadline = time.monotonic() + 10  # a guard only: the DevTools events come on their own
    while (refused := log.find(devices)[-1]).status is None and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert refused.status in (401, 403) and "access-control-allow-origin" not in \
        refused.response_headers, vars(refused)
    raw = httpx.get(devices, headers={"Origin": origin, "Authorization": f"Bearer {token}"})
    assert_problem(raw, 401, "token_invalid")
    revoked_socket = page_websocket(page, ws_url(service, f"/v1/jobs/{job['id']}/events"),
                                    ["scanlet", "scanlet.bearer." + token])
    assert not revoked_socket["opened"], revoked_socket
    assert not page_fetch(page, service.url + "/v1/jobs", json_post(SCAN, token))["ok"]
    assert job_ids(service) == [job["id"]]


def test_deny_on_the_consent_page_gives_no_token(
        context: BrowserContext, service: Service, foreign: PageServer) -> None:
    """"Deny" ends the pairing: the poll gets 403 ``pairing_denied``, never a token, and the
    origin stays unpaired."""
    foreign.pages["/"] = pair_page(service)
    page, _log = open_page(context, foreign.url("/"))
    popup, code = start_pairing(context, page)
    assert popup.inner_text("#origin") == foreign.origin()
    assert popup.inner_text("#code") == code
    assert decide_as_the_consent_form(service, popup, "deny") == "Denied"
    page.wait_for_function("window.pairError !== null")
    assert page.evaluate("window.pairError") == [403, "pairing_denied"]
    assert page.evaluate("window.token") is None
    # no grant was made: the origin's preflights are still refused
    asks = {"Origin": foreign.origin(), "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"}
    preflight = httpx.options(service.url + "/v1/devices", headers=asks)
    assert preflight.status_code == 403 and "access-control-allow-origin" not in \
        preflight.headers, preflight.headers


# 3. The consent page ----------------------------------------------------------------------

def test_consent_allow_waits_before_it_counts(
        context: BrowserContext, home: Path, foreign: PageServer) -> None:
    """Double-click-jacking: a page opens the consent popup on the first click of a
    double-click, and the second click lands where Allow is. It must not count.

    Proves, with ``[security] consent_delay_ms = 4000``: right after the popup appears Allow
    is disabled and the page says to wait; a click on it sends nothing; the button is enabled
    only after the delay, is disabled again at once when the window loses focus (and enabled
    again a delay after it regains it), and then a click is taken ("Allowed", the page gets
    its token). The service's own refusal of an early Allow is in test_pairing_limits.py.
    """
    write_config(home, "[security]\nconsent_delay_ms = 4000")
    service = start_service(home)
    try:
        foreign.pages["/"] = pair_page(service)
        page, _log = open_page(context, foreign.url("/"))
        page.click("#pair")
        page.wait_for_function("document.getElementById('state').textContent === 'pending'")
        with context.expect_page() as popup_info:
            page.click("#open")  # the first click of the double-click
        popup = popup_info.value
        log = NetworkLog(context, popup)
        popup.wait_for_selector("#allow", state="attached")
        allow = popup.locator("#allow")
        box = allow.bounding_box()
        assert box is not None
        # the second click, where Allow is
        popup.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert allow.is_disabled()
        assert popup.locator("#wait").is_visible()
        assert popup.query_selector("#result") is None
        assert not [e for e in log.exchanges.values() if e.method == "POST"]

        popup.wait_for_selector("#allow:enabled", timeout=30_000)
        assert popup.locator("#wait").is_hidden()
        popup.evaluate("window.dispatchEvent(new Event('blur'))")
        assert allow.is_disabled() and popup.locator("#wait").is_visible()
        popup.evaluate("window.dispatchEvent(new Event('focus'))")
        popup.wait_for_selector("#allow:enabled", timeout=30_000)
        assert decide_as_the_consent_form(service, popup, "allow") == "Allowed"
        page.wait_for_function("window.token !== null")
        assert page.evaluate("window.token").startswith("slt_")
    finally:
        service.kill()


def test_consent_page_cannot_be_framed(
        context: BrowserContext, service: Service, foreign: PageServer) -> None:
    """A page that puts the consent page in an ``<iframe>`` (to overlay or clickjack it) sees
    nothing: the answer forbids framing (``frame-ancestors 'none'`` and ``X-Frame-Options:
    DENY``), Chromium replaces the frame with its error page (no ``#allow`` to click), and the
    request stays pending."""
    foreign.pages["/"] = "<!doctype html><title>attacker</title>"
    page, _log = open_page(context, foreign.url("/"))
    started = page_fetch(page, service.url + "/v1/pair", json_post({"scopes": ["scan"]}))
    assert started["status"] == 202, started
    pairing = json.loads(started["body"])
    consent_url = pairing["consent_url"]

    foreign.pages["/frame"] = (f"<!doctype html><title>frame</title><iframe id=victim "
                               f"name=victim src='{escape(consent_url)}' width=600 "
                               "height=400></iframe>")
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    with page.expect_response(consent_url) as answer:
        page.goto(foreign.url("/frame"))
    response = answer.value
    assert response.status == 200  # served, but not for framing:
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    page.wait_for_timeout(300)
    [frame] = [f for f in page.frames if f.name == "victim"]
    assert frame.url != consent_url, frame.url
    assert frame.query_selector("#allow") is None
    assert frame.query_selector("#code") is None
    assert any("frame-ancestors" in m for m in messages), messages

    poll = httpx.post(service.url + f"/v1/pair/{pairing['request_id']}/token",
                      json={"secret": pairing["secret"]}, headers={"Origin": foreign.origin()})
    assert poll.status_code == 202, poll.text


def test_foreign_page_cannot_answer_its_own_consent(
        context: BrowserContext, service: Service, foreign: PageServer) -> None:
    """The requesting page knows the request id but cannot approve itself: a form it
    auto-submits to ``/pair/{id}/decision`` (top-level navigation, even with a guessed nonce)
    is refused, a ``fetch`` to it fails, and the request stays pending."""
    foreign.pages["/"] = "<!doctype html><title>attacker</title>"
    page, _log = open_page(context, foreign.url("/"))
    started = page_fetch(page, service.url + "/v1/pair", json_post({"scopes": ["scan"]}))
    pairing = json.loads(started["body"])
    decision = service.url + f"/pair/{pairing['request_id']}/decision"
    foreign.pages["/self-approve"] = (
        f"<!doctype html><form id=f method=post action='{escape(decision)}'>"
        "<input name=nonce value=guess><input name=decision value=allow></form>"
        "<script>document.getElementById('f').submit()</script>")
    with page.expect_response(lambda r: r.url == decision) as answer:
        page.goto(foreign.url("/self-approve"))
    assert answer.value.status == 403, answer.value.status
    assert problem_code(answer.value.text()) == "origin_not_allowed"
    page.goto(foreign.url("/"))
    scripted = page_fetch(page, decision, {
        "method": "POST", "body": "nonce=guess&decision=allow",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"}})
    assert not scripted["ok"] or scripted["status"] >= 400, scripted
    poll = httpx.post(service.url + f"/v1/pair/{pairing['request_id']}/token",
                      json={"secret": pairing["secret"]}, headers={"Origin": foreign.origin()})
    assert poll.status_code == 202, poll.text


# 4. CSRF ----------------------------------------------------------------------------------

def _targets(job: str, doc: str, page_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, the JSON body a real client would send) of each state change."""
    return [
        ("POST", "/v1/jobs", SCAN),
        ("POST", f"/v1/jobs/{job}/cancel", {}),
        ("POST", "/v1/documents", {"name": "x"}),
        ("PATCH", f"/v1/documents/{doc}", {"name": "pwned"}),
        ("DELETE", f"/v1/documents/{doc}", {}),
        ("DELETE", f"/v1/documents/{doc}/pages", {}),
        ("POST", f"/v1/documents/{doc}/pages/delete", {"page_ids": [page_id]}),
        ("POST", f"/v1/documents/{doc}/pages/move", {"page_ids": [page_id], "to_index": 0}),
        ("PUT", f"/v1/documents/{doc}/pages/order", {"page_ids": [page_id]}),
        ("DELETE", "/v1/pages", {}),
        ("PATCH", f"/v1/pages/{page_id}", {"tags": ["pwned"]}),
        ("DELETE", f"/v1/pages/{page_id}", {}),
    ]


def _form(action: str, enctype: str, fields: list[tuple[str, str]]) -> str:
    inputs = "".join(f"<input type=hidden name='{escape(n, quote=True)}' "
                     f"value='{escape(v, quote=True)}'>" for n, v in fields)
    return (f"<!doctype html><title>csrf</title><form id=f method=post "
            f"action='{escape(action, quote=True)}' enctype='{enctype}'>{inputs}</form>"
            "<script>document.getElementById('f').submit()</script>")


def _form_fields(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The JSON body as form fields (lists as repeated fields)."""
    fields: list[tuple[str, str]] = []
    for key, value in body.items():
        for item in value if isinstance(value, list) else [value]:
            fields.append((key, str(item)))
    return fields


def _attacks(base: str, method: str, path: str,
             body: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, the URL the form posts to, attacker page HTML) for one endpoint."""
    text_trick = json.dumps(body)[:-1] + (", " if body else "") + '"x":"'
    variants = [
        ("urlencoded", "application/x-www-form-urlencoded", _form_fields(body)),
        ("text/plain", "text/plain", [(text_trick, '"}')]),
        ("multipart", "multipart/form-data", _form_fields(body)),
    ]
    out: list[tuple[str, str, str]] = []
    if method != "POST":
        out.append((f"{method} {path} as plain POST", base + path,
                    _form(base + path, variants[0][1], variants[0][2])))
        path = f"{path}?_method={method}"
        variants = [(label, enctype, [*fields, ("_method", method)])
                    for label, enctype, fields in variants]
    for label, enctype, fields in variants:
        out.append((f"{method} {path} {label}", base + path, _form(base + path, enctype, fields)))
    return out


SCRIPTED_ATTACKS = """
async ([base, targets]) => {
  const out = [];
  for (const [method, path, body] of targets) {
    const url = base + path;
    const json = JSON.stringify(body);
    for (const init of [
      {method: method, headers: {"Content-Type": "application/json"}, body: json},
      {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: json},
      {method: "POST", mode: "no-cors", credentials: "include", body: new Blob([json])},
    ]) {
      try { const r = await fetch(url, init); out.push([url, init.mode || "cors", r.type,
                                                     r.status]); }
      catch (e) { out.push([url, init.mode || "cors", "error", 0]); }
    }
    out.push([url, "beacon", String(navigator.sendBeacon(url, json)), 0]);
  }
  return out;
}
"""


def _posted_to(url: str) -> Callable[[Response], bool]:
    def match(response: Response) -> bool:
        return response.url == url and response.request.method == "POST"
    return match


def _snapshot(service: Service, doc: str, page_id: str) -> dict[str, Any]:
    with service.client() as http:
        state = {
            "jobs": http.get("/v1/jobs").json(),
            "documents": http.get("/v1/documents").json(),
            "document": http.get(f"/v1/documents/{doc}").json(),
            "pages": http.get(f"/v1/documents/{doc}/pages").json(),
            "page": http.get(f"/v1/pages/{page_id}").json(),
        }
    assert all(not (isinstance(v, dict) and "code" in v) for v in state.values()), state
    return state


def test_csrf_forms_images_and_no_cors_requests_change_nothing(
        context: BrowserContext, service: Service, foreign: PageServer) -> None:
    """Classic CSRF from an unpaired page, against every state-changing endpoint.

    For each endpoint the attacker page auto-submits a ``<form method=post>`` as a top-level
    navigation, urlencoded, ``text/plain`` with the JSON-in-a-field-name trick and multipart;
    PATCH/PUT/DELETE endpoints get a plain POST too and ``?_method=`` / ``_method`` overrides.
    Every navigation is answered with a refusal of the access rules (never 2xx, never a route's
    404/409/422, which would mean the route ran). Then ``<img src>`` GETs of every path,
    ``fetch`` in cors and no-cors modes and ``navigator.sendBeacon`` to every endpoint. After
    all of it the jobs, documents and the scanned page are exactly as before.
    """
    job, events = scan_with_key(service)
    doc = job["document_id"]
    [page_id] = [e["page"]["id"] for e in events if e["type"] == "page"]
    before = _snapshot(service, doc, page_id)
    targets = _targets(job["id"], doc, page_id)

    page = context.new_page()
    log = NetworkLog(context, page)
    answers: list[tuple[str, int, str | None]] = []
    for method, path, body in targets:
        for label, target, html in _attacks(service.url, method, path, body):
            name = f"/csrf-{len(answers)}"
            foreign.pages[name] = html
            with page.expect_response(_posted_to(target)) as info:
                page.goto(foreign.url(name), wait_until="commit")
            response = info.value
            answers.append((label, response.status, problem_code(response.text())))
    assert len(answers) == 5 * 3 + 7 * 4
    wrong = [a for a in answers if a[1] not in (401, 403, 415) or a[2] not in REFUSALS]
    assert not wrong, wrong

    paths = sorted({path for _m, path, _b in targets} | {
        f"/v1/jobs/{job['id']}", f"/v1/documents/{doc}/pages", f"/v1/pages/{page_id}/image",
        f"/v1/documents/{doc}/export", "/v1/documents"})
    images = "".join(f"<img src='{escape(service.url + p, quote=True)}'>" for p in paths)
    foreign.pages["/images"] = f"<!doctype html><title>img</title>{images}"
    page.goto(foreign.url("/images"), wait_until="load")
    for path in paths:
        seen = log.answered(service.url + path, "GET", or_failed=True)
        assert seen and all(e.status == 403 or e.failed for e in seen), \
            (path, [vars(e) for e in seen])
        assert all(e.request_headers.get("sec-fetch-dest") == "image" for e in seen)

    foreign.pages["/scripted"] = "<!doctype html><title>scripted</title>"
    page.goto(foreign.url("/scripted"))
    results = page.evaluate(SCRIPTED_ATTACKS, [service.url, targets])
    readable = [r for r in results if r[2] in ("cors", "basic") and r[3] < 400]
    assert not readable, readable
    # Beacons land after the script returns: wait until each target's answer is in the log
    # (waiting through Playwright, which delivers the DevTools events meanwhile).
    deadline = time.monotonic() + 30  # a guard only
    for method, path, _b in targets:
        while not (answered := [e for e in log.find(service.url + path)
                                if e.status is not None and e.method != "GET"]):
            assert time.monotonic() < deadline, (method, path)
            page.wait_for_timeout(50)
        accepted = [vars(e) for e in answered
                    if e.status is not None and e.status < 400]
        assert not accepted, accepted

    assert _snapshot(service, doc, page_id) == before


# 5. Origins an admin allowed --------------------------------------------------------------

def test_config_allowed_origin_gets_a_token_without_consent(
        tmp_path: Path, context: BrowserContext, foreign: PageServer,
        other_foreign: PageServer) -> None:
    """An origin in ``[security] allowed_origins`` gets its token straight from ``/v1/pair``
    (no consent page, no popup) and then reads the API; its real Chromium preflight is
    answered with ``Access-Control-Allow-Origin`` = its origin and ``Vary: Origin``; an
    unknown origin's preflight gets no ``Access-Control-Allow-Origin`` and its fetch fails.
    ``Access-Control-Allow-Private-Network`` is checked with a raw preflight, because
    Chromium no longer sends the request for loopback -> loopback."""
    origin = foreign.origin()
    home = make_home(tmp_path / "home")
    write_config(home, f"[security]\nallowed_origins = {origin}")
    service = start_service(home)
    try:
        foreign.pages["/"] = "<!doctype html><title>allowed</title>"
        page, log = open_page(context, foreign.url("/"))
        paired = page_fetch(page, service.url + "/v1/pair", json_post({"scopes": ["scan"]}))
        assert paired["ok"] and paired["status"] == 200, paired
        answer = json.loads(paired["body"])
        assert answer["status"] == "approved" and answer["origin"] == origin
        assert "consent_url" not in answer or answer["consent_url"] is None
        token = answer["token"]
        assert token.startswith("slt_") and len(context.pages) == 1

        devices = service.url + "/v1/devices"
        listed = page_fetch(page, devices, bearer(token))
        assert listed["ok"] and listed["status"] == 200, listed
        assert "sane:test:0" in {d["id"] for d in json.loads(listed["body"])}
        [preflight] = log.answered(devices, "OPTIONS")
        assert preflight.status == 204, vars(preflight)
        assert preflight.response_headers["access-control-allow-origin"] == origin
        assert "origin" in preflight.response_headers["vary"].lower()
        [actual] = log.answered(devices, "GET", preflight=False)
        assert actual.response_headers["access-control-allow-origin"] == origin

        other_foreign.pages["/"] = "<!doctype html><title>unknown</title>"
        stranger, stranger_log = open_page(context, other_foreign.url("/"))
        refused = page_fetch(stranger, devices, bearer(token))
        assert not refused["ok"], refused
        [preflight] = stranger_log.answered(devices, "OPTIONS")
        assert "access-control-allow-origin" not in preflight.response_headers, vars(preflight)
        assert preflight.status == 403

        asks = {"Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
                "Access-Control-Request-Private-Network": "true"}
        allowed = httpx.options(devices, headers={"Origin": origin, **asks})
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == origin
        assert allowed.headers["access-control-allow-private-network"] == "true"
        assert "Origin" in allowed.headers["vary"]
        unknown = httpx.options(devices, headers={"Origin": other_foreign.origin(), **asks})
        assert "access-control-allow-origin" not in unknown.headers
        assert "access-control-allow-private-network" not in unknown.headers
    finally:
        service.kill()


@pytest.mark.timeout(120)
def test_scanlets_own_pages_use_the_api_without_pairing(
        context: BrowserContext, service: Service) -> None:
    """A page Scanlet serves itself (here its API reference) reads, changes state and opens
    a job's WebSocket with no token, as the demo and admin pages will, while pairing is on."""
    page = context.new_page()
    page.goto(service.url + "/v1/docs")
    result = page.evaluate("""async () => {
        const devices = await fetch('/v1/devices');
        const made = await fetch('/v1/documents', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify({name: 'own'})});
        const job = await (await fetch('/v1/jobs', {method: 'POST',
            headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({device: 'sane:test:0', resolution: 50})})).json();
        const events = await new Promise((resolve) => {
            const seen = [];
            const ws = new WebSocket(location.origin.replace('http', 'ws') +
                                     '/v1/jobs/' + job.id + '/events');
            ws.onmessage = (m) => seen.push(JSON.parse(m.data).type);
            ws.onclose = () => resolve(seen);
        });
        return {devices: devices.status, ids: (await devices.json()).map(d => d.id),
                made: made.status, events};
    }""")
    assert result["devices"] == 200 and "sane:test:0" in result["ids"]
    assert result["made"] == 201
    assert "page" in result["events"] and result["events"][-1] == "job"
    with service.client() as http:
        assert [d["name"] for d in http.get("/v1/documents").json()].count("own") == 1
