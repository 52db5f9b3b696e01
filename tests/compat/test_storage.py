"""``/api/storage/documents`` against a real service: documents as buffer documents,
passwords (both header names, kept across a restart, never in /v1), pages copied from page
URLs at the reference's 1-based positions, pages deleted by uid and index, content as PDF,
TIFF, PNG and JPEG, and the reference's errors."""

from __future__ import annotations

import io
import json
import stat
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pikepdf
import pytest
import zxingcpp
from pikepdf.models.metadata import decode_pdf_date
from PIL import Image, ImageDraw

from tests.compat.conftest import dwt_error
from tests.conftest import Service, make_home, start_service

DPI = 100
#: Widths of the imported pages: a page's width tells it apart in every output.
WIDTHS = (200, 300, 400)
QR_TEXT = "Scanlet compat QR 8"


# -- helpers (also used by test_process.py and test_client_storage.py) ------------------------


def source_url(service: Service, page_id: str, job: str | None = None) -> str:
    """A page URL as next-page-info gives it (the job uid is not needed to find the page)."""
    return (f"{service.url}/api/device/scanners/jobs/{job or uuid.uuid4()}/next-page"
            f"?page={page_id}")


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(DPI, DPI))
    return out.getvalue()


def qr_image(text: str = QR_TEXT) -> Image.Image:
    """A white page with a QR code on it."""
    page = Image.new("L", (600, 800), 255)
    code = Image.fromarray(np.asarray(
        zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode).to_image(scale=8)))
    page.paste(code.convert("L"), (150, 200))
    ImageDraw.Draw(page).text((150, 650), text, fill=0, font_size=24)
    return page


def import_pages(http: httpx.Client, images: list[Image.Image]) -> tuple[str, list[str]]:
    """A new /v1 document holding ``images`` (PNG at :data:`DPI`); its id and page ids."""
    document = http.post("/v1/documents", json={"name": "sources"}).json()["id"]
    for image in images:
        answer = http.post(f"/v1/documents/{document}/import", content=png(image),
                           headers={"Content-Type": "image/png"})
        assert answer.status_code == 201, answer.text
    pages = http.get(f"/v1/documents/{document}/pages").json()
    return document, [p["id"] for p in pages]


def scan_pages(http: httpx.Client, count: int = 2) -> tuple[str, list[str]]:
    """Pages scanned from the SANE test scanner's feeder (its default picture: solid black)."""
    job = http.post("/v1/jobs", json={"device": "sane:test:0", "source": "feeder",
                                      "mode": "gray", "resolution": 75, "pages": count})
    assert job.status_code == 201, job.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = http.get(f"/v1/jobs/{job.json()['id']}").json()
        if state["state"] not in ("pending", "running"):
            break
        time.sleep(0.05)
    assert state["state"] == "completed", state
    pages = http.get(f"/v1/documents/{job.json()['document_id']}/pages").json()
    assert len(pages) == count
    return job.json()["document_id"], [p["id"] for p in pages]


def widths_of(http: httpx.Client, document: str) -> list[int]:
    return [p["width"] for p in http.get(f"/v1/documents/{document}/pages").json()]


@pytest.fixture(scope="module")
def sources(service: Service) -> list[str]:
    """Page ids of three imported pages, WIDTHS wide, in a /v1 document."""
    images = [Image.new("L", (w, 300), 255 - 40 * i) for i, w in enumerate(WIDTHS)]
    with service.client() as http:
        return import_pages(http, images)[1]


def api(service: Service) -> str:
    return f"{service.url}/api/storage/documents"


def new_document(service: Service, password: str | None = None) -> str:
    body = {} if password is None else {"password": password}
    answer = httpx.post(api(service), json=body, timeout=30)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["pages"] == [] and isinstance(created["uid"], str)
    return str(created["uid"])


def insert(service: Service, document: str, page_id: str, position: object = None,
           headers: dict[str, str] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"source": source_url(service, page_id)}
    if position is not None:
        body["insertPos"] = position
    return httpx.post(f"{api(service)}/{document}/pages", json=body, headers=headers,
                      timeout=30)


# -- documents ----------------------------------------------------------------------------------


def test_documents_are_buffer_documents(service: Service) -> None:
    uid = new_document(service)
    with service.client() as http:
        v1 = http.get(f"/v1/documents/{uid}")
        assert v1.status_code == 200 and v1.json()["name"] == "DWT document"
    info = httpx.get(f"{api(service)}/{uid}", timeout=10)
    assert info.status_code == 200 and info.json() == {"uid": uid, "pages": []}
    # A document made through /v1 is reachable here too.
    with service.client() as http:
        other = http.post("/v1/documents", json={"name": "v1"}).json()["id"]
    assert httpx.get(f"{api(service)}/{other}", timeout=10).json() == {"uid": other, "pages": []}


def test_metadata_replaces_the_custom_data(service: Service) -> None:
    uid = new_document(service)
    with service.client() as http:
        http.patch(f"/v1/documents/{uid}", json={"metadata": {"mine": 1}}).raise_for_status()
    url = f"{api(service)}/{uid}"
    answer = httpx.patch(url, json={"metadata": "case 42"}, timeout=10)
    assert answer.status_code == 200 and answer.json() == {
        "uid": uid, "pages": [], "metadata": "case 42"}
    answer = httpx.patch(url, json={"metadata": {"case": 43, "tags": ["a"]}}, timeout=10)
    assert answer.json()["metadata"] == {"case": 43, "tags": ["a"]}
    assert httpx.get(url, timeout=10).json()["metadata"] == {"case": 43, "tags": ["a"]}
    with service.client() as http:  # kept beside the document's own /v1 metadata
        assert http.get(f"/v1/documents/{uid}").json()["metadata"] == {
            "mine": 1, "dwt_metadata": {"case": 43, "tags": ["a"]}}
    # Sent as text/plain, as older clients do.
    answer = httpx.patch(url, content='{"metadata": "plain"}', timeout=10,
                         headers={"Content-Type": "application/text"})
    assert answer.json()["metadata"] == "plain"
    cleared = httpx.patch(url, json={"metadata": None}, timeout=10)
    assert cleared.status_code == 200 and "metadata" not in cleared.json()
    for bad in ({"metadata": [1, 2]}, {"metadata": 5}, {}):
        dwt_error(httpx.patch(url, json=bad, timeout=10), 400, -2113)


def test_delete_removes_the_document_and_its_pages(service: Service,
                                                    sources: list[str]) -> None:
    uid = new_document(service)
    assert insert(service, uid, sources[0]).status_code == 200
    copy = httpx.get(f"{api(service)}/{uid}", timeout=10).json()["pages"][0]["uid"]
    answer = httpx.delete(f"{api(service)}/{uid}", timeout=10)
    assert answer.status_code == 204 and answer.content == b""
    dwt_error(httpx.get(f"{api(service)}/{uid}", timeout=10), 404, -1040)
    with service.client() as http:
        assert http.get(f"/v1/documents/{uid}").status_code == 404
        assert http.get(f"/v1/pages/{copy}").status_code == 404
        assert http.get(f"/v1/pages/{sources[0]}").status_code == 200  # the source stays


def test_unknown_documents_are_404_1040(service: Service, sources: list[str]) -> None:
    url = f"{api(service)}/nosuchdocument000"
    for answer in (httpx.get(url, timeout=10), httpx.delete(url, timeout=10),
                   httpx.patch(url, json={"metadata": "x"}, timeout=10),
                   httpx.get(url + "/content", timeout=10),
                   httpx.delete(url + "/pages/0", timeout=10),
                   httpx.post(url + "/pages", json={"source": source_url(service, sources[0])},
                              timeout=10)):
        dwt_error(answer, 404, -1040)
    dwt_error(httpx.put(url, timeout=10), 405, -2112)


def test_bad_create_bodies_are_400(service: Service) -> None:
    for body in ('{"password": "' + "x" * 33 + '"}', '{"password": 12}', "[1]", "{nope"):
        dwt_error(httpx.post(api(service), content=body, timeout=10), 400, -2113)
    assert httpx.post(api(service), content="", timeout=10).status_code == 201


# -- passwords ----------------------------------------------------------------------------------


def test_a_password_protects_every_call(service: Service, sources: list[str]) -> None:
    uid = new_document(service, "s3cret-pass")
    url = f"{api(service)}/{uid}"
    body = {"source": source_url(service, sources[0])}

    def calls(headers: dict[str, str]) -> list[httpx.Response]:
        return [httpx.get(url, headers=headers, timeout=10),
                httpx.patch(url, json={"metadata": "m"}, headers=headers, timeout=10),
                httpx.post(url + "/pages", json=body, headers=headers, timeout=10),
                httpx.get(url + "/content", headers=headers, timeout=10),
                httpx.delete(url + "/pages/0", headers=headers, timeout=10),
                httpx.delete(url, headers=headers, timeout=10)]

    for headers in ({}, {"DWT-DOC-PASSWORD": "wrong"}, {"X-DICS-DOC-PASSWORD": "S3CRET-PASS"},
                    {"DWT-DOC-PASSWORD": ""}, {"DWT-DOC-PASSWORD": "s3cret-pass" * 4}):
        for answer in calls(headers):
            dwt_error(answer, 403, -1043)
    assert httpx.get(url, timeout=10, headers={"DWT-DOC-PASSWORD": "s3cret-pass"}).json() == {
        "uid": uid, "pages": []}
    # The 19.0 header name works as well.
    for headers in ({"DWT-DOC-PASSWORD": "s3cret-pass"}, {"X-DICS-DOC-PASSWORD": "s3cret-pass"}):
        answers = calls(headers)
        assert [a.status_code for a in answers] == [200, 200, 200, 200, 204, 204], [
            a.text for a in answers]
        uid = new_document(service, "s3cret-pass")
        url = f"{api(service)}/{uid}"
    # /v1 callers hold a Scanlet key: the password guards the /api view only.
    with service.client() as http:
        assert http.get(f"/v1/documents/{uid}").status_code == 200


def test_pages_of_a_protected_document_need_its_password_as_a_source(
        service: Service, sources: list[str]) -> None:
    locked = new_document(service, "pw-one")
    insert(service, locked, sources[0], headers={"DWT-DOC-PASSWORD": "pw-one"}).raise_for_status()
    copy = httpx.get(f"{api(service)}/{locked}", headers={"DWT-DOC-PASSWORD": "pw-one"},
                     timeout=10).json()["pages"][0]["uid"]
    target = new_document(service)
    dwt_error(insert(service, target, copy), 403, -1043)
    answer = insert(service, target, copy, headers={"DWT-SOURCE-PASSWORD": "pw-one"})
    assert answer.status_code == 200 and len(answer.json()["pages"]) == 1, answer.text


def test_passwords_are_hashed_and_survive_a_restart(tmp_path: Path) -> None:
    svc = start_service(make_home(tmp_path / "home"))
    try:
        uid = new_document(svc, "kept-across")
        gone = new_document(svc, "deleted-later")
        file = svc.home / "keys" / "document-passwords.json"
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        text = file.read_text()
        assert "kept-across" not in text and "deleted-later" not in text
        assert set(json.loads(text)["documents"]) == {uid, gone}
        with svc.client() as http:  # deleted through /v1: its password goes at next use
            assert http.delete(f"/v1/documents/{gone}").status_code == 204
        with svc.client() as http:  # /v1 shows no trace of the password
            assert "kept-across" not in http.get(f"/v1/documents/{uid}").text
    finally:
        svc.kill()
    svc = start_service(svc.home)
    try:
        url = f"{api(svc)}/{uid}"
        dwt_error(httpx.get(url, timeout=10), 403, -1043)
        assert httpx.get(url, headers={"DWT-DOC-PASSWORD": "kept-across"},
                         timeout=10).status_code == 200
        assert set(json.loads(file.read_text())["documents"]) == {uid}
        assert httpx.delete(url, headers={"DWT-DOC-PASSWORD": "kept-across"},
                            timeout=10).status_code == 204
        assert json.loads(file.read_text())["documents"] == {}
    finally:
        svc.kill()


# -- pages --------------------------------------------------------------------------------------


def test_pages_are_copied_at_one_based_positions(service: Service, sources: list[str]) -> None:
    a, b, c = sources
    uid = new_document(service)
    steps: list[tuple[str, object, list[int]]] = [
        (a, None, [200]),            # missing: append
        (b, 1, [300, 200]),          # in front of page 1
        (c, 2, [300, 400, 200]),     # in front of page 2
        (a, 3, [300, 400, 200, 200]),
        (b, 99, [300, 400, 200, 200, 300]),      # beyond the count: append
        (c, 0, [300, 400, 200, 200, 300, 400]),  # 0 is invalid: append
        (c, "1", [400, 300, 400, 200, 200, 300, 400]),
        (a, True, [400, 300, 400, 200, 200, 300, 400, 200]),
    ]
    with service.client() as http:
        for page, position, expected in steps:
            answer = insert(service, uid, page, position)
            assert answer.status_code == 200, answer.text
            listed = http.get(f"/v1/documents/{uid}/pages").json()
            assert answer.json() == {"uid": uid, "pages": [{"uid": p["id"]} for p in listed]}
            assert [p["width"] for p in listed] == expected, (position, listed)
        # Copies, not moves: the sources keep their pages, and every copy is a new page.
        assert widths_of(http, http.get(f"/v1/pages/{a}").json()["document_id"]) == list(WIDTHS)
        assert not set(sources) & {p["id"] for p in listed}


def test_delete_a_page_by_uid_or_index(service: Service, sources: list[str]) -> None:
    uid = new_document(service)
    for page in sources:
        insert(service, uid, page).raise_for_status()
    url = f"{api(service)}/{uid}"
    pages = [p["uid"] for p in httpx.get(url, timeout=10).json()["pages"]]
    assert httpx.delete(f"{url}/pages/{pages[1]}", timeout=10).status_code == 204
    with service.client() as http:
        assert widths_of(http, uid) == [200, 400]
        assert httpx.delete(f"{url}/pages/1", timeout=10).status_code == 204
        assert widths_of(http, uid) == [200]
        for param in ("1", pages[1], "nosuchpage", "-1"):
            dwt_error(httpx.delete(f"{url}/pages/{param}", timeout=10), 404, -1040)
        assert httpx.delete(f"{url}/pages/0", timeout=10).status_code == 204
        assert widths_of(http, uid) == []


# -- content ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def filled(service: Service, sources: list[str]) -> str:
    """A document holding copies of the three source pages, in order."""
    uid = new_document(service)
    for page in sources:
        insert(service, uid, page).raise_for_status()
    return uid


def pdf_widths(data: bytes, password: str = "") -> list[float]:
    with pikepdf.open(io.BytesIO(data), password=password) as pdf:
        return [round(float(p.mediabox[2]) - float(p.mediabox[0]), 1) for p in pdf.pages]


def points(*widths: int) -> list[float]:
    return [round(w / DPI * 72, 1) for w in widths]


def test_content_as_pdf(service: Service, filled: str, tmp_path: Path) -> None:
    url = f"{api(service)}/{filled}/content"
    answer = httpx.get(url, timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    path = tmp_path / "all.pdf"
    path.write_bytes(answer.content)
    subprocess.run(["qpdf", "--check", str(path)], check=True, capture_output=True)
    assert pdf_widths(answer.content) == points(*WIDTHS)
    pages = [p["uid"] for p in httpx.get(f"{api(service)}/{filled}", timeout=10).json()["pages"]]
    for selection, expected in ((f"{pages[2]},{pages[0]}", (400, 200)), ("1,0", (300, 200)),
                                (f"2,{pages[1]}", (400, 300))):
        answer = httpx.get(url, params={"type": "application/pdf", "pages": selection},
                           timeout=30)
        assert pdf_widths(answer.content) == points(*expected), selection
    answer = httpx.get(url, timeout=30, params={
        "title": "Case file", "author": "Clerk", "subject": "Tests", "keyWords": "a,b",
        "creationDate": "D:20260102030405+01'00'", "creator": "ignored", "producer": "ignored",
        "modifiedDate": "2026-01-01", "version": "1.5", "pageType": "2", "compression": "5",
        "quality": "0"})
    assert answer.status_code == 200, answer.text
    with pikepdf.open(io.BytesIO(answer.content)) as pdf:
        assert str(pdf.docinfo["/Title"]) == "Case file"
        assert str(pdf.docinfo["/Author"]) == "Clerk"
        created = decode_pdf_date(str(pdf.docinfo["/CreationDate"]))
        assert created == datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)


def test_content_pdf_with_a_file_password(service: Service, filled: str) -> None:
    url = f"{api(service)}/{filled}/content"
    answer = httpx.get(url, params={"password": "open-me"}, timeout=30)
    assert answer.status_code == 200, answer.text
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(answer.content))
    assert pdf_widths(answer.content, "open-me") == points(*WIDTHS)
    with pikepdf.open(io.BytesIO(answer.content), password="open-me") as pdf:
        assert pdf.is_encrypted and pdf.encryption.R == 6
    dwt_error(httpx.get(url, params={"password": "x" * 33}, timeout=10), 400, -2113)
    dwt_error(httpx.get(url, params={"password": "p", "type": "image/tiff"}, timeout=10),
              400, -2113)


def test_content_as_tiff_png_and_jpeg(service: Service, filled: str) -> None:
    url = f"{api(service)}/{filled}/content"
    answer = httpx.get(url, params={"type": "image/tiff", "compression": "5"}, timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/tiff"
    with Image.open(io.BytesIO(answer.content)) as tiff:
        assert tiff.n_frames == 3
        widths = []
        for frame in range(3):
            tiff.seek(frame)
            widths.append(tiff.width)
        assert widths == list(WIDTHS)
    for kind, fmt in (("image/png", "PNG"), ("image/jpeg", "JPEG")):
        answer = httpx.get(url, params={"type": kind}, timeout=30)  # no pages: the first
        assert answer.status_code == 200 and answer.headers["content-type"] == kind
        with Image.open(io.BytesIO(answer.content)) as image:
            assert image.format == fmt and image.width == WIDTHS[0]
        answer = httpx.get(url, params={"type": kind, "pages": "2"}, timeout=30)
        with Image.open(io.BytesIO(answer.content)) as image:
            assert image.width == WIDTHS[2]
        dwt_error(httpx.get(url, params={"type": kind, "pages": "0,1"}, timeout=10),
                  400, -2113)
    # Unmapped TIFF compressions fall back to the automatic choice.
    for compression in ("2", "3", "32773", "0", "1"):
        answer = httpx.get(url, params={"type": "image/tiff", "compression": compression},
                           timeout=30)
        assert answer.status_code == 200, (compression, answer.text)


def test_bad_content_parameters_are_400(service: Service, filled: str) -> None:
    url = f"{api(service)}/{filled}/content"
    for params in ({"type": "image/gif"}, {"quality": "101"}, {"quality": "high"},
                   {"compression": "6", "type": "image/tiff"}, {"compression": "99"},
                   {"pageType": "12"}, {"creationDate": "yesterday"},
                   {"type": "image/tiff", "compression": "4"}):  # Group 4 needs b/w pages
        dwt_error(httpx.get(url, params=params, timeout=10), 400, -2113)
    dwt_error(httpx.get(url, params={"pages": "7"}, timeout=10), 404, -1040)
    empty = new_document(service)
    dwt_error(httpx.get(f"{api(service)}/{empty}/content", timeout=10), 400, -2113)


# -- sources ------------------------------------------------------------------------------------


def test_sources_must_be_page_urls_of_this_service(service: Service, sources: list[str]) -> None:
    uid = new_document(service)
    url = f"{api(service)}/{uid}/pages"
    port = service.url.rsplit(":", 1)[1]
    page = sources[0]
    good_path = f"/api/device/scanners/jobs/{uuid.uuid4()}/next-page?page={page}"
    for bad in (f"http://example.com:{port}{good_path}", f"http://10.0.0.1:{port}{good_path}",
                f"http://127.0.0.1:1{good_path}", f"ftp://127.0.0.1:{port}{good_path}",
                f"http://user:pw@127.0.0.1:{port}{good_path}",
                f"http://127.0.0.1:{port}/v1/pages/{page}/image?page={page}",
                f"http://127.0.0.1:{port}/api/device/scanners/jobs/x/next-page",
                f"http://127.0.0.1:{port}/api/device/scanners/jobs/x/next-page?page=a&page=b",
                "", "not a url", 42, None, f"http://[::1:{port}{good_path}"):
        dwt_error(httpx.post(url, json={"source": bad}, timeout=10), 400, -2113)
    dwt_error(httpx.post(url, content=b"", timeout=10), 400, -2113)
    dwt_error(httpx.post(url, json={"source": f"{service.url}/api/device/scanners/jobs/x/"
                                              "next-page?page=nosuchpage"}, timeout=10),
              404, -1040)
    # Loopback names, in any case, are this service.
    for good in (f"http://localhost:{port}{good_path}", f"http://127.0.0.1:{port}{good_path}",
                 f"HTTP://LOCALHOST:{port}{good_path}"):
        answer = httpx.post(url, json={"source": good}, timeout=10)
        assert answer.status_code == 200, (good, answer.text)
