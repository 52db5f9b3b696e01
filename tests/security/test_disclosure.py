"""No client learns local paths or platform details (issue 14, item 6).

Errors that name files (a bad ``[ocr] tesseract``, an unwritable document-password file) reach
paired web pages and programs with the path reduced to its last part, while the log keeps it;
``/v1/version`` names the product and its version only, for any origin and any paired site;
the build, kernel, Python and library versions are at ``/v1/admin/version`` for the ``admin``
scope (the CLI's key).
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scanlet import __version__
from scanlet.disclosure import public_text, public_value
from scanlet.models import ErrorInfo
from tests.conftest import Service, make_home, start_service
from tests.helpers import assert_problem
from tests.security.test_access_http import FOREIGN, as_site, pair

#: An absolute POSIX path of two or more parts (a route such as /v1/x is told apart by hand).
ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:tmp|home|root|var|usr|opt|Users)/[^\s'\"]+")


def no_paths(text: str, *paths: Path | str) -> None:
    for path in paths:
        assert str(path) not in text, text
    assert not ABSOLUTE.search(text), text


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Service]:
    home = make_home(tmp_path / "home")
    with open(home / "user.ini", "a") as fh:
        fh.write(f"\n[ocr]\ntesseract = {home / 'opt' / 'tesseract'}\n")
    service = start_service(home)
    yield service
    service.kill(signal.SIGTERM)


def test_an_error_naming_a_file_reaches_a_paired_page_without_the_path(svc: Service) -> None:
    bad = svc.home / "opt" / "tesseract"
    site = as_site(pair(svc)["token"])
    answer = httpx.get(svc.url + "/v1/ocr/languages", headers=site, timeout=10)
    body = assert_problem(answer, 503, "ocr_unavailable")
    no_paths(answer.text, bad, svc.home, svc.home.parent)
    assert body["path"] == "…/tesseract" and "…/tesseract" in body["detail"]
    # the admin's log keeps the whole path
    log = (svc.home / "log" / "scanlet.log").read_text()
    assert "ocr_unavailable on GET /v1/ocr/languages: " in log and str(bad) in log


def test_a_storage_error_of_the_compatibility_api_names_no_path(svc: Service) -> None:
    """The document-password file cannot be written (a folder took its place): the reference's
    error body says so without the home's path (it held it twice, via the OSError too)."""
    file = svc.home / "keys" / "document-passwords.json"
    file.unlink(missing_ok=True)
    file.mkdir()
    answer = httpx.post(svc.url + "/api/storage/documents", json={"password": "pw"}, timeout=10)
    assert answer.status_code == 500, answer.text
    body = answer.json()
    assert body["scanletCode"] == "storage_error"
    assert "…/document-passwords.json" in body["message"]
    no_paths(answer.text, file, svc.home)
    assert str(file) in (svc.home / "log" / "scanlet.log").read_text()


def test_version_tells_other_origins_and_paired_sites_no_platform(svc: Service) -> None:
    site = as_site(pair(svc)["token"])
    expected = {"name": "scanlet", "version": __version__}
    for headers in ({}, {"Origin": FOREIGN}, {"Origin": "https://evil.example"}, site,
                    {"Origin": "https://evil.example", "Authorization": "Bearer slt_x"}):
        answer = httpx.get(svc.url + "/v1/version", headers=headers, timeout=10)
        assert answer.status_code == 200 and answer.json() == expected, (headers, answer.text)
    assert_problem(httpx.get(svc.url + "/v1/admin/version", headers=site, timeout=10),
                   403, "scope_not_granted")
    assert_problem(httpx.get(svc.url + "/v1/admin/version", headers={"Origin": FOREIGN},
                             timeout=10), 401, "unauthorized")
    with svc.client() as http:  # the CLI's key holds the admin scope
        details = http.get("/v1/admin/version").json()
    assert details["version"] == __version__ and details["build"].startswith(__version__)
    assert details["platform"]["release"] and details["platform"]["python"]
    assert details["libraries"]["fastapi"]


@pytest.mark.parametrize(("text", "public"), [
    ("cannot open the page index /home/alice/.local/share/scanlet/cache/buffer.sqlite3: gone",
     "cannot open the page index …/buffer.sqlite3: gone"),
    ("[Errno 21] Is a directory: '/tmp/h/keys/.f.part' -> '/tmp/h/keys/f.json'",
     "[Errno 21] Is a directory: '…/.f.part' -> '…/f.json'"),
    (r"cannot write C:\Users\alice\AppData\Local\Scanlet\x.pdf: denied",
     r"cannot write …\x.pdf: denied"),
    ("see file:///home/alice/scan.pdf", "see file://…/scan.pdf"),
    ("~/bin/tesseract is not executable", "…/tesseract is not executable"),
    # routes, URLs and fractions are not files
    ("copy /v1/pages/abc/image into /api/storage/documents/x",
     "copy /v1/pages/abc/image into /api/storage/documents/x"),
    ("upload to https://example.com/home/x?y=/tmp failed",
     "upload to https://example.com/home/x?y=/tmp failed"),
    ("ratio 1/2", "ratio 1/2"),
])
def test_public_text_reduces_paths_only(text: str, public: str) -> None:
    if "/home/" in text and not Path("/home").exists():
        pytest.skip("no /home on this machine")
    assert public_text(text) == public


def test_the_home_itself_becomes_a_tilde_and_job_errors_are_reduced_too() -> None:
    home = Path.home()
    assert public_text(f"home {home} and {home}/") == "home ~ and ~"
    if home.parent != Path(home.anchor):  # /home/alice: /home names no one, but is no file
        assert public_text(f"in {home.parent}") == "in ~"
    info = ErrorInfo(code="storage_error", message=f"cannot read {home}/x/y.json",
                     detail={"path": f"{home}/x/y.json", "paths": [f"{home}/z"]})
    assert info.message == "cannot read …/y.json"
    assert info.detail == {"path": "…/y.json", "paths": ["…/z"]}
    assert public_value({"n": 1, "t": ("/tmp/a",)}) == {"n": 1, "t": ["…/a"]}
