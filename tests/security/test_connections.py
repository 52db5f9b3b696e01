"""Connection-level rules of the listeners (service/connections.py), on a real service.

- The peer's OS user is decided when the connection is accepted: another user's program that
  sends a complete request and resets the connection at once (SO_LINGER 0) is not taken for
  this user (it was, when the owner was read from /proc at request time and "not found"
  meant "same user").
- Header-read and body-read timeouts, the cap on connections per peer, the cap on sessions
  per client, and absolute-form request targets (their authority is checked like Host).

Clients of another user run as ``nobody`` with ``setpriv`` (needs root and Linux).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.conftest import Service
from tests.security.conftest import raw_request
from tests.security.test_access_http import FOREIGN, port_of
from tests.security.test_other_users import as_user

OTHER_USER = 65534
OTHER_ORIGIN = "http://127.0.0.1:5556"
needs_other_user = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("setpriv")
    or not os.path.exists("/usr/bin/python3"),
    reason="needs Linux, root and setpriv to run a client as another user")

#: Sends raw bytes, then closes with SO_LINGER 0 (an RST) without reading the answer.
RESET_CLIENT = """
import socket, struct, sys
host, port, data = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode("latin-1")
sock = socket.create_connection((host, port), timeout=10)
sock.sendall(data)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
sock.close()
"""


def send_and_reset(uid: int | None, service: Service, data: bytes) -> None:
    """Send ``data`` from a process of ``uid`` (None: this user) and reset the connection."""
    prefix = [] if uid is None else ["setpriv", f"--reuid={uid}", f"--regid={uid}",
                                     "--clear-groups"]
    done = subprocess.run([*prefix, "/usr/bin/python3", "-c", RESET_CLIENT, "127.0.0.1",
                           str(port_of(service)), data.decode("latin-1")],
                          capture_output=True, text=True, timeout=30, cwd="/")
    assert done.returncode == 0, done.stderr


def http_request(service: Service, method: str, path: str, headers: dict[str, str],
                 body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port_of(service)}",
             *(f"{k}: {v}" for k, v in headers.items()), f"Content-Length: {len(body)}",
             "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def wait_for_log(service: Service, text: str, within: float = 15) -> bool:
    """Whether the service log gets a line containing ``text`` (a guard, not a measurement)."""
    log = service.home / "log" / "scanlet.log"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return True
        time.sleep(0.1)
    return False


def consent_form(http: httpx.Client, origin: str) -> tuple[dict[str, str], str]:
    """A pairing request of ``origin`` whose consent page was served: (the ask, the form)."""
    ask = http.post("/v1/pair", json={"scopes": ["scan"]}, headers={"Origin": origin}).json()
    ask["origin"] = origin
    page = http.get(f"/pair/{ask['request_id']}").text
    nonce = page.split('name=nonce value="', 1)[1].split('"', 1)[0]
    return ask, f"nonce={nonce}&decision=allow"


def pairing_status(http: httpx.Client, ask: dict[str, str]) -> int:
    return http.post(f"/v1/pair/{ask['request_id']}/token", json={"secret": ask["secret"]},
                     headers={"Origin": ask["origin"]}).status_code


@needs_other_user
def test_a_reset_connection_of_another_user_cannot_approve_its_pairing(
        service: Service) -> None:
    own_page = {"Origin": service.url, "Content-Type": "application/x-www-form-urlencoded"}
    with httpx.Client(base_url=service.url, timeout=10) as http:
        attacked, attack = consent_form(http, FOREIGN)
        control, allow = consent_form(http, OTHER_ORIGIN)  # its page was served after
        # This user's decision, on the control request, once the consent page's Allow counts
        # (Scanlet waits a moment after serving the page); then it counts for both.
        deadline = time.monotonic() + 20
        while True:
            answer = raw_request(service.url, http_request(
                service, "POST", f"/pair/{control['request_id']}/decision", own_page,
                allow.encode()))
            if not answer.startswith(b"HTTP/1.1 429") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
        assert pairing_status(http, control) == 200

        path = f"/pair/{attacked['request_id']}/decision"
        send_and_reset(OTHER_USER, service,
                       http_request(service, "POST", path, own_page, attack.encode()))
        wait_for_log(service, f"POST {path}")  # answered (or dropped): then look
        assert pairing_status(http, attacked) == 202  # still pending


@needs_other_user
def test_a_reset_connection_of_another_user_is_no_own_page(service: Service) -> None:
    own_api = {"Origin": service.url, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors",
               "Content-Type": "application/json"}
    with service.client() as http:
        assert http.get("/v1/admin/log").json()["level"] == "INFO"
        send_and_reset(OTHER_USER, service, http_request(
            service, "PUT", "/v1/admin/log", own_api, b'{"level": "DEBUG"}'))
        wait_for_log(service, "PUT /v1/admin/log")
        assert http.get("/v1/admin/log").json()["level"] == "INFO"
        # The same call from this user, read to the end, is Scanlet's own page.
        answer = raw_request(service.url, http_request(
            service, "PUT", "/v1/admin/log", own_api, b'{"level": "WARNING"}'))
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
        assert http.get("/v1/admin/log").json()["level"] == "WARNING"


# Timeouts ---------------------------------------------------------------------------------


def closed_by_service(sock: socket.socket, guard: float = 30) -> bytes:
    """Read until the service closes the connection; fails if it is still open after
    ``guard`` seconds (a guard against hanging, far above the configured timeouts)."""
    sock.settimeout(guard)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the service kept the connection open for {guard} s")
    return received


@pytest.mark.config("[limits]\nheader_timeout = 1")
def test_a_request_head_that_does_not_complete_is_closed(configured_service: Service) -> None:
    service = configured_service
    port = port_of(service)
    with socket.create_connection(("127.0.0.1", port)) as silent, \
            socket.create_connection(("127.0.0.1", port)) as partial:
        partial.sendall(f"GET /v1/version HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
        assert closed_by_service(partial) == b""
        assert closed_by_service(silent) == b""
    whole = raw_request(service.url, http_request(service, "GET", "/v1/version", {}))
    assert whole.startswith(b"HTTP/1.1 200")


@pytest.mark.config("[limits]\nbody_timeout = 1")
def test_a_request_body_that_stalls_is_closed(configured_service: Service) -> None:
    service = configured_service
    head = http_request(service, "POST", "/v1/jobs", {**service.auth,
                                                      "Content-Type": "application/json"})
    head = head.replace(b"Content-Length: 0", b"Content-Length: 1000")
    with socket.create_connection(("127.0.0.1", port_of(service))) as sock:
        sock.sendall(head + b'{"device": ')
        closed_by_service(sock)
    with service.client() as http:
        assert http.get("/v1/jobs").json() == []


# Caps -------------------------------------------------------------------------------------


@needs_other_user
@pytest.mark.config("[limits]\nmax_connections_per_peer = 4\nheader_timeout = 120")
def test_connections_per_peer_are_capped(configured_service: Service) -> None:
    service = configured_service
    port = port_of(service)
    with ExitStack() as held:
        for _ in range(4):
            held.enter_context(socket.create_connection(("127.0.0.1", port)))
        with socket.create_connection(("127.0.0.1", port)) as over:
            answer = closed_by_service(over)  # at once, before it sends anything
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
        # Another user is another peer: it still gets in.
        status, _ = as_user(OTHER_USER, service.url + "/v1/version")
        assert status == 200
    deadline = time.monotonic() + 20  # the service sees the closes a moment later
    while True:
        again = raw_request(service.url, http_request(service, "GET", "/v1/version", {}))
        if again.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert again.startswith(b"HTTP/1.1 200"), again[:200]


@contextmanager
def session(service: Service, headers: dict[str, str]) -> Iterator[ClientConnection]:
    url = "ws" + service.url.removeprefix("http") + "/v1/session"
    with connect(url, open_timeout=10, close_timeout=5, additional_headers=headers) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "session"
        yield ws


@pytest.mark.config(f"[security]\nallowed_origins = {FOREIGN}\n"
                    "[limits]\nsessions_per_client = 2")
def test_one_site_cannot_take_every_session(configured_service: Service) -> None:
    service = configured_service
    paired = httpx.post(service.url + "/v1/pair", json={"scopes": ["scan"]},
                        headers={"Origin": FOREIGN}, timeout=10)
    assert paired.status_code == 200, paired.text
    site = {"Origin": FOREIGN, "Authorization": f"Bearer {paired.json()['token']}"}
    with session(service, site), session(service, site):
        with pytest.raises(InvalidStatus) as refused, session(service, site):
            pass  # refused at the handshake
        assert refused.value.response.status_code == 403
        with session(service, service.auth):  # the CLI still gets one
            pass
    with session(service, site):  # and the site again, once it closed its own
        pass


# Absolute-form request targets -------------------------------------------------------------


@pytest.mark.parametrize("target", ["http://evil.test:{port}/v1/version",
                                    "http://127.0.0.1:{other}/v1/version",
                                    "https://127.0.0.1:{port}/v1/version",
                                    "http://user@127.0.0.1:{port}/v1/version"])
def test_absolute_form_targets_are_checked_like_host(service: Service, target: str) -> None:
    port = port_of(service)
    answer = raw_request(service.url, http_request(
        service, "GET", target.format(port=port, other=port + 1), {}))
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert b"host_not_allowed" in answer


def test_absolute_form_naming_this_listener_is_served(service: Service) -> None:
    for host in ("127.0.0.1", "localhost"):
        answer = raw_request(service.url, http_request(
            service, "GET", f"http://{host}:{port_of(service)}/v1/version", {}))
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_absolute_form_websocket_handshakes_and_other_targets_are_refused(
        service: Service) -> None:
    port = port_of(service)
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", **service.auth}
    handshake = http_request(service, "GET", f"http://127.0.0.1:{port}/v1/session", upgrade)
    answer = raw_request(service.url, handshake.replace(b"Connection: close\r\n", b""))
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    answer = raw_request(service.url, http_request(service, "GET", "v1/version", {}))
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]


def test_refused_absolute_form_is_a_problem(service: Service) -> None:
    answer = raw_request(service.url, http_request(
        service, "GET", f"http://evil.test:{port_of(service)}/v1/devices", service.auth))
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["code"] == "host_not_allowed"

