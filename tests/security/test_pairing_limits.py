"""Pairing under a flood, and the consent page's Allow delay, against a real service.

A page can ask to pair from as many subdomains as it likes (frames of ``a1.attacker.example``,
``a2.attacker.example``, ...). The waiting room is limited per site (registrable domain) and
in total, unopened requests lapse quickly, and an origin already paired for what it asks is
never turned away for a full room (issue 14, item 4). The consent page's Allow counts only
``[security] consent_delay_ms`` after the page was served (item 11; the browser side is in
test_browser_attacks.py).
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from scanlet.security.registrable import site_of
from tests.conftest import Service
from tests.helpers import assert_problem, consent_form
from tests.security.test_access_http import FOREIGN, pair

LEGIT = "https://shop.test"
OWN_HEADERS = {"Sec-Fetch-Site": "same-origin"}


def ask(url: str, origin: str, scopes: tuple[str, ...] = ("scan",)) -> httpx.Response:
    return httpx.post(url + "/v1/pair", json={"scopes": list(scopes)}, headers={"Origin": origin},
                      timeout=10)


def poll(url: str, origin: str, answer: dict[str, Any]) -> httpx.Response:
    return httpx.post(url + f"/v1/pair/{answer['request_id']}/token",
                      json={"secret": answer["secret"]}, headers={"Origin": origin}, timeout=10)


def flood(url: str, domain: str, count: int) -> list[int]:
    return [ask(url, f"https://a{i}.{domain}").status_code for i in range(count)]


def test_sites_are_registrable_domains() -> None:
    assert site_of("https://a.b.attacker.example") == "attacker.example"
    assert site_of("http://attacker.example:8080") == "attacker.example"
    assert site_of("https://shop.example.co.uk") == "example.co.uk"
    # Tenants of a hosting domain on the list's private section are sites of their own.
    assert site_of("https://alice.github.io") == "alice.github.io"
    assert site_of("https://bob.github.io") == "bob.github.io"
    assert site_of("http://127.0.0.1:5555") == site_of("http://127.0.0.1:5556") == "127.0.0.1"
    assert site_of("http://[::1]:3000") == "::1"
    assert site_of("http://localhost:3000") == "localhost"


def test_a_flood_of_subdomains_leaves_room_for_other_sites(service: Service) -> None:
    """60 subdomains of one registrable domain: a handful get a request, the rest are refused,
    and a page of another site still gets one."""
    codes = flood(service.url, "attacker.example", 60)
    assert codes.count(202) == 3 and set(codes) == {202, 429}, codes
    refused = ask(service.url, "https://a99.attacker.example")
    assert_problem(refused, 429, "rate_limited")
    assert refused.headers["retry-after"]
    legit = ask(service.url, LEGIT)
    assert legit.status_code == 202, legit.text
    assert legit.json()["open_within"] <= legit.json()["expires_in"]


@pytest.mark.config("[security]\nallowed_origins = https://app.test\n"
                    "[limits]\npair_requests_per_minute = 6\nmax_pending_pairings = 4\n"
                    "max_pending_pairings_per_site = 2")
def test_a_full_room_never_blocks_an_allowed_origin(configured_service: Service) -> None:
    """Two attacker sites fill the whole room: a new site is refused, but an origin the user
    paired (asking for scopes it holds) and an admin-allowed origin are not, not even when
    the attacker floods the paired origin's own site."""
    url = configured_service.url
    paired = pair(configured_service)  # FOREIGN = http://127.0.0.1:5555, scope scan
    assert paired["token"].startswith("slt_")
    # Neighbours on the paired origin's own site (other ports) drain its rate and room.
    neighbours = [ask(url, f"http://127.0.0.1:{7000 + i}").status_code for i in range(12)]
    assert neighbours.count(202) == 2 and set(neighbours) == {202, 429}, neighbours
    for domain in ("attacker.example", "attacker2.example"):
        codes = flood(url, domain, 20)
        assert codes.count(202) <= 2 and set(codes) <= {202, 429}, codes
    full = ask(url, LEGIT)
    assert_problem(full, 429, "rate_limited")
    assert "waiting" in full.json()["detail"]

    again = ask(url, FOREIGN)  # lost its token: asks again for what it holds
    assert again.status_code == 202, again.text
    assert poll(url, FOREIGN, again.json()).status_code == 202
    wider = ask(url, FOREIGN, ("scan", "upload"))  # something new: a new site's rules
    assert_problem(wider, 429, "rate_limited")
    admin = ask(url, "https://app.test")
    assert admin.status_code == 200 and admin.json()["token"].startswith("slt_"), admin.text
    done = subprocess.run([sys.executable, "-m", "scanlet", "sites", "allow",
                           "https://intranet.test", "--scopes", "scan", "--home",
                           str(configured_service.home)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    allowed = ask(url, "https://intranet.test")
    assert allowed.status_code == 200 and allowed.json()["token"].startswith("slt_")


@pytest.mark.config("[limits]\npair_unopened_timeout = 1\nmax_pending_pairings_per_site = 1")
def test_unopened_requests_lapse_and_free_their_room(configured_service: Service) -> None:
    """A request whose consent page nobody opened (or only a script fetched) lapses after
    ``pair_unopened_timeout``; one whose page was opened lives on."""
    url = configured_service.url
    unopened = ask(url, "https://a.attacker.example").json()
    assert 0 < unopened["open_within"] <= 1 < unopened["expires_in"]
    fetched = ask(url, "https://b.other.test").json()
    # a script's no-cors fetch (or an <img>) of the consent page does not count as opened
    httpx.get(url + f"/pair/{fetched['request_id']}", timeout=10,
              headers={"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "no-cors"})
    for _ in range(3):  # its page must be opened within the second: asked again if not
        opened = ask(url, LEGIT).json()
        page = httpx.get(url + f"/pair/{opened['request_id']}", timeout=10,
                         headers={"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"})
        if page.status_code == 200:
            break
    assert page.status_code == 200, page.text

    deadline = time.monotonic() + 60
    left = {"https://a.attacker.example": unopened, "https://b.other.test": fetched}
    while left and time.monotonic() < deadline:
        for origin, answer in list(left.items()):
            answer_now = poll(url, origin, answer)
            if answer_now.status_code == 404:
                assert_problem(answer_now, 404, "pairing_not_found")
                del left[origin]
            else:
                assert answer_now.status_code == 202, answer_now.text
        time.sleep(0.2)
    assert not left, f"still pending: {sorted(left)}"
    assert poll(url, LEGIT, opened).status_code == 202  # opened: still waiting for the user
    # The site's one place is free again.
    assert ask(url, "https://c.attacker.example").status_code == 202


@pytest.mark.config("[security]\nconsent_delay_ms = 60000")
def test_allow_right_after_the_page_appeared_is_refused(configured_service: Service) -> None:
    """The second click of a double-click (Allow within the delay) is refused with a clear
    page and changes nothing; Deny needs no delay."""
    url = configured_service.url
    answer = ask(url, FOREIGN).json()
    with httpx.Client(base_url=url, timeout=10) as http:
        page = http.get(f"/pair/{answer['request_id']}").text
        assert 'data-delay-ms="60000"' in page
        assert '<button type=submit name=decision value=allow id=allow disabled>' in page
        assert '<script type=module src="/web/js/consent.js">' in page
        nonce = consent_form(page, wait=False)
        decision = f"/pair/{answer['request_id']}/decision"
        soon = http.post(decision, data={"nonce": nonce, "decision": "allow"},
                         headers={"Origin": url, **OWN_HEADERS})
        assert soon.status_code == 429 and "Too quick" in soon.text, soon.text
        assert "consent_too_soon" in soon.text and "Nothing was allowed" in soon.text
        assert int(soon.headers["retry-after"]) >= 1
        assert poll(url, FOREIGN, answer).status_code == 202  # still pending, no token
        denied = http.post(decision, data={"nonce": nonce, "decision": "deny"},
                           headers={"Origin": url, **OWN_HEADERS})
        assert denied.status_code == 200 and "Denied" in denied.text
    assert_problem(poll(url, FOREIGN, answer), 403, "pairing_denied")


@pytest.mark.config("[security]\nconsent_delay_ms = 300")
def test_allow_after_the_delay_is_taken(configured_service: Service) -> None:
    url = configured_service.url
    answer = ask(url, FOREIGN).json()
    with httpx.Client(base_url=url, timeout=10) as http:
        page = http.get(f"/pair/{answer['request_id']}").text
        nonce = consent_form(page)  # waits the page's 300 ms
        allowed = http.post(f"/pair/{answer['request_id']}/decision",
                            data={"nonce": nonce, "decision": "allow"},
                            headers={"Origin": url, **OWN_HEADERS})
        assert allowed.status_code == 200 and "Allowed" in allowed.text, allowed.text
    token = poll(url, FOREIGN, answer)
    assert token.status_code == 200 and token.json()["token"].startswith("slt_")
