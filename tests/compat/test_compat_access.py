"""Who may call the compatibility API (``/api``, ``/DWTAPI``), and its error body, against a
real service: programs of this user without a key, keys from every place the reference's
clients put them, and web pages refused."""

from __future__ import annotations

import os
import shutil
import sys

import httpx
import pytest

from tests.compat.conftest import dwt_error
from tests.conftest import Service
from tests.security.test_other_users import as_user


def test_a_program_of_this_user_needs_no_key(service: Service) -> None:
    answer = httpx.get(f"{service.url}/api/server/version", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["compatible"] is True and answer.json()["version"]


@pytest.mark.parametrize("origin", ["chrome-extension://x", "moz-extension://x", "file://",
                                    "null", "dynamic-web-twain.net://0f3a"])
def test_any_origin_header_needs_a_key(service: Service, origin: str) -> None:
    """A browser context (an extension, a file page, an opaque origin) is not a program of
    this user, whatever scheme its Origin has: keyless calls are refused, keyed ones (except
    from "null", a web page) work."""
    keyless = httpx.get(f"{service.url}/api/server", headers={"Origin": origin}, timeout=10)
    body = dwt_error(keyless, 403, -2800)
    assert body["scanletCode"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in keyless.headers
    keyed = httpx.get(f"{service.url}/api/server", timeout=10,
                      headers={"Origin": origin, "DWT-PRODUCT-KEY": service.key})
    if origin == "null":
        dwt_error(keyed, 403, -2800)
    else:
        assert keyed.status_code == 200 and keyed.json() == {"logLevel": 1}, keyed.text
    # The control: the same call without an Origin, from this user, needs no key.
    plain = httpx.get(f"{service.url}/api/server", timeout=10)
    assert plain.status_code == 200 and plain.json() == {"logLevel": 1}, plain.text


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "http://127.0.0.1:5555"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
])
def test_web_pages_are_refused(service: Service, headers: dict[str, str]) -> None:
    answer = httpx.get(f"{service.url}/api/server/version", headers=headers, timeout=10)
    body = dwt_error(answer, 403, -2800)
    assert "access-control-allow-origin" not in answer.headers
    assert body["scanletCode"] in ("origin_not_allowed", "fetch_mode_not_allowed")


@pytest.mark.parametrize("header", ["DWT-PRODUCT-KEY", "X-DICS-LICENSE-KEY", "Authorization"])
def test_keys_are_scanlet_api_keys(service: Service, header: str) -> None:
    def sent(key: str) -> dict[str, str]:
        return {header: f"Bearer {key}" if header == "Authorization" else key}

    good = httpx.get(f"{service.url}/api/server", headers=sent(service.key), timeout=10)
    assert good.status_code == 200, good.text
    for wrong in ("t0000000000-trial-key", "slk_" + "0" * 40):
        bad = httpx.get(f"{service.url}/api/server", headers=sent(wrong), timeout=10)
        assert dwt_error(bad, 403, -2800)["scanletCode"] == "token_invalid"


def test_the_body_license_is_read_whatever_the_content_type(service: Service) -> None:
    url = f"{service.url}/api/server"
    plain = {"Content-Type": "application/text"}
    refused = httpx.patch(url, content='{"logLevel": 30, "license": "wrong"}', headers=plain,
                          timeout=10)
    dwt_error(refused, 403, -2800)
    try:
        answer = httpx.patch(url, headers=plain, timeout=10,
                             content=f'{{"logLevel": 30, "license": "{service.key}"}}')
        assert answer.status_code == 200 and answer.json() == {"logLevel": 30}, answer.text
        with service.client() as http:
            assert http.get("/v1/admin/log").json()["level"] == "DEBUG"
    finally:
        reset = httpx.patch(url, json={"logLevel": 1}, timeout=10)
        assert reset.json() == {"logLevel": 1}
    with service.client() as http:
        assert http.get("/v1/admin/log").json()["level"] == "INFO"


def test_errors_have_the_reference_body(service: Service) -> None:
    url = f"{service.url}/api/server"
    dwt_error(httpx.patch(url, json={"logLevel": "loud"}, timeout=10), 400, -2113)
    dwt_error(httpx.patch(url, content=b"{not json", timeout=10), 400, -2113)
    dwt_error(httpx.delete(url, timeout=10), 405, -2112)
    dwt_error(httpx.get(f"{service.url}/api/no/such/thing", timeout=10), 404, -2113)
    dwt_error(httpx.get(f"{service.url}/DWTAPI/NoSuchThing", timeout=10), 404, -2113)
    for bare in ("/api", "/DWTAPI"):  # the mount points themselves, no slash: no redirect
        dwt_error(httpx.post(f"{service.url}{bare}", timeout=10), 404, -2113)
    # /v1 keeps its own problem+json.
    v1 = httpx.get(f"{service.url}/v1/devices", timeout=10)
    assert v1.status_code == 401 and v1.json()["code"] == "unauthorized"


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("setpriv"),
    reason="needs Linux, root and setpriv to run a client as another user")
def test_another_users_program_needs_a_key(service: Service) -> None:
    status, _ = as_user(os.getuid(), f"{service.url}/api/server/version")
    assert status == 200  # the control: this user
    status, text = as_user(65534, f"{service.url}/api/server/version")
    assert status == 403 and '"code": -2800' in text.replace('":-', '": -'), text
    status, text = as_user(65534, f"{service.url}/api/server/version",
                           headers={"DWT-PRODUCT-KEY": service.key})
    assert status == 200, text
