"""Importing files through the API: the body is the file; formats by magic bytes; limits."""

from __future__ import annotations

import contextlib
import io
import select
import socket

import httpx
import img2pdf

from tests.conftest import Service
from tests.helpers import assert_problem
from tests.importing.makers import encrypted, png_header_only, sample_image, tiff
from tests.security.test_access_http import FOREIGN, as_site, pair


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    sample_image(200, 300).save(out, "JPEG", quality=80, dpi=(150, 150))
    return out.getvalue()


def test_import_images_and_pdfs(service: Service) -> None:
    with service.client() as http:
        doc = http.post("/v1/documents", json={"name": "imports"}).json()["id"]
        jpeg = jpeg_bytes()
        made = http.post(f"/v1/documents/{doc}/import", content=jpeg,
                         headers={"Content-Type": "image/jpeg"})
        assert made.status_code == 201, made.text
        [page] = made.json()
        assert (page["format"], page["width"], page["height"]) == ("jpeg", 200, 300)
        assert http.get(f"/v1/pages/{page['id']}/image").content == jpeg  # byte-identical
        frames = [sample_image(100, 100, seed=i) for i in range(3)]
        multi = http.post(f"/v1/documents/{doc}/import", content=tiff(frames),
                          headers={"Content-Type": "application/octet-stream"})
        assert multi.status_code == 201 and len(multi.json()) == 3
        pdf = img2pdf.convert(jpeg)
        from_pdf = http.post(f"/v1/documents/{doc}/import", content=pdf,
                             headers={"Content-Type": "application/pdf"})
        assert from_pdf.status_code == 201, from_pdf.text
        assert http.get(f"/v1/pages/{from_pdf.json()[0]['id']}/image").content == jpeg
        locked = encrypted(pdf, "s3cret")
        refused = http.post(f"/v1/documents/{doc}/import", content=locked,
                            headers={"Content-Type": "application/pdf"})
        assert_problem(refused, 422, "pdf_password_required")
        opened = http.post(f"/v1/documents/{doc}/import", content=locked,
                           headers={"Content-Type": "application/pdf",
                                    "X-PDF-Password": "s3cret"})
        assert opened.status_code == 201
        assert len(http.get(f"/v1/documents/{doc}/pages").json()) == 6


def test_import_refusals(service: Service) -> None:
    with service.client() as http:
        doc = http.post("/v1/documents", json={}).json()["id"]
        url = f"/v1/documents/{doc}/import"
        assert_problem(http.post(url, content=b"hello, not a picture",
                                 headers={"Content-Type": "application/pdf"}),
                       415, "import_unsupported_format")
        assert_problem(http.post(url, content=png_header_only(60000, 60000),
                                 headers={"Content-Type": "image/png"}), 413, "import_too_large")
        assert_problem(http.post(url, content=jpeg_bytes()[:500],
                                 headers={"Content-Type": "image/jpeg"}), 422, "import_invalid")
        assert_problem(http.post(url, content=jpeg_bytes(),
                                 headers={"Content-Type": "text/plain"}),
                       415, "unsupported_media_type")
        assert_problem(http.post("/v1/documents/nope/import", content=jpeg_bytes(),
                                 headers={"Content-Type": "image/jpeg"}),
                       404, "document_not_found")
        assert http.get(f"/v1/documents/{doc}/pages").json() == []


def test_import_needs_the_files_scope(service: Service) -> None:
    token = pair(service, scopes=["scan"])["token"]
    with service.client() as http:
        doc = http.post("/v1/documents", json={}).json()["id"]
    answer = httpx.post(service.url + f"/v1/documents/{doc}/import", content=jpeg_bytes(),
                        headers={**as_site(token), "Content-Type": "image/jpeg"})
    assert_problem(answer, 403, "scope_not_granted")
    wider = pair(service, origin=FOREIGN, scopes=["scan", "files"])["token"]
    answer = httpx.post(service.url + f"/v1/documents/{doc}/import", content=jpeg_bytes(),
                        headers={**as_site(wider), "Content-Type": "image/jpeg"})
    assert answer.status_code == 201


def test_import_size_is_capped_while_streaming(service: Service) -> None:
    with service.client() as http:
        doc = http.post("/v1/documents", json={}).json()["id"]
    host, port = service.url.removeprefix("http://").split(":")
    chunk = b"0" * 65536
    answer = b""
    # chunked, so no Content-Length to refuse up front: the cap must trip mid-stream
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((
            f"POST /v1/documents/{doc}/import HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {service.key}\r\nContent-Type: application/pdf\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode())
        for _ in range(4000):  # 250 MB at most; the default cap is 200 MB
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
        with contextlib.suppress(ConnectionResetError):
            answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"payload_too_large" in answer
    with service.client() as http:
        assert http.get(f"/v1/documents/{doc}/pages").json() == []
    assert not any(service.home.glob("cache/tmp/import-*"))
