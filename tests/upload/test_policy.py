"""The upload target policy (issue 6): which URLs a client may upload to, and which address
the connection is pinned to. No network: names other than ``localhost`` go through an injected
resolver."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from scanlet.errors import AccessError, UploadTargetRefused
from scanlet.security.policy import Principal
from scanlet.upload import CheckedTarget, UploadRules, check_target, default_resolve

APP = "https://app.example.com"
PUBLIC = "93.184.215.14"
PUBLIC6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

DNS: dict[str, list[str]] = {
    "app.example.com": [PUBLIC],
    "files.example.com": ["93.184.215.15"],
    "bucket.s3.amazonaws.com": ["52.216.0.1"],
    "other.example.org": ["93.184.215.16"],
    "dual.example.com": [PUBLIC, PUBLIC6],
    "mixed.example.com": [PUBLIC, "10.0.0.1"],
    "mixed-late.example.com": [PUBLIC, PUBLIC6, "169.254.169.254"],
    "intranet.example.com": ["10.1.2.3"],
    "rebind.example.com": ["127.0.0.1"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    "sixtofour.example.com": ["2002:7f00:1::"],
    "linklocal6.example.com": ["fe80::1%eth0"],
    "cgnat.example.com": ["100.64.0.1"],
    "broken.example.com": ["not-an-address"],
    "empty.example.com": [],
}


def fake_resolve(host: str, port: int) -> list[str]:
    if host not in DNS:
        raise OSError(f"unknown test host {host}")
    return list(DNS[host])


def site(origin: str = APP) -> Principal:
    return Principal("site", "grant-1", origin, frozenset({"upload"}))


KEY = Principal("key", "key-1", None, frozenset({"upload"}))
SELF = Principal("self", "self", "http://127.0.0.1:18622", frozenset({"upload"}))

RULES = UploadRules(
    allowed_targets={
        APP: ("https://files.example.com", "https://bucket.s3.amazonaws.com/scans/"),
    },
)


def check(url: str, requester: Principal | None = None, rules: UploadRules = RULES,
          resolve: Callable[[str, int], list[str]] = fake_resolve) -> CheckedTarget:
    return check_target(url, requester=requester or site(), rules=rules, resolve=resolve)


def refused(url: str, requester: Principal | None = None, rules: UploadRules = RULES,
            resolve: Callable[[str, int], list[str]] = fake_resolve) -> UploadTargetRefused:
    with pytest.raises(UploadTargetRefused) as info:
        check(url, requester, rules, resolve)
    return info.value


# -- the refused targets the issue names -------------------------------------------------------

def test_cloud_metadata_address_is_refused_even_for_api_keys_and_allow_private() -> None:
    for rules in (RULES, UploadRules(allow_private=True)):
        err = refused("https://169.254.169.254/latest/meta-data/", KEY, rules)
        assert err.detail["reason"] == "address"
        assert err.detail["address"] == "169.254.169.254"
        assert err.detail["category"] == "a cloud metadata"
    assert refused("https://[fd00:ec2::254]/", KEY).detail["reason"] == "address"
    assert refused("https://100.100.100.200/", KEY).detail["reason"] == "address"


def test_private_address_is_refused_unless_admin_allowed_private() -> None:
    err = refused("https://10.0.0.1/upload", KEY)
    assert (err.detail["reason"], err.detail["address"]) == ("address", "10.0.0.1")
    for address in ("172.16.0.1", "192.168.1.10", "[fc00::1]", "100.64.0.1"):
        assert refused(f"https://{address}/", KEY).detail["reason"] == "address", address
    allowed = check("https://10.0.0.1/upload", KEY, UploadRules(allow_private=True))
    assert allowed.address == "10.0.0.1"
    # allow_private does not open loopback or link-local
    assert refused("https://127.0.0.1/", KEY, UploadRules(allow_private=True)).detail[
        "reason"] == "address"
    assert refused("https://169.254.1.1/", KEY, UploadRules(allow_private=True)).detail[
        "reason"] == "address"


def test_another_loopback_port_than_the_enabled_dev_target_is_refused() -> None:
    rules = UploadRules(allow_loopback_targets=("http://127.0.0.1:8080",))
    assert check("http://127.0.0.1:8080/up", KEY, rules).address == "127.0.0.1"
    err = refused("http://127.0.0.1:9090/up", KEY, rules)
    assert err.detail["reason"] == "scheme"
    err = refused("https://127.0.0.1:9090/up", KEY, rules)
    assert (err.detail["reason"], err.detail["address"]) == ("address", "127.0.0.1")
    # Scanlet's own port is loopback too
    assert refused("https://127.0.0.1:18623/v1/documents", SELF, rules).detail[
        "reason"] == "address"


def test_a_name_that_resolves_to_loopback_is_refused() -> None:
    # the real resolver: "localhost" is answered locally (127.0.0.1 and/or ::1), no network
    err = refused("https://localhost:8443/upload", KEY, resolve=default_resolve)
    assert err.detail["reason"] == "address"
    assert err.detail["category"] == "a loopback"
    # and a public name whose DNS answer is loopback (DNS rebinding)
    assert refused("https://rebind.example.com/", KEY).detail["reason"] == "address"


def test_plain_http_to_a_non_loopback_host_is_refused() -> None:
    err = refused("http://app.example.com/upload")
    assert err.detail["reason"] == "scheme"
    assert refused(f"http://{PUBLIC}/upload", KEY).detail["reason"] == "scheme"
    # enabling a loopback dev target does not open plain http elsewhere
    rules = UploadRules(allow_loopback_targets=("http://127.0.0.1:8080",))
    assert refused("http://app.example.com:8080/", KEY, rules).detail["reason"] == "scheme"


def test_a_target_of_another_origin_is_refused_for_a_web_page() -> None:
    err = refused("https://other.example.org/upload")
    assert err.detail["reason"] == "origin"
    # look-alikes, other ports and schemes of the own origin are other origins
    for url in ("https://app.example.com.evil.test/", "https://app.example.com:8443/",
                "https://evil.app.example.com/", "ftps://app.example.com/"):
        assert refused(url).detail["reason"] in ("origin", "url"), url
    # another site's allowed targets are not this site's
    assert refused("https://files.example.com/x", site("https://b.example.net")).detail[
        "reason"] == "origin"


# -- what is allowed ---------------------------------------------------------------------------

def test_own_origin_https_is_allowed_and_pinned() -> None:
    target = check("https://App.Example.com/api/upload?sig=secret")
    assert target == CheckedTarget(scheme="https", host="app.example.com", port=443,
                                   path="/api/upload", address=PUBLIC,
                                   server_hostname="app.example.com", query="sig=secret")
    assert target.request_target == "/api/upload?sig=secret"
    assert target.origin == APP
    assert "secret" not in repr(target)
    assert target.safe_url() == "https://app.example.com:443/api/upload"


def test_the_pinned_address_is_the_first_of_an_all_public_answer() -> None:
    assert check("https://dual.example.com/", KEY).address == PUBLIC
    target = check(f"https://[{PUBLIC6.upper()}]:8443/", KEY)
    assert (target.host, target.address, target.port) == (PUBLIC6, PUBLIC6, 8443)


def test_resolver_is_asked_once_with_host_and_port() -> None:
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return [PUBLIC]

    check("https://app.example.com:8443/x", KEY, resolve=resolve)
    assert calls == [("app.example.com", 8443)]
    calls.clear()
    check(f"https://{PUBLIC}/x", KEY, resolve=resolve)
    assert calls == []  # an IP literal is not resolved


def test_admin_allowed_other_origin_and_prefix() -> None:
    assert check("https://files.example.com/any/path").address == "93.184.215.15"
    assert check("https://bucket.s3.amazonaws.com/scans/a.pdf?X-Amz-Signature=s").path == (
        "/scans/a.pdf")
    assert check("https://bucket.s3.amazonaws.com/scans").path == "/scans"
    for path in ("/scansX/a.pdf", "/other/a.pdf", "/"):
        err = refused(f"https://bucket.s3.amazonaws.com{path}")
        assert err.detail["reason"] == "origin", path


def test_admin_enabled_loopback_dev_target_allows_http_on_that_exact_port_only() -> None:
    rules = UploadRules(
        allowed_targets={"http://localhost:3000": ("http://127.0.0.1:8080",)},
        allow_loopback_targets=("http://127.0.0.1:8080", "http://localhost:3000"),
    )
    dev_site = site("http://localhost:3000")
    assert check("http://127.0.0.1:8080/upload", dev_site, rules).address == "127.0.0.1"
    assert check("http://127.0.0.1:8080/upload", dev_site, rules).server_hostname is None
    own = check("http://localhost:3000/upload", dev_site, rules, resolve=default_resolve)
    assert own.address in ("127.0.0.1", "::1")
    assert refused("http://127.0.0.1:8081/upload", dev_site, rules).detail["reason"] == "scheme"
    assert refused("https://127.0.0.1:8080/upload", dev_site, rules).detail["reason"] in (
        "origin", "address")
    # without the admin's entry the same target is refused
    assert refused("http://127.0.0.1:8080/upload", dev_site, UploadRules(
        allowed_targets=rules.allowed_targets)).detail["reason"] == "scheme"


def test_dev_target_must_really_be_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        UploadRules(allow_loopback_targets=("http://10.0.0.1:8080",))
    with pytest.raises(ValueError, match="loopback"):
        UploadRules(allow_loopback_targets=("http://app.example.com:8080",))
    rules = UploadRules(allow_loopback_targets=("http://localhost:8080",))
    # a dev name whose answer is not loopback is refused
    err = refused("http://localhost:8080/", KEY, rules, resolve=lambda h, p: [PUBLIC])
    assert err.detail["reason"] == "address"


def test_api_key_may_upload_to_any_public_target() -> None:
    assert check("https://other.example.org/upload", KEY).address == "93.184.215.16"
    assert check(f"https://{PUBLIC}/upload", KEY).address == PUBLIC
    assert check("https://other.example.org/upload", SELF).address == "93.184.215.16"


def test_unknown_requester_kinds_are_refused() -> None:
    anonymous = Principal("anonymous", "", None, frozenset())
    assert refused("https://app.example.com/", anonymous).detail["reason"] == "origin"
    assert refused("https://app.example.com/", site("")).detail["reason"] == "origin"


def test_ftps_allowed_and_plain_ftp_refused_for_non_loopback() -> None:
    target = check("ftps://files.example.com/in/scan.pdf", KEY)
    assert (target.scheme, target.port, target.server_hostname, target.tls) == (
        "ftps", 21, "files.example.com", True)
    assert refused("ftp://files.example.com/in/scan.pdf", KEY).detail["reason"] == "scheme"
    no_ftp = UploadRules(allow_ftp=False)
    assert refused("ftps://files.example.com/in/", KEY, no_ftp).detail["reason"] == "scheme"
    dev = UploadRules(allow_loopback_targets=("ftp://127.0.0.1:2121",))
    assert check("ftp://127.0.0.1:2121/in/", KEY, dev).address == "127.0.0.1"


def test_other_schemes_are_refused() -> None:
    for url in ("file:///etc/passwd", "gopher://app.example.com/", "ws://app.example.com/",
                "javascript:alert(1)", "//app.example.com/x", "/relative"):
        assert refused(url, KEY).detail["reason"] == "scheme", url


# -- address tricks ----------------------------------------------------------------------------

def test_mixed_public_and_private_dns_answer_is_refused() -> None:
    err = refused("https://mixed.example.com/", KEY)
    assert (err.detail["reason"], err.detail["address"]) == ("address", "10.0.0.1")
    err = refused("https://mixed-late.example.com/", KEY)
    assert err.detail["address"] == "169.254.169.254"
    # even when the admin allowed private ranges, a metadata address in the mix is refused
    assert refused("https://mixed-late.example.com/", KEY, UploadRules(allow_private=True))


@pytest.mark.parametrize("host", [
    "2130706433", "0x7f000001", "0x7f.1", "127.1", "0177.0.0.1", "127.0.0.01", "0x7f.0.0.1",
    "017700000001", "127.0.1", "1.2.3.4.5", "256.0.0.1", "10.0.0.0x1",
])
def test_integer_hex_and_octal_ip_forms_are_refused(host: str) -> None:
    calls: list[str] = []

    def resolve(name: str, port: int) -> list[str]:
        calls.append(name)
        return [PUBLIC]  # would pass: the refusal must come from the form itself

    err = refused(f"https://{host}/", KEY, resolve=resolve)
    assert err.detail["reason"] == "url"
    assert calls == []


@pytest.mark.parametrize(("url", "resolved"), [
    ("https://[::ffff:127.0.0.1]/", None),
    ("https://[::ffff:7f00:1]/", None),
    ("https://[::ffff:169.254.169.254]/", None),
    ("https://[::ffff:10.0.0.1]/", None),
    ("https://[2002:7f00:1::]/", None),
    ("https://[64:ff9b::7f00:1]/", None),
    ("https://[::1]/", None),
    ("https://[::]/", None),
    ("https://0.0.0.0/", None),
    ("https://255.255.255.255/", None),
    ("https://224.0.0.1/", None),
    ("https://240.0.0.1/", None),
    ("https://[fe80::1]/", None),
    ("https://mapped.example.com/", "::ffff:127.0.0.1"),
    ("https://sixtofour.example.com/", "2002:7f00:1::"),
    ("https://linklocal6.example.com/", "fe80::1"),
    ("https://cgnat.example.com/", "100.64.0.1"),
    ("https://intranet.example.com/", "10.1.2.3"),
])
def test_forbidden_addresses_and_ipv6_embeddings_are_refused(url: str, resolved: str | None
                                                             ) -> None:
    err = refused(url, KEY)
    assert err.detail["reason"] == "address"
    if resolved is not None:
        assert ipaddress.ip_address(err.detail["address"]) == ipaddress.ip_address(resolved)


def test_ipv6_mapped_loopback_is_not_a_dev_target() -> None:
    rules = UploadRules(allow_loopback_targets=("http://127.0.0.1:8080",))
    err = refused("http://[::ffff:127.0.0.1]:8080/", KEY, rules)
    assert err.detail["reason"] == "scheme"


def test_resolution_failures_are_refusals() -> None:
    for host in ("unknown.example.com", "empty.example.com", "broken.example.com"):
        assert refused(f"https://{host}/", KEY).detail["reason"] == "resolve", host


def test_default_resolve_answers_localhost_without_network() -> None:
    addresses = default_resolve("localhost", 443)
    assert addresses and set(addresses) <= {"127.0.0.1", "::1"}
    assert len(addresses) == len(set(addresses))
    with pytest.raises(UploadTargetRefused) as info:
        default_resolve("a" * 64 + ".example", 443)  # label too long: refused before any query
    assert info.value.detail["reason"] == "resolve"


# -- URL hygiene -------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "https://user:pass@app.example.com/", "https://user@app.example.com/",
    "https://app.example.com@evil.test/", "https://:@app.example.com/",
])
def test_userinfo_is_refused(url: str) -> None:
    err = refused(url, KEY)
    assert err.detail["reason"] == "credentials"
    assert "pass" not in str(err) and "user" not in str(err.detail)


@pytest.mark.parametrize("url", [
    "https://app.example.com/ x", "https://app.example.com/\r\nX: y", "https://app.example.com:0/",
    "https://app.example.com:99999/", "https://app.example.com\\@evil.test/", "https://[::1/",
    "https://bücher.example/", "https://exa_mple.com/", "https://app.example.com./",
    "https://[fe80::1%25eth0]/", "https:///path", "",
])
def test_malformed_urls_are_refused(url: str) -> None:
    assert refused(url, KEY).detail["reason"] == "url"


def test_query_strings_never_appear_in_errors() -> None:
    secret = "X-Amz-Signature=TOPSECRET"
    cases = [
        (f"https://other.example.org/up?{secret}", site(), "origin"),
        (f"http://app.example.com/up?{secret}", site(), "scheme"),
        (f"https://10.0.0.1/up?{secret}", KEY, "address"),
        (f"https://unknown.example.com/up?{secret}", KEY, "resolve"),
        (f"https://0x7f.1/up?{secret}", KEY, "url"),
        (f"https://u:p@app.example.com/up?{secret}", KEY, "credentials"),
        (f"https://app.example.com:99999/up?{secret}", KEY, "url"),
        (f"gopher://app.example.com/up?{secret}", KEY, "scheme"),
    ]
    for url, requester, reason in cases:
        err = refused(url, requester)
        assert err.detail["reason"] == reason, url
        text = f"{err} {err.message} {err.to_dict()} {err.__cause__} {err.__context__}"
        assert "TOPSECRET" not in text, url
    err = refused(f"https://other.example.org/up?{secret}")
    assert err.detail["target"] == "https://other.example.org:443/up"
    assert "https://other.example.org:443/up" in err.message


def test_error_is_an_access_error_with_a_stable_code() -> None:
    err = refused("https://10.0.0.1/", KEY)
    assert isinstance(err, AccessError)
    assert (err.code, err.http_status) == ("upload_target_refused", 403)


def test_rules_validate_admin_entries() -> None:
    with pytest.raises(ValueError):
        UploadRules(allowed_targets={"https://app.example.com/path": ("https://x.example.com",)})
    with pytest.raises(ValueError):
        UploadRules(allowed_targets={APP: "https://files.example.com"})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        UploadRules(allowed_targets={APP: ("https://files.example.com/?a=1",)})
    with pytest.raises(ValueError):
        UploadRules(allowed_targets={APP: ("https://u:p@files.example.com",)})
    # keys and entries are canonicalized: case, default port, trailing slash
    rules = UploadRules(allowed_targets={"HTTPS://App.Example.com:443/": (
        "https://FILES.example.com:443/",)})
    assert check("https://files.example.com/x", rules=rules).address == "93.184.215.15"
