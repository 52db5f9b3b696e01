"""The admin JSON API behind Scanlet's /admin page, against a real service: paired and allowed
sites (list, revoke), API keys (create, list, revoke; the CLI's key protected), the status
(bound listeners, data folder, HTTPS certificate), and who may call it (scope ``admin``: the
CLI's key, admin keys and Scanlet's own pages; never another site's page)."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from scanlet.config import Home
from scanlet.security import truststore
from scanlet.security.access import WEB_SCOPES, AccessStore
from tests.conftest import Service, make_home, start_service
from tests.helpers import assert_problem
from tests.security.conftest import write_config
from tests.security.test_access_http import FOREIGN, as_site, pair

#: Every admin operation: (method, path, JSON body).
ADMIN_CALLS = [
    ("GET", "/v1/sites", None),
    ("DELETE", "/v1/sites/" + quote(FOREIGN, safe=""), None),
    ("GET", "/v1/keys", None),
    ("POST", "/v1/keys", {"name": "stolen", "scopes": ["admin"]}),
    ("DELETE", "/v1/keys/scanlet-cli", None),
    ("GET", "/v1/admin/status", None),
]


def site_path(origin: str) -> str:
    return "/v1/sites/" + quote(origin, safe="")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service for the tests below (each uses its own origins and key names, and leaves
    the sites and keys as it found them)."""
    svc = start_service(make_home(tmp_path_factory.mktemp("admin") / "home"))
    yield svc
    svc.kill()


def origin(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def site_origins(http: httpx.Client) -> list[str]:
    return [s["origin"] for s in http.get("/v1/sites").json()]


def key_names(http: httpx.Client) -> list[str]:
    return [k["name"] for k in http.get("/v1/keys").json()]


@pytest.fixture
def service_with(tmp_path: Path) -> Iterator[list[Service]]:
    """The services :func:`started` starts; killed after the test."""
    started: list[Service] = []
    yield started
    for svc in started:
        svc.kill()


def started(holder: list[Service], tmp_path: Path, config: str) -> Service:
    home = make_home(tmp_path / f"home{len(holder)}")
    write_config(home, config)
    svc = start_service(home)
    holder.append(svc)
    return svc


# Sites ----------------------------------------------------------------------------------


def test_a_paired_site_is_listed_and_revoked(service: Service) -> None:
    site = origin(5601)
    token = pair(service, origin=site, scopes=["scan", "upload"])["token"]
    assert httpx.get(service.url + "/v1/devices", headers=as_site(token, site)).status_code == 200
    with service.client() as http:
        listed = http.get("/v1/sites")
        assert listed.status_code == 200, listed.text
        assert token not in listed.text and "slt_" not in listed.text
        [info] = [s for s in listed.json() if s["origin"] == site]
        assert info["paired"] is True and info["revocable"] is True
        assert info["allowed_by"] is None and info["allowed_scopes"] == []
        assert info["scopes"] == ["scan", "upload"]
        [grant] = info["tokens"]
        assert grant["via"] == "pairing" and grant["scopes"] == ["scan", "upload"]
        assert grant["expires"] == info["token_expires"] and grant["created"] == info["created"]

        gone = http.delete(site_path(site))
        assert gone.status_code == 204 and gone.content == b""
        assert_problem(httpx.get(service.url + "/v1/devices", headers=as_site(token, site)),
                       401, "token_invalid")
        assert site not in site_origins(http)
        again = assert_problem(http.delete(site_path(site)), 404, "not_found")
        assert again["origin"] == site
        # the origin is canonicalised like everywhere else; junk is a 422, not a 404
        assert_problem(http.delete(site_path(site.upper() + "/")), 404, "not_found")
        for junk in ("null", "127.0.0.1:5601", f"{site}/path", "file:///x", ""):
            bad = assert_problem(http.delete(site_path(junk)), 422, "invalid_setting")
            assert bad["field"] == "origin"


def test_revoking_one_site_leaves_the_others(service: Service) -> None:
    one, two = origin(5602), origin(5603)
    first, second = pair(service, origin=one)["token"], pair(service, origin=two)["token"]
    with service.client() as http:
        assert {one, two} <= set(site_origins(http))
        assert http.delete(f"/v1/sites/{two}").status_code == 204  # unencoded works too
        assert one in site_origins(http) and two not in site_origins(http)
        assert httpx.get(service.url + "/v1/devices",
                         headers=as_site(first, one)).status_code == 200
        assert_problem(httpx.get(service.url + "/v1/devices", headers=as_site(second, two)),
                       401, "token_invalid")
        assert http.delete(site_path(one)).status_code == 204


def test_admin_allowed_and_configured_sites(service_with: list[Service],
                                            tmp_path: Path) -> None:
    svc = started(service_with, tmp_path, "[security]\nallowed_origins = https://app.test")
    store = AccessStore(svc.home / "keys" / "access.sqlite3")
    try:
        store.allow_site(FOREIGN, ["scan"])  # what `scanlet sites allow` does
    finally:
        store.close()
    quick = httpx.post(svc.url + "/v1/pair", json={"scopes": ["scan"]},
                       headers={"Origin": FOREIGN})
    assert quick.status_code == 200, quick.text
    token = quick.json()["token"]
    with svc.client() as http:
        sites = {s["origin"]: s for s in http.get("/v1/sites").json()}
        assert set(sites) == {FOREIGN, "https://app.test"}
        allowed, configured = sites[FOREIGN], sites["https://app.test"]
        assert allowed["allowed_by"] == "admin" and allowed["allowed_scopes"] == ["scan"]
        assert allowed["paired"] is False and allowed["revocable"] is True
        assert [t["via"] for t in allowed["tokens"]] == ["allowed"]
        assert configured["allowed_by"] == "config" and configured["tokens"] == []
        assert configured["allowed_scopes"] == sorted(WEB_SCOPES)
        assert configured["revocable"] is False and configured["created"] is None
        assert token not in json.dumps(sites)

        refused = assert_problem(http.delete(site_path("https://app.test")), 404, "not_found")
        assert "scanlet.ini" in refused["detail"]
        assert http.delete(site_path(FOREIGN)).status_code == 204
        assert site_origins(http) == ["https://app.test"]
    assert_problem(httpx.get(svc.url + "/v1/devices", headers=as_site(token)),
                   401, "token_invalid")
    again = httpx.post(svc.url + "/v1/pair", json={"scopes": ["scan"]},
                       headers={"Origin": FOREIGN})
    assert again.status_code == 202  # the allowance is gone too: the user is asked again


# API keys -------------------------------------------------------------------------------


def test_keys_are_created_listed_and_revoked(service: Service) -> None:
    with service.client() as http:
        before = key_names(http)
        made = http.post("/v1/keys", json={"name": "robot", "scopes": ["scan"]})
        assert made.status_code == 201, made.text
        key = made.json()
        secret = key.pop("key")
        assert secret.startswith("slk_") and key["name"] == "robot"
        assert key["scopes"] == ["scan"] and key["cli"] is False
        robot = {"Authorization": f"Bearer {secret}"}
        assert httpx.get(service.url + "/v1/devices", headers=robot).status_code == 200
        assert httpx.get(service.url + "/v1/devices",
                         headers={"DWT-PRODUCT-KEY": secret}).status_code == 200

        listed = http.get("/v1/keys")
        assert listed.status_code == 200
        assert "slk_" not in listed.text and secret not in listed.text
        keys = {k["name"]: k for k in listed.json()}
        assert keys["robot"] == key
        assert keys["scanlet-cli"]["cli"] is True and "admin" in keys["scanlet-cli"]["scopes"]

        dup = assert_problem(http.post("/v1/keys", json={"name": "robot"}), 422,
                             "invalid_setting")
        assert dup["field"] == "name"
        for body in ({"name": "x", "scopes": ["root"]}, {"name": "x", "scopes": []},
                     {"name": ""}, {"name": "a\nb"}, {"name": "x" * 65},
                     {"name": "x", "extra": 1}):
            assert_problem(http.post("/v1/keys", json=body), 422, "invalid_request")

        assert http.delete(f"/v1/keys/{key['id']}").status_code == 204
        assert_problem(httpx.get(service.url + "/v1/devices", headers=robot), 401,
                       "token_invalid")
        assert_problem(http.delete(f"/v1/keys/{key['id']}"), 404, "not_found")
        assert key_names(http) == before


def test_admin_keys_may_administer_and_others_may_not(service: Service) -> None:
    with service.client() as http:
        before = key_names(http)
        admin = http.post("/v1/keys", json={"name": "ops", "scopes": ["admin"]}).json()["key"]
        scan = http.post("/v1/keys", json={"name": "scanner",
                                           "scopes": sorted(WEB_SCOPES)}).json()["key"]
        with httpx.Client(base_url=service.url, timeout=10,
                          headers={"Authorization": f"Bearer {admin}"}) as as_admin:
            assert as_admin.get("/v1/admin/status").status_code == 200
            # an admin-only key administers but does not scan
            assert_problem(as_admin.get("/v1/devices"), 403, "scope_not_granted")
            assert as_admin.post("/v1/keys", json={"name": "made-by-ops"}).status_code == 201
            # by name, as `scanlet keys revoke` accepts
            assert as_admin.delete("/v1/keys/made-by-ops").status_code == 204
        for method, path, body in ADMIN_CALLS:
            answer = httpx.request(method, service.url + path, json=body,
                                   headers={"Authorization": f"Bearer {scan}"})
            assert_problem(answer, 403, "scope_not_granted")
            assert answer.json()["scope"] == "admin"
        for name in ("ops", "scanner"):
            assert http.delete(f"/v1/keys/{name}").status_code == 204
        assert key_names(http) == before


def test_the_cli_key_cannot_be_revoked_through_the_api(service: Service) -> None:
    with service.client() as http:
        [cli] = [k for k in http.get("/v1/keys").json() if k["cli"]]
        made = http.post("/v1/keys", json={"name": "ops2", "scopes": ["admin"]}).json()
        for who in (service.auth, {"Authorization": f"Bearer {made['key']}"}):
            for ref in (cli["id"], "scanlet-cli"):
                refused = httpx.delete(f"{service.url}/v1/keys/{ref}", headers=who)
                body = assert_problem(refused, 422, "invalid_setting")
                assert "CLI" in body["detail"] and body["field"] == "id"
        assert http.get("/v1/devices").status_code == 200  # the CLI's key still works
        assert cli in http.get("/v1/keys").json()
        assert http.delete(f"/v1/keys/{made['id']}").status_code == 204


# Who may call ---------------------------------------------------------------------------


def test_web_pages_of_other_sites_never_reach_the_admin_api(service: Service) -> None:
    token = pair(service, scopes=sorted(WEB_SCOPES))["token"]  # everything a site can get
    assert_problem(httpx.post(service.url + "/v1/pair", json={"scopes": ["admin"]},
                              headers={"Origin": FOREIGN}), 422, "invalid_request")
    with service.client() as http:
        keys, sites = http.get("/v1/keys").json(), http.get("/v1/sites").json()
    for method, path, body in ADMIN_CALLS:
        url = service.url + path
        answer = httpx.request(method, url, json=body, headers=as_site(token))
        assert_problem(answer, 403, "scope_not_granted")
        # an API key does not help a web page, nor does claiming to be Scanlet's own page
        assert_problem(httpx.request(method, url, json=body,
                                     headers={**service.auth, "Origin": FOREIGN}),
                       403, "origin_not_allowed")
        cross = {"Origin": FOREIGN, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
        assert_problem(httpx.request(method, url, json=body, headers=cross), 401,
                       "unauthorized")
        assert_problem(httpx.request(method, url, json=body), 401, "unauthorized")
    with service.client() as http:  # nothing was changed by the refused calls
        assert http.get("/v1/keys").json() == keys and http.get("/v1/sites").json() == sites
        assert FOREIGN in site_origins(http)
        assert httpx.get(service.url + "/v1/devices", headers=as_site(token)).status_code == 200
        assert http.delete(site_path(FOREIGN)).status_code == 204


def test_scanlets_own_pages_use_the_admin_api_without_a_token(service: Service) -> None:
    own = {"Origin": service.url, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
    site = origin(5604)
    pair(service, origin=site)
    with httpx.Client(base_url=service.url, timeout=10, headers=own) as page:
        assert page.get("/v1/admin/status").status_code == 200
        assert site in site_origins(page)
        made = page.post("/v1/keys", json={"name": "from-the-page", "scopes": ["scan"]})
        assert made.status_code == 201, made.text
        assert page.delete(f"/v1/keys/{made.json()['id']}").status_code == 204
        assert page.delete(site_path(site)).status_code == 204
        assert site not in site_origins(page)
        # a same-origin GET without Origin (how browsers send GETs) passes too
        bare = httpx.get(service.url + "/v1/keys",
                         headers={"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"})
        assert bare.status_code == 200
        # a form post from the page is still refused (CSRF rules hold for own pages too)
        form = page.post("/v1/keys", data={"name": "form"})
        assert_problem(form, 415, "unsupported_media_type")


# Status ---------------------------------------------------------------------------------


def test_status_shows_the_bound_listener_and_data_folder(service: Service) -> None:
    with service.client() as http:
        answer = http.get("/v1/admin/status")
        assert answer.status_code == 200, answer.text
        status = answer.json()
        version = http.get("/v1/version").json()
    assert service.key not in answer.text
    port = int(service.url.rsplit(":", 1)[1])
    assert status["listeners"] == [{"scheme": "http", "host": "127.0.0.1", "port": port,
                                    "url": service.url}]
    assert Path(status["data_dir"]).resolve() == service.home.resolve()
    assert status["pid"] == service.process.pid
    assert status["version"] == version["version"] and status["build"].startswith(
        version["version"])
    assert status["demo"] is True and status["remote"] is False
    assert 0 < status["uptime_seconds"] < 600
    assert status["log"] == {"level": "INFO", "configured_level": "INFO"}
    assert status["workers"] == 0
    assert status["https"] == {"enabled": False, "port": None, "certificate": None,
                               "problem": None,
                               "trust": {"installed": False, "current": False, "stores": [],
                                         "problem": None}}
    with service.client() as http:  # the level in force, after a change
        assert http.put("/v1/admin/log", json={"level": "debug"}).status_code == 200
        try:
            assert http.get("/v1/admin/status").json()["log"]["level"] == "DEBUG"
        finally:
            http.put("/v1/admin/log", json={"level": "INFO"})


def served_certificate(port: int) -> x509.Certificate:
    """The certificate the HTTPS listener actually presents."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_status_shows_https_and_its_certificate(service_with: list[Service],
                                                tmp_path: Path) -> None:
    svc = started(service_with, tmp_path, "[server]\nhttps = true\nhttps_port = 0")
    https_port = json.loads((svc.home / "port.lock").read_text())["https_port"]
    with svc.client() as http:
        status = http.get("/v1/admin/status").json()
    assert [(lis["scheme"], lis["port"]) for lis in status["listeners"]] == [
        ("http", int(svc.url.rsplit(":", 1)[1])), ("https", https_port)]
    assert status["listeners"][1]["url"] == f"https://127.0.0.1:{https_port}"
    https = status["https"]
    assert https["enabled"] is True and https["port"] == https_port and https["problem"] is None
    cert = https["certificate"]
    served = served_certificate(https_port)
    assert cert["sha256"] == served.fingerprint(hashes.SHA256()).hex()
    assert cert["source"] == "local" and cert["valid"] is True and cert["problem"] is None
    assert Path(cert["path"]) == svc.home / "cert" / "server.pem"
    assert Path(cert["ca_path"]) == svc.home / "cert" / "ca.pem"
    ca = x509.load_pem_x509_certificate((svc.home / "cert" / "ca.pem").read_bytes())
    assert cert["issuer"] == ca.subject.rfc4514_string() == served.issuer.rfc4514_string()
    assert cert["ca_sha256"] == ca.fingerprint(hashes.SHA256()).hex()
    assert {"localhost", "127.0.0.1", "::1"} <= set(cert["names"])
    assert 800 <= cert["days_left"] <= 825
    assert cert["not_after"].startswith(
        f"{min(served.not_valid_after_utc, ca.not_valid_after_utc):%Y-%m-%dT%H:%M:%S}")
    assert https["trust"] == {"installed": False, "current": False, "stores": [],
                              "problem": None}
    if truststore.NssTool.available():  # what `scanlet cert install` records
        user = tmp_path / "user"
        truststore.install(Home(svc.home), user_home=user)
        with svc.client() as http:
            trust = http.get("/v1/admin/status").json()["https"]["trust"]
        assert trust["installed"] is True and trust["current"] is True
        assert f"nss:{user / '.pki' / 'nssdb'}" in trust["stores"]
    # the same answer over the HTTPS listener, verified against the local CA
    verify = ssl.create_default_context(cafile=str(svc.home / "cert" / "ca.pem"))
    over_tls = httpx.get(f"https://127.0.0.1:{https_port}/v1/admin/status", headers=svc.auth,
                         verify=verify, timeout=10)
    assert over_tls.status_code == 200
    assert over_tls.json()["https"]["certificate"]["sha256"] == cert["sha256"]


def test_the_openapi_schema_describes_the_admin_api(service: Service) -> None:
    with service.client() as http:
        paths = http.get("/v1/openapi.json").json()["paths"]
    for path, method in (("/v1/sites", "get"), ("/v1/sites/{origin}", "delete"),
                         ("/v1/keys", "get"), ("/v1/keys", "post"),
                         ("/v1/keys/{key_id}", "delete"), ("/v1/admin/status", "get")):
        operation = paths[path][method]
        assert operation["summary"], path
    assert set(paths["/v1/keys"]["post"]["responses"]) >= {"201", "422"}
    assert "204" in paths["/v1/sites/{origin}"]["delete"]["responses"]
