"""``[ocr] tesseract``: which tesseract OCR and orientation detection run, and the clear
``ocr_unavailable`` error (naming the path) when it is wrong, in-process and over HTTP."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from scanlet.config import Home, load_settings
from scanlet.errors import OcrUnavailable
from scanlet.imaging.orientation import detect_orientation
from scanlet.ocr import OcrPool, languages, run_page
from scanlet.ocr.tesseract import configure, configured, find_tesseract
from tests.conftest import Service, make_home, start_service
from tests.helpers import assert_problem

TESSERACT = shutil.which("tesseract")
pytestmark = pytest.mark.skipif(TESSERACT is None, reason="tesseract is not installed")


@pytest.fixture(autouse=True)
def unconfigured() -> Iterator[None]:
    """Every test starts and ends with tesseract searched on PATH."""
    configure(None)
    yield
    configure(None)


@pytest.fixture
def bad_paths(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    plain = tmp_path / "not-executable"
    plain.write_text("#!/bin/sh\nexit 0\n")
    plain.chmod(0o644)
    return {"does not exist": str(tmp_path / "missing" / "tesseract"),
            "is a folder": str(folder),
            "is not executable": str(plain),
            "is not a program on PATH": "no-such-tesseract-program"}


def test_a_configured_path_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert TESSERACT is not None
    link = tmp_path / "bin" / "my-tesseract"
    link.parent.mkdir()
    link.symlink_to(TESSERACT)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # PATH alone finds nothing now
    with pytest.raises(OcrUnavailable):
        find_tesseract()
    configure(link)
    assert configured() == str(link)
    assert find_tesseract() == str(link)
    assert "eng" in languages()
    page = Image.new("L", (300, 120), 255)
    out = io.BytesIO()
    page.save(out, "PNG")
    assert run_page(out.getvalue(), dpi=300).text is not None
    assert detect_orientation(page).angle == 0
    configure("")  # empty: back to PATH
    assert configured() is None


def test_bad_configured_paths_are_clear_errors(bad_paths: dict[str, str]) -> None:
    image = Image.new("L", (100, 100), 255)
    for why, path in bad_paths.items():
        configure(path)
        for call in (find_tesseract, languages, lambda: run_page(b"never read"),
                     lambda: OcrPool(workers=1), lambda: detect_orientation(image)):
            with pytest.raises(OcrUnavailable) as caught:
                call()
            error = caught.value
            assert (error.code, error.http_status) == ("ocr_unavailable", 503)
            assert error.detail["path"] == path
            assert repr(path) in error.message and why in error.message, error.message
            assert "[ocr] tesseract" in error.message
    # An explicit argument wins over the configured one and is reported as given.
    assert TESSERACT is not None
    assert find_tesseract(TESSERACT) == TESSERACT
    configure(None)
    with pytest.raises(OcrUnavailable) as caught:
        find_tesseract(bad_paths["does not exist"])
    assert "[ocr] tesseract" not in caught.value.message
    assert "install" in caught.value.message.lower()


def test_the_config_key(tmp_path: Path) -> None:
    home = Home(tmp_path / "h").create()
    assert load_settings(home).tesseract is None
    assert "[ocr]\n# tesseract =" in home.service_config.read_text()
    home.user_config.write_text("[ocr]\ntesseract = ~/bin/tesseract\n")
    assert load_settings(home).tesseract == Path("~/bin/tesseract").expanduser()
    home.user_config.write_text("[ocr]\ntesseract = /nowhere/tesseract\n")  # not checked here
    assert load_settings(home).tesseract == Path("/nowhere/tesseract")
    home.user_config.write_text("[ocr]\ntesseract =\n")
    assert load_settings(home).tesseract is None


# Over HTTP -------------------------------------------------------------------------------


def service_with(tmp_path: Path, tesseract: str) -> Service:
    home = make_home(tmp_path / "home")
    with open(home / "user.ini", "a") as fh:
        fh.write(f"\n[ocr]\ntesseract = {tesseract}\n")
    return start_service(home)


def png_page() -> bytes:
    out = io.BytesIO()
    Image.new("L", (400, 300), 255).save(out, "PNG", dpi=(150, 150))
    return out.getvalue()


def test_service_with_a_bad_path_starts_and_says_which_path(tmp_path: Path) -> None:
    bad = str(tmp_path / "opt" / "tesseract")
    service = service_with(tmp_path, bad)
    try:
        with service.client() as http:
            assert http.get("/v1/health").status_code == 200
            answer = http.get("/v1/ocr/languages")
            body = assert_problem(answer, 503, "ocr_unavailable")
            # clients get the file's name only (issue 14, item 6); the log has the whole path
            assert body["path"] == "…/tesseract" and "…/tesseract" in body["detail"]
            assert bad not in answer.text and bad in (service.home / "log" / "scanlet.log"
                                                      ).read_text()
            doc = http.post("/v1/documents", json={"name": "ocr"}).json()["id"]
            [page] = http.post(f"/v1/documents/{doc}/import", content=png_page(),
                               headers={"Content-Type": "image/png"}).json()
            body = assert_problem(http.post(f"/v1/documents/{doc}/ocr", json={"lang": "eng"}),
                                  503, "ocr_unavailable")
            assert body["path"] == "…/tesseract"
            # Orientation detection (an edit) uses the same setting.
            edited = http.post(f"/v1/pages/{page['id']}/edit", json={"edits": [{"op": "orient"}]})
            body = assert_problem(edited, 503, "ocr_unavailable")
            assert body["path"] == "…/tesseract"
            assert http.get(f"/v1/pages/{page['id']}").json()["version"] == 0  # unchanged
    finally:
        service.kill()


def test_service_uses_the_configured_path(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert TESSERACT is not None
    link = tmp_path / "tools" / "tesseract-5"
    link.parent.mkdir()
    link.symlink_to(TESSERACT)
    # The service's PATH has no tesseract: only the configured path can make OCR work.
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    service = service_with(tmp_path, str(link))
    try:
        with service.client() as http:
            assert "eng" in http.get("/v1/ocr/languages").json()
            doc = http.post("/v1/documents", json={"name": "ocr"}).json()["id"]
            http.post(f"/v1/documents/{doc}/import", content=png_page(),
                      headers={"Content-Type": "image/png"}).raise_for_status()
            started = http.post(f"/v1/documents/{doc}/ocr", json={"lang": "eng",
                                                                   "output": "text"})
            assert started.status_code == 202, started.text
            task = wait_task(http, started.json()["id"])
            assert task["state"] == "completed", task
    finally:
        service.kill()


def wait_task(http: httpx.Client, task_id: str, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        task: dict[str, object] = http.get(f"/v1/tasks/{task_id}").json()
        if task["state"] != "running" or time.monotonic() > deadline:
            return task
        time.sleep(0.1)
