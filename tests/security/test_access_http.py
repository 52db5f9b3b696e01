"""Access rules seen from plain HTTP clients: Host, Origin, tokens, CSRF, CORS, limits, headers.

The browser-driven versions of these attacks are in test_browser_attacks.py; these tests pin
every branch of the rules with exact requests, against a real service process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import Service
from tests.helpers import assert_problem, consent_form, job_events
from tests.security.conftest import raw_request

FOREIGN = "http://127.0.0.1:5555"


def port_of(service: Service) -> int:
    return int(service.url.rsplit(":", 1)[1])


def pair(service: Service, origin: str = FOREIGN, scopes: list[str] | None = None,
         allow: bool = True) -> dict[str, Any]:
    """Pair ``origin`` through the real consent page flow; the collect answer."""
    with httpx.Client(base_url=service.url, timeout=10) as http:
        asked = http.post("/v1/pair", json={"scopes": scopes or ["scan"], "app_name": "Test"},
                          headers={"Origin": origin})
        assert asked.status_code == 202, asked.text
        ask = asked.json()
        assert ask["consent_url"] == f"{service.url}/pair/{ask['request_id']}"
        page = http.get(f"/pair/{ask['request_id']}")
        assert page.status_code == 200
        assert origin in page.text and ask["code"] in page.text
        nonce = consent_form(page.text)
        pending = http.post(f"/v1/pair/{ask['request_id']}/token",
                            json={"secret": ask["secret"]}, headers={"Origin": origin})
        assert pending.status_code == 202 and pending.json()["status"] == "pending"
        decided = http.post(f"/pair/{ask['request_id']}/decision",
                            data={"nonce": nonce, "decision": "allow" if allow else "deny"},
                            headers={"Origin": service.url, "Sec-Fetch-Site": "same-origin"})
        assert decided.status_code == 200, decided.text
        answer = http.post(f"/v1/pair/{ask['request_id']}/token",
                           json={"secret": ask["secret"]}, headers={"Origin": origin})
        if not allow:
            assert_problem(answer, 403, "pairing_denied")
            return {}
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        again = http.post(f"/v1/pair/{ask['request_id']}/token",
                          json={"secret": ask["secret"]}, headers={"Origin": origin})
        assert_problem(again, 410, "pairing_expired")  # the token is handed out once
        return body


def as_site(token: str, origin: str = FOREIGN) -> dict[str, str]:
    return {"Origin": origin, "Authorization": f"Bearer {token}"}


# Host ------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.test:{port}", "0.0.0.0:{port}", "127.0.0.1.nip.io:{port}",
                                  "localhost.:{port}", "127.0.0.1:1", "127.0.0.1",
                                  "LOCALHOST:{port}x", "[::ffff:127.0.0.1]:{port}"])
def test_foreign_host_headers_are_refused_even_with_a_key(service: Service, host: str) -> None:
    with service.client() as http:
        answer = http.get("/v1/devices", headers={"Host": host.format(port=port_of(service))})
    assert_problem(answer, 403, "host_not_allowed")
    assert "access-control-allow-origin" not in answer.headers


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}",
                                  "LocalHost:{port}"])
def test_loopback_names_are_accepted(service: Service, host: str) -> None:
    with service.client() as http:
        answer = http.get("/v1/devices", headers={"Host": host.format(port=port_of(service))})
    assert answer.status_code == 200, answer.text


def test_forwarded_host_is_ignored(service: Service) -> None:
    port = port_of(service)
    with service.client() as http:
        bad = http.get("/v1/devices", headers={"Host": "evil.test", "X-Forwarded-Host":
                                               f"127.0.0.1:{port}"})
        assert_problem(bad, 403, "host_not_allowed")


def test_missing_duplicated_host_and_absolute_targets_are_refused(service: Service) -> None:
    port = port_of(service)
    auth = f"Authorization: Bearer {service.key}\r\nConnection: close\r\n"
    missing = raw_request(service.url, f"GET /v1/devices HTTP/1.0\r\n{auth}\r\n".encode())
    assert missing.startswith(b"HTTP/1.1 403") and b"host_not_allowed" in missing
    doubled = raw_request(service.url, (
        f"GET /v1/devices HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.test:{port}\r\n"
        f"{auth}\r\n").encode())
    assert doubled.startswith(b"HTTP/1.1 4"), doubled[:200]
    assert b"sane:test:0" not in doubled
    # an absolute-form target naming a good authority cannot stand in for a bad Host header
    absolute = raw_request(service.url, (
        f"GET http://127.0.0.1:{port}/v1/devices HTTP/1.1\r\nHost: evil.test:{port}\r\n"
        f"{auth}\r\n").encode())
    assert absolute.startswith(b"HTTP/1.1 403") and b"sane:test:0" not in absolute


def test_websocket_handshake_checks_host(service: Service) -> None:
    url = service.url.replace("http", "ws") + "/v1/jobs/nope/events"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, additional_headers={**service.auth, "Host": "evil.test"}, open_timeout=5)
    assert refused.value.response.status_code == 403


# Who may call ---------------------------------------------------------------------------


def test_native_clients_need_an_api_key(service: Service) -> None:
    answer = httpx.get(service.url + "/v1/devices")
    assert_problem(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert_problem(httpx.get(service.url + "/v1/devices",
                             headers={"Authorization": "Bearer slk_not-a-key"}),
                   401, "token_invalid")
    assert_problem(httpx.get(service.url + "/v1/devices",
                             headers={"Authorization": "Basic dXNlcjpwYXNz"}),
                   401, "token_invalid")
    assert httpx.get(service.url + "/v1/version").status_code == 200
    assert httpx.get(service.url + "/v1/health").status_code == 200


@pytest.mark.parametrize("origin", ["null", "http://127.0.0.1:5555/path", "file://",
                                    "http://user@127.0.0.1:5555", "chrome-extension://abc"])
def test_unusable_origins_are_refused(service: Service, origin: str) -> None:
    answer = httpx.get(service.url + "/v1/devices", headers={**service.auth, "Origin": origin})
    assert_problem(answer, 403, "origin_not_allowed")
    assert "access-control-allow-origin" not in answer.headers


def test_unpaired_origin_is_refused_without_cors(service: Service) -> None:
    answer = httpx.get(service.url + "/v1/devices", headers={"Origin": FOREIGN})
    assert_problem(answer, 401, "unauthorized")
    assert "access-control-allow-origin" not in answer.headers
    # an API key does not turn a web page into a native client
    keyed = httpx.get(service.url + "/v1/devices", headers={**service.auth, "Origin": FOREIGN})
    assert_problem(keyed, 403, "origin_not_allowed")


def test_pairing_issues_a_token_bound_to_its_origin(service: Service) -> None:
    answer = pair(service)
    token = answer["token"]
    assert token.startswith("slt_") and answer["scopes"] == ["scan"]
    with httpx.Client(base_url=service.url, timeout=10) as http:
        listed = http.get("/v1/devices", headers=as_site(token))
        assert listed.status_code == 200
        assert listed.headers["access-control-allow-origin"] == FOREIGN
        assert "Origin" in listed.headers["vary"]
        for other in ("http://127.0.0.1:5556", "https://127.0.0.1:5555", "http://localhost:5555",
                      "http://127.0.0.1:55550"):
            replay = http.get("/v1/devices", headers=as_site(token, other))
            assert_problem(replay, 403, "token_origin_mismatch")
            assert "access-control-allow-origin" not in replay.headers
        no_origin = http.get("/v1/devices", headers={"Authorization": f"Bearer {token}"})
        assert_problem(no_origin, 403, "token_origin_mismatch")
    # only the hash is stored
    db = (service.home / "keys" / "access.sqlite3").read_bytes()
    wal = service.home / "keys" / "access.sqlite3-wal"
    assert token.encode() not in db + (wal.read_bytes() if wal.exists() else b"")


def test_revoked_site_loses_access_at_once(service: Service) -> None:
    token = pair(service)["token"]
    assert httpx.get(service.url + "/v1/devices", headers=as_site(token)).status_code == 200
    done = subprocess.run([sys.executable, "-m", "scanlet", "sites", "revoke", FOREIGN,
                           "--home", str(service.home)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert_problem(httpx.get(service.url + "/v1/devices", headers=as_site(token)),
                   401, "token_invalid")


def test_denied_pairing_gives_no_token(service: Service) -> None:
    assert pair(service, allow=False) == {}
    assert_problem(httpx.get(service.url + "/v1/devices", headers={"Origin": FOREIGN}),
                   401, "unauthorized")


def test_consent_decisions_only_come_from_the_consent_page(service: Service) -> None:
    with httpx.Client(base_url=service.url, timeout=10) as http:
        ask = http.post("/v1/pair", json={"scopes": ["scan"]}, headers={"Origin": FOREIGN}).json()
        page = http.get(f"/pair/{ask['request_id']}").text
        nonce = page.split('name=nonce value="', 1)[1].split('"', 1)[0]
        path = f"/pair/{ask['request_id']}/decision"
        # the requesting site itself cannot approve (its Origin is not Scanlet's)
        forged = http.post(path, data={"nonce": nonce, "decision": "allow"},
                           headers={"Origin": FOREIGN})
        assert_problem(forged, 403, "origin_not_allowed")
        cross = http.post(path, data={"nonce": nonce, "decision": "allow"},
                          headers={"Origin": service.url, "Sec-Fetch-Site": "cross-site"})
        assert_problem(cross, 403, "origin_not_allowed")
        no_origin = http.post(path, data={"nonce": nonce, "decision": "allow"})
        assert_problem(no_origin, 403, "origin_not_allowed")
        wrong_nonce = http.post(path, data={"nonce": "guess", "decision": "allow"},
                                headers={"Origin": service.url})
        assert wrong_nonce.status_code == 404
        still = http.post(f"/v1/pair/{ask['request_id']}/token", json={"secret": ask["secret"]},
                          headers={"Origin": FOREIGN})
        assert still.status_code == 202
        # the poll secret is checked, and so is the origin
        wrong_secret = http.post(f"/v1/pair/{ask['request_id']}/token",
                                 json={"secret": "x" * 20}, headers={"Origin": FOREIGN})
        assert_problem(wrong_secret, 404, "pairing_not_found")
        other = http.post(f"/v1/pair/{ask['request_id']}/token",
                          json={"secret": ask["secret"]}, headers={"Origin": "http://x.test"})
        assert_problem(other, 403, "token_origin_mismatch")


def test_consent_page_shows_untrusted_text_escaped(service: Service) -> None:
    ask = httpx.post(service.url + "/v1/pair", headers={"Origin": FOREIGN},
                     json={"scopes": ["scan", "upload"], "app_name": "<script>x()</script>"})
    page = httpx.get(service.url + f"/pair/{ask.json()['request_id']}")
    assert "<script>x()" not in page.text and "&lt;script&gt;" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "upload" in page.text


def test_pairing_is_for_web_pages_only(service: Service) -> None:
    native = httpx.post(service.url + "/v1/pair", json={"scopes": ["scan"]})
    assert_problem(native, 422, "invalid_setting")
    own = httpx.post(service.url + "/v1/pair", json={"scopes": ["scan"]},
                     headers={"Origin": service.url})
    assert_problem(own, 422, "invalid_setting")
    unknown_scope = httpx.post(service.url + "/v1/pair", json={"scopes": ["root"]},
                               headers={"Origin": FOREIGN})
    assert_problem(unknown_scope, 422, "invalid_request")


@pytest.mark.config("[security]\nallowed_origins = http://127.0.0.1:5555, https://app.test")
def test_admin_listed_origins_get_a_token_without_asking(configured_service: Service) -> None:
    url = configured_service.url
    answer = httpx.post(url + "/v1/pair", json={"scopes": ["scan", "upload"]},
                        headers={"Origin": FOREIGN})
    assert answer.status_code == 200 and answer.json()["status"] == "approved"
    assert answer.headers["access-control-allow-origin"] == FOREIGN
    token = answer.json()["token"]
    assert httpx.get(url + "/v1/devices", headers=as_site(token)).status_code == 200
    preflight = httpx.options(url + "/v1/devices", headers={
        "Origin": "https://app.test", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.test"


def test_sites_allowed_with_the_cli_get_only_their_scopes(service: Service) -> None:
    done = subprocess.run([sys.executable, "-m", "scanlet", "sites", "allow", FOREIGN,
                           "--scopes", "scan", "--home", str(service.home)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    quick = httpx.post(service.url + "/v1/pair", json={"scopes": ["scan"]},
                       headers={"Origin": FOREIGN})
    assert quick.status_code == 200 and quick.json()["token"].startswith("slt_")
    more = httpx.post(service.url + "/v1/pair", json={"scopes": ["scan", "upload"]},
                      headers={"Origin": FOREIGN})
    assert more.status_code == 202  # wider scopes still need the user's consent
    listed = subprocess.run([sys.executable, "-m", "scanlet", "sites", "list", "--home",
                             str(service.home)], capture_output=True, text=True)
    assert FOREIGN in listed.stdout and "admin" in listed.stdout


@pytest.mark.config("[security]\npairing = false")
def test_pairing_can_be_turned_off(configured_service: Service) -> None:
    answer = httpx.post(configured_service.url + "/v1/pair", json={"scopes": ["scan"]},
                        headers={"Origin": FOREIGN})
    assert_problem(answer, 403, "pairing_disabled")


@pytest.mark.config("[limits]\npair_requests_per_minute = 3")
def test_pairing_requests_are_rate_limited_per_site(configured_service: Service) -> None:
    url = configured_service.url
    codes = [httpx.post(url + "/v1/pair", json={"scopes": ["scan"]},
                        headers={"Origin": FOREIGN}).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]
    limited = httpx.post(url + "/v1/pair", json={"scopes": ["scan"]}, headers={"Origin": FOREIGN})
    assert_problem(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["access-control-allow-origin"] == FOREIGN  # the page can read why
    # Another port of the same host is the same site (browsers' sites ignore the port).
    same_site = httpx.post(url + "/v1/pair", json={"scopes": ["scan"]},
                           headers={"Origin": "http://127.0.0.1:5556"})
    assert_problem(same_site, 429, "rate_limited")
    other = httpx.post(url + "/v1/pair", json={"scopes": ["scan"]},
                       headers={"Origin": "http://localhost:5556"})
    assert other.status_code == 202


@pytest.mark.config("[limits]\nscans_per_minute = 2")
def test_scans_are_rate_limited(configured_service: Service) -> None:
    body = {"device": "sane:test:0", "resolution": 50, "source": "flatbed"}
    with configured_service.client() as http:
        for _ in range(2):
            started = http.post("/v1/jobs", json=body)
            assert started.status_code == 201, started.text
            job_events(configured_service.url, started.json()["id"],
                       headers=configured_service.auth)
        assert_problem(http.post("/v1/jobs", json=body), 429, "rate_limited")
        assert len(http.get("/v1/jobs").json()) == 2


# CSRF and fetch metadata ------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_state_changes_need_json_bodies(service: Service, content_type: str | None) -> None:
    body = json.dumps({"name": "csrf"}).encode()
    headers = {**service.auth, "Origin": service.url}
    if content_type:
        headers["Content-Type"] = content_type
    answer = httpx.post(service.url + "/v1/documents", content=body, headers=headers)
    assert_problem(answer, 415, "unsupported_media_type")
    with service.client() as http:
        assert all(d["name"] != "csrf" for d in http.get("/v1/documents").json())


@pytest.mark.parametrize("mode", ["navigate", "no-cors", "nested-navigate"])
def test_api_refuses_navigations_forms_and_images(service: Service, mode: str) -> None:
    answer = httpx.get(service.url + "/v1/documents",
                       headers={**service.auth, "Sec-Fetch-Mode": mode})
    assert_problem(answer, 403, "fetch_mode_not_allowed")


def test_own_pages_need_no_token_but_others_cannot_pose_as_them(service: Service) -> None:
    own = {"Origin": service.url, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
    assert httpx.get(service.url + "/v1/devices", headers=own).status_code == 200
    same_origin_get = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
    assert httpx.get(service.url + "/v1/devices", headers=same_origin_get).status_code == 200
    cross = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
    assert_problem(httpx.get(service.url + "/v1/devices", headers=cross), 401, "unauthorized")


# CORS preflights --------------------------------------------------------------------------


def test_preflights_answer_only_known_origins(service: Service) -> None:
    token = pair(service)["token"]
    assert token
    ask = {"Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization, content-type",
           "Access-Control-Request-Private-Network": "true"}
    known = httpx.options(service.url + "/v1/jobs", headers={**ask, "Origin": FOREIGN})
    assert known.status_code == 204
    assert known.headers["access-control-allow-origin"] == FOREIGN
    assert known.headers["access-control-allow-private-network"] == "true"
    assert "authorization" in known.headers["access-control-allow-headers"]
    assert known.headers["vary"] == "Origin"
    unknown = httpx.options(service.url + "/v1/jobs",
                            headers={**ask, "Origin": "http://127.0.0.1:5556"})
    assert unknown.status_code == 403
    assert "access-control-allow-origin" not in unknown.headers
    assert "access-control-allow-private-network" not in unknown.headers
    odd_header = httpx.options(service.url + "/v1/jobs", headers={
        **ask, "Origin": FOREIGN, "Access-Control-Request-Headers": "x-evil"})
    assert odd_header.status_code == 403
    # the pairing endpoint itself must be reachable by any page
    public = httpx.options(service.url + "/v1/pair", headers={
        "Origin": "http://127.0.0.1:5556", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert public.status_code == 204
    assert public.headers["access-control-allow-origin"] == "http://127.0.0.1:5556"


# WebSockets ------------------------------------------------------------------------------


def _events_url(service: Service, job_id: str) -> str:
    return service.url.replace("http", "ws") + f"/v1/jobs/{job_id}/events"


def test_websocket_needs_origin_and_token(service: Service) -> None:
    token = pair(service)["token"]
    with service.client() as http:
        job = http.post("/v1/jobs", json={"device": "sane:test:0", "resolution": 50}).json()
    url = _events_url(service, job["id"])
    for headers, protocols in (({"Origin": FOREIGN}, ["scanlet"]),
                               ({"Origin": "http://127.0.0.1:5556"},
                                ["scanlet", f"scanlet.bearer.{token}"]),
                               ({}, ["scanlet", f"scanlet.bearer.{token}"])):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers=headers, subprotocols=protocols,  # type: ignore[arg-type]
                    open_timeout=5)
        assert refused.value.response.status_code == 403
    with connect(url, additional_headers={"Origin": FOREIGN},
                 subprotocols=["scanlet", f"scanlet.bearer.{token}"],  # type: ignore[list-item]
                 open_timeout=5) as ws:
        assert ws.subprotocol == "scanlet"
        first = json.loads(ws.recv(timeout=30))
        assert first["type"] == "job"


# Limits and headers ----------------------------------------------------------------------


def test_bodies_are_capped(service: Service) -> None:
    big = json.dumps({"name": "x" * (1100 * 1024)})
    answer = httpx.post(service.url + "/v1/documents", content=big,
                        headers={**service.auth, "Content-Type": "application/json"})
    assert_problem(answer, 413, "payload_too_large")

    def chunks() -> Any:
        yield b'{"name": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}'

    streamed = httpx.post(service.url + "/v1/documents", content=chunks(),
                          headers={**service.auth, "Content-Type": "application/json"})
    assert_problem(streamed, 413, "payload_too_large")
    with service.client() as http:
        assert http.get("/v1/documents").json() == []


def test_security_headers(service: Service) -> None:
    with service.client() as http:
        devices = http.get("/v1/devices")
        assert devices.headers["x-content-type-options"] == "nosniff"
        assert devices.headers["cache-control"] == "no-store"
        assert devices.headers["cross-origin-resource-policy"] == "same-origin"
        job = http.post("/v1/jobs", json={"device": "sane:test:0", "resolution": 50}).json()
        job_events(service.url, job["id"], headers=service.auth)
        pages = http.get(f"/v1/documents/{job['document_id']}/pages").json()
        image = http.get(f"/v1/pages/{pages[0]['id']}/image")
        assert image.status_code == 200
        assert image.headers["cross-origin-resource-policy"] == "same-origin"
        assert image.headers["x-content-type-options"] == "nosniff"
        docs = http.get("/v1/docs")
        assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


def test_api_keys_from_the_cli(service: Service) -> None:
    made = subprocess.run([sys.executable, "-m", "scanlet", "keys", "create", "robot",
                           "--home", str(service.home)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("slk_")
    assert httpx.get(service.url + "/v1/devices",
                     headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert httpx.get(service.url + "/v1/devices",
                     headers={"DWT-PRODUCT-KEY": key}).status_code == 200
    listed = subprocess.run([sys.executable, "-m", "scanlet", "keys", "list", "--home",
                             str(service.home)], capture_output=True, text=True)
    assert "robot" in listed.stdout and key not in listed.stdout
    gone = subprocess.run([sys.executable, "-m", "scanlet", "keys", "revoke", "robot",
                           "--home", str(service.home)], capture_output=True, text=True)
    assert gone.returncode == 0
    assert_problem(httpx.get(service.url + "/v1/devices",
                             headers={"Authorization": f"Bearer {key}"}), 401, "token_invalid")


def test_scope_is_enforced(service: Service) -> None:
    token = pair(service, scopes=["upload"])["token"]
    answer = httpx.get(service.url + "/v1/devices", headers=as_site(token))
    assert_problem(answer, 403, "scope_not_granted")


def test_web_pages_cannot_name_files_through_raw_options(service: Service) -> None:
    token = pair(service)["token"]
    body = {"device": "sane:pnm:0", "resolution": 75,
            "raw_options": {"filename": str(service.home / "service.ini")}}
    answer = httpx.post(service.url + "/v1/jobs", json=body, headers=as_site(token))
    problem = assert_problem(answer, 422, "invalid_setting")
    assert problem["field"] == "raw_options"
    with service.client() as http:
        assert http.get("/v1/jobs").json() == []
