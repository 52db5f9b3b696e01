"""The service's own pages and the SDK it serves, over plain HTTP against a real service.

``/sdk/<file>`` serves sdk-js/src to any page (CORS ``*``, cross-origin resource policy) with
ETags and no path tricks; ``/``, ``/admin`` and ``/demo`` are static HTML under the strict CSP;
``/web/...`` holds their scripts, styles and strings. The Host check applies to all of them, and
paths outside these stay default-deny API paths.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from scanlet import web
from tests.conftest import Service, make_home, start_service
from tests.helpers import assert_problem
from tests.security.conftest import raw_request

REPO = Path(__file__).resolve().parents[2]
SDK_SRC = REPO / "sdk-js" / "src"
FOREIGN = "http://127.0.0.1:5555"
PAGES = ["/", "/admin", "/demo"]
#: Text of files that must never come out of /sdk/ or /web/.
SECRETS = [b"[build-system]", b"__version__", b"root:x:0:0", b"BEGIN", b"import hashlib"]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service for the module: these tests only read."""
    svc = start_service(make_home(tmp_path_factory.mktemp("web") / "home"))
    yield svc
    svc.kill(signal.SIGTERM)


def port_of(service: Service) -> int:
    return int(service.url.rsplit(":", 1)[1])


def raw_get(service: Service, target: str, host: str | None = None) -> tuple[int, bytes]:
    """GET ``target`` exactly as written (no client-side normalisation); status and body."""
    host = host or f"127.0.0.1:{port_of(service)}"
    answer = raw_request(service.url, f"GET {target} HTTP/1.1\r\nHost: {host}\r\n"
                                      "Connection: close\r\n\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


# The SDK ----------------------------------------------------------------------------------


def test_sdk_is_served_to_any_page_with_cors_and_etag(service: Service) -> None:
    expected = (SDK_SRC / "scanlet.js").read_bytes()
    with httpx.Client(base_url=service.url, timeout=10) as http:
        # what a foreign page's <script type=module> sends: no token, CORS mode
        first = http.get("/sdk/scanlet.js", headers={
            "Origin": FOREIGN, "Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "cross-site",
            "Sec-Fetch-Dest": "script"})
        assert first.status_code == 200, first.text
        assert first.headers["content-type"].startswith("text/javascript")
        assert first.content == expected
        assert first.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in first.headers
        assert first.headers["cross-origin-resource-policy"] == "cross-origin"
        assert first.headers["cache-control"] == "no-cache"
        assert first.headers["x-content-type-options"] == "nosniff"
        etag = first.headers["etag"]
        assert re.fullmatch(r'"[0-9a-f]{32}"', etag)

        again = http.get("/sdk/scanlet.js", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["access-control-allow-origin"] == "*"
        weak = http.get("/sdk/scanlet.js", headers={"If-None-Match": f'"x", W/{etag}'})
        assert weak.status_code == 304
        stale = http.get("/sdk/scanlet.js", headers={"If-None-Match": '"0000"'})
        assert stale.status_code == 200 and stale.content == expected

        head = http.head("/sdk/scanlet.js")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == len(expected)
        assert head.headers["etag"] == etag

        # every file of sdk-js/src, subfolders included, with its media type
        for path in sorted(SDK_SRC.rglob("*")):
            if not path.is_file() or path.suffix not in (".js", ".json", ".css"):
                continue
            relative = path.relative_to(SDK_SRC).as_posix()
            answer = http.get(f"/sdk/{relative}")
            assert answer.status_code == 200, relative
            assert answer.content == path.read_bytes()
            media = {".js": "text/javascript", ".json": "application/json",
                     ".css": "text/css"}[path.suffix]
            assert answer.headers["content-type"].startswith(media), relative


def test_sdk_is_found_in_the_source_tree_of_an_editable_install() -> None:
    root = web.sdk_dir()
    assert root is not None
    assert (root / "scanlet.js").is_file()
    assert root.resolve() in (SDK_SRC.resolve(), (web.WEB_DIR / "sdk").resolve())


@pytest.mark.parametrize("target", [
    "/sdk/../pyproject.toml",
    "/sdk/../../pyproject.toml",
    "/sdk/../../../../../../etc/passwd",
    "/sdk/%2e%2e/%2e%2e/pyproject.toml",
    "/sdk/%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/sdk/..%2f..%2fsrc/scanlet/__init__.py",
    "/sdk/..%5c..%5cpyproject.toml",
    "/sdk/viewer-strings/../../package.json",
    "/sdk/viewer-strings/%2e%2e/%2e%2e/pyproject.toml",
    "/sdk//etc/passwd",
    "/sdk/%2fetc%2fpasswd",
    "/sdk/%2Fetc/passwd",
    "/sdk/.gitignore",
    "/sdk/.hidden",
    "/sdk/%2egitignore",
    "/sdk/../.gitignore",
    "/sdk/scanlet.js%00.png",
    "/sdk/",
    "/sdk/viewer-strings/",
    "/sdk/nope.js",
    "/web/../__init__.py",
    "/web/__init__.py",
    "/web/js/../__init__.py",
    "/web/i18n/%2e%2e/%2e%2e/__init__.py",
    "/web/pages/index.html",
    "/web/js/../../../../pyproject.toml",
    "/web//etc/passwd",
    "/sdk/../v1/devices",
    "/web/../v1/devices",
])
def test_paths_cannot_leave_the_served_folders(service: Service, target: str) -> None:
    status, body = raw_get(service, target)
    assert status in (400, 404), (target, status, body[:200])
    for secret in SECRETS:
        assert secret not in body, (target, secret)
    assert b"sane:test:0" not in body  # never an API answer either


def test_absolute_form_targets_cannot_reach_other_files(service: Service) -> None:
    port = port_of(service)
    status, body = raw_get(service, f"http://127.0.0.1:{port}/sdk/../../pyproject.toml")
    assert status in (400, 404)
    assert b"[build-system]" not in body


def test_resolve_refuses_dotfiles_symlinks_out_and_other_suffixes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / ".dir").mkdir()
    (root / "a.js").write_text("a")
    (root / "sub" / "b.json").write_text("{}")
    (root / ".hidden.js").write_text("x")
    (root / ".dir" / "c.js").write_text("x")
    (root / "notes.txt").write_text("x")
    (tmp_path / "outside.js").write_text("secret")
    (root / "link.js").symlink_to(tmp_path / "outside.js")
    (root / "inside.js").symlink_to(root / "a.js")
    assert web.resolve(root, "a.js") == (root / "a.js").resolve()
    assert web.resolve(root, "sub/b.json") == (root / "sub" / "b.json").resolve()
    assert web.resolve(root, "inside.js") == (root / "a.js").resolve()
    for bad in [".hidden.js", ".dir/c.js", "notes.txt", "link.js", "../outside.js",
                "sub/../../outside.js", "/etc/passwd", "", "sub/", "sub//b.json",
                "sub\\b.json", "a.js\x00", "missing.js", "sub"]:
        assert web.resolve(root, bad) is None, bad
    assert web.resolve(root, "sub/b.json", ("js",)) is None
    assert web.resolve(root, "a.js", ("js",)) is None  # first-level files are not in a folder


# The pages --------------------------------------------------------------------------------


class _Scripts(HTMLParser):
    """Collects <script> tags, inline event handlers and local asset links of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self.assets: list[str] = []
        self.ids: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if named.get("id"):
            self.ids.append(str(named["id"]))
        if tag == "script":
            self.scripts.append(named)
            self._in_script = True
            if named.get("src"):
                self.assets.append(str(named["src"]))
        if tag == "link" and named.get("rel") == "stylesheet":
            self.assets.append(str(named["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_html_under_the_strict_csp(service: Service, path: str) -> None:
    with httpx.Client(base_url=service.url, timeout=10) as http:
        page = http.get(path)  # no key, no token: the page itself is public
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        for rule in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'",
                     "base-uri 'none'"):
            assert rule in csp
        assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["cache-control"] == "no-store"
        assert "access-control-allow-origin" not in page.headers
        parsed = _Scripts()
        parsed.feed(page.text)
        assert parsed.scripts and all(s.get("type") == "module" and s.get("src")
                                      for s in parsed.scripts)
        assert parsed.inline == [] and parsed.handlers == []
        assert len(parsed.ids) == len(set(parsed.ids)), "duplicate ids"
        for asset in parsed.assets:
            answer = http.get(asset)
            assert answer.status_code == 200, asset
            assert answer.headers["cache-control"] == "no-cache"
        head = http.head(path)
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == len(page.content)


def test_page_assets_have_their_media_types(service: Service) -> None:
    with httpx.Client(base_url=service.url, timeout=10) as http:
        for path, media in [("/web/js/demo.js", "text/javascript"),
                            ("/web/js/i18n.js", "text/javascript"),
                            ("/web/css/scanlet.css", "text/css"),
                            ("/web/i18n/de.json", "application/json")]:
            answer = http.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"].startswith(media), path
            assert answer.headers["cross-origin-resource-policy"] == "same-origin"
            assert "access-control-allow-origin" not in answer.headers
            assert http.get(path, headers={"If-None-Match": answer.headers["etag"]}
                            ).status_code == 304


@pytest.mark.parametrize("path", [*PAGES, "/sdk/scanlet.js", "/web/js/home.js"])
def test_a_foreign_host_header_is_refused_on_pages_too(service: Service, path: str) -> None:
    port = port_of(service)
    for host in (f"evil.test:{port}", "evil.test", f"127.0.0.1.nip.io:{port}"):
        answer = httpx.get(service.url + path, headers={"Host": host})
        assert_problem(answer, 403, "host_not_allowed")
        assert "access-control-allow-origin" not in answer.headers
    status, body = raw_get(service, path, host=f"evil.test:{port}")
    assert status == 403 and b"host_not_allowed" in body
    assert httpx.get(service.url + path, headers={"Host": f"localhost:{port}"}).status_code == 200


@pytest.mark.parametrize("method,path", [
    ("GET", "/foo"), ("GET", "/index.html"), ("GET", "/admin/"), ("GET", "/demo/x"),
    ("GET", "/sdk"), ("GET", "/web"), ("GET", "/pages/index.html"), ("GET", "/adminx"),
    ("POST", "/admin"), ("POST", "/"), ("PUT", "/sdk/scanlet.js"), ("DELETE", "/demo"),
    ("POST", "/web/js/demo.js"),
])
def test_other_paths_and_methods_stay_api_paths(service: Service, method: str,
                                                path: str) -> None:
    refused = httpx.request(method, service.url + path)
    assert_problem(refused, 401, "unauthorized")
    with service.client() as http:
        known = http.request(method, path)
    # with a key: not found, wrong method, or the router's slash redirect to the page
    assert known.status_code in (404, 405, 307), (method, path, known.status_code)
    if known.status_code == 307:
        target = httpx.URL(known.headers["location"]).path
        assert target in (path.rstrip("/"), path + "/"), target


def test_pages_do_not_show_in_the_api_schema(service: Service) -> None:
    with service.client() as http:
        paths = http.get("/v1/openapi.json").json()["paths"]
    assert not [p for p in paths if not p.startswith("/v1/") and not p.startswith("/pair/")]


# Strings ----------------------------------------------------------------------------------


def _keys(table: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in table.items():
        if isinstance(value, dict):
            out |= _keys(value, f"{prefix}{key}.")
        else:
            assert isinstance(value, str) and value.strip(), prefix + key
            out.add(prefix + key)
    return out


def test_every_string_the_pages_use_exists_in_every_language() -> None:
    tables = {lang: json.loads((web.WEB_DIR / "i18n" / f"{lang}.json").read_text())
              for lang in ("en", "de")}
    keys = {lang: _keys(table) for lang, table in tables.items()}
    assert keys["en"] == keys["de"]
    used: set[str] = set()
    for html in (web.WEB_DIR / "pages").glob("*.html"):
        text = html.read_text()
        used |= set(re.findall(r'data-i18n="([^"]+)"', text))
        for pairs in re.findall(r'data-i18n-attr="([^"]+)"', text):
            used |= {pair.split(":", 1)[1].strip() for pair in pairs.split(";")}
    for script in (web.WEB_DIR / "js").glob("*.js"):
        text = script.read_text()
        used |= set(re.findall(r'\bt\("([a-zA-Z]+\.[a-zA-Z_.]+)"', text))
        used |= set(re.findall(r'\bsay\([^,]+, "([a-zA-Z]+\.[a-zA-Z_.]+)"', text))
        used |= {f"{group}.{value}" for group, value in
                 re.findall(r'\blabel\("(\w+)", "(\w+)"\)', text)}
    assert used, "no keys found"
    missing = [key for key in used if key not in keys["en"] and f"{key}.other" not in keys["en"]]
    assert sorted(missing) == []
    # German really differs from English where a word is not the same in both
    assert tables["de"]["demo"]["scan"] != tables["en"]["demo"]["scan"]


def test_any_page_may_preflight_the_sdk_but_nothing_else(service: Service) -> None:
    """A Private Network Access preflight for the module script of an unpaired page."""
    ask = {"Origin": FOREIGN, "Access-Control-Request-Method": "GET",
           "Access-Control-Request-Private-Network": "true"}
    with httpx.Client(base_url=service.url, timeout=10) as http:
        sdk = http.options("/sdk/scanlet.js", headers=ask)
        assert sdk.status_code == 204, sdk.text
        assert sdk.headers["access-control-allow-origin"] == FOREIGN
        assert sdk.headers["access-control-allow-private-network"] == "true"
        for path, method in [("/web/js/demo.js", "GET"), ("/", "GET"), ("/admin", "GET"),
                             ("/sdk/scanlet.js", "PUT"), ("/v1/devices", "GET")]:
            refused = http.options(path, headers={**ask, "Access-Control-Request-Method":
                                                  method})
            assert_problem(refused, 403, "origin_not_allowed")
            assert "access-control-allow-origin" not in refused.headers
        odd_header = http.options("/sdk/scanlet.js", headers={
            **ask, "Access-Control-Request-Headers": "x-evil"})
        assert_problem(odd_header, 403, "origin_not_allowed")
