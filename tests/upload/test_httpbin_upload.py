"""Multipart POSTs read by a third-party parser: Werkzeug's form parser in an httpbin-style echo
app, served by waitress (a third-party WSGI server) on 127.0.0.1.

httpbin itself (PyPI) cannot be installed here: every release that runs with Werkzeug 3
(0.10.1 to 0.10.4) requires ``greenlet<3.0`` on Python < 3.12, which conflicts with Playwright's
``greenlet>=3``, and 0.10.0 imports ``werkzeug.http.parse_authorization_header``, which
Werkzeug 3 removed. The echo app below is what httpbin's ``/post`` is (a view over Werkzeug's
``request.form``, ``request.files`` and ``request.headers``) and answers in the same shape
(files as ``data:`` URLs), plus what httpbin leaves out: each file's name, content type and
part headers, and the order of the parts.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from waitress.server import create_server
from websockets.sync.client import connect
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Epilogue, Field, File, MultipartDecoder, NeedData
from werkzeug.wrappers import Request, Response

from scanlet.errors import InvalidSetting
from scanlet.security.policy import Principal
from scanlet.upload import CheckedTarget, UploadRules, check_target, upload_file
from tests.api.test_sessions import ONE_PAGE
from tests.conftest import Service, make_home, start_service
from tests.helpers import job_events

KEY = Principal("key", "k1", None, frozenset({"upload"}))
#: Every byte value, with CR LF and dashes at the end (what a multipart boundary starts with).
BINARY = bytes(range(256)) * 1024 + b"\r\n--\r\n"
FIELDS = {
    "folder": "Eingänge/2024",
    "note": "Grüße \N{EN DASH} “quoted” & 日本語, ok=1; x",
    "empty": "",
    "straße": "name not ASCII",
}


# --- the server ---------------------------------------------------------------------------------


def part_order(content_type: str, raw: bytes) -> list[str]:
    """The names of the parts in the order they arrived (Werkzeug's low-level decoder)."""
    _, options = parse_options_header(content_type)
    decoder = MultipartDecoder(options["boundary"].encode())
    decoder.receive_data(raw)
    decoder.receive_data(None)
    names = []
    while not isinstance(event := decoder.next_event(), NeedData | Epilogue):
        if isinstance(event, Field | File):
            names.append(event.name)
    return names


@Request.application
def echo(request: Request) -> Response:
    """httpbin's ``/post`` and ``/anything``, with what the file parts were sent as."""
    raw = request.get_data(cache=True)  # read first: the form is then parsed from this copy
    files: dict[str, Any] = {}
    for name, storage in request.files.items(multi=True):
        data = storage.read()
        files.setdefault(name, []).append({
            "filename": storage.filename,
            "content_type": storage.content_type,
            "part_headers": dict(storage.headers),
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "data": f"data:{storage.mimetype};base64,{base64.b64encode(data).decode()}",
        })
    answer = {
        "method": request.method,
        "path": request.path,
        "args": request.args.to_dict(flat=False),
        "form": request.form.to_dict(flat=False),
        "files": files,
        "headers": [[k, v] for k, v in request.headers.items()],
        "received": len(raw),
        "parts": (part_order(request.content_type or "", raw)
                  if request.mimetype == "multipart/form-data" else []),
    }
    return Response(json.dumps(answer), status=200, mimetype="application/json")


@dataclass
class Server:
    port: int

    def target(self, path: str = "/post") -> CheckedTarget:
        """A target that went through the real policy (a loopback development target)."""
        rules = UploadRules(allow_loopback_targets=(f"http://127.0.0.1:{self.port}",))
        return check_target(f"http://127.0.0.1:{self.port}{path}", requester=KEY, rules=rules,
                             resolve=lambda _h, _p: ["127.0.0.1"])


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """waitress on a free loopback port, its loop in a thread that closes everything it owns."""
    wsgi = create_server(echo, host="127.0.0.1", port=0, threads=2, ident="waitress")
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.is_set():
                wsgi.asyncore.loop(timeout=0.05, map=wsgi._map, use_poll=True, count=1)
        finally:
            wsgi.task_dispatcher.shutdown()
            wsgi.asyncore.close_all(wsgi._map)

    thread = threading.Thread(target=run, name="waitress", daemon=True)
    thread.start()
    try:
        yield Server(int(wsgi.effective_port))  # waitress gives the port as text
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive()


# --- helpers ------------------------------------------------------------------------------------


def headers_of(answer: dict[str, Any]) -> dict[str, list[str]]:
    """The request headers the server saw, lower-case names, every value kept."""
    seen: dict[str, list[str]] = {}
    for name, value in answer["headers"]:
        seen.setdefault(name.lower(), []).append(value)
    return seen


def page_images(pdf_bytes: bytes) -> list[str]:
    """The digests of the one page's images (two exports differ in timestamps and ids only)."""
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        assert len(pdf.pages) == 1
        return [hashlib.sha256(image.read_raw_bytes()).hexdigest()
                for image in pdf.pages[0].get_images().values()]


def data_url(url: str) -> tuple[str, bytes]:
    head, _, payload = url.partition(",")
    assert head.startswith("data:") and head.endswith(";base64"), head
    return head.removeprefix("data:").removesuffix(";base64"), base64.b64decode(payload)


# --- the library uploader -----------------------------------------------------------------------


def test_multipart_post_arrives_as_sent(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "page.pdf"
    path.write_bytes(BINARY)
    result = upload_file(
        path, server.target("/post?batch=7"), method="POST", field_name="scan_upload",
        file_name="Scan März 2024 \N{EN DASH} été n°1.pdf", content_type="application/pdf",
        fields=FIELDS,
        headers={"Authorization": "Bearer x", "X-Custom": "hello, world",
                 "Cookie": "session=secret", "cookie2": "legacy=1"},
        retries=0, timeout=10, response_limit=4 * 1024 * 1024,
    )
    assert result.status == 200 and result.attempts == 1 and not result.truncated
    assert result.headers["content-type"] == "application/json"
    answer = json.loads(result.body)
    assert answer["method"] == "POST" and answer["path"] == "/post"
    assert answer["args"] == {"batch": ["7"]}

    # The extra fields: each once, exactly as sent (UTF-8 names and values, an empty value).
    assert answer["form"] == {name: [value] for name, value in FIELDS.items()}
    # The file: one part under the field name, with its name, type and every byte.
    assert list(answer["files"]) == ["scan_upload"]
    [file] = answer["files"]["scan_upload"]
    assert file["filename"] == "Scan März 2024 \N{EN DASH} été n°1.pdf"
    assert file["content_type"] == "application/pdf"
    assert data_url(file["data"]) == ("application/pdf", BINARY)
    assert file["size"] == len(BINARY)
    assert file["sha256"] == hashlib.sha256(BINARY).hexdigest()
    # The fields come before the file (S3-style POST policies need that order).
    assert answer["parts"] == [*FIELDS, "scan_upload"]

    headers = headers_of(answer)
    assert headers["authorization"] == ["Bearer x"]
    assert headers["x-custom"] == ["hello, world"]
    assert "cookie" not in headers and "cookie2" not in headers
    assert headers["host"] == [f"127.0.0.1:{server.port}"]
    assert headers["user-agent"] == ["Scanlet"]
    # One body of a declared length (streamed, not chunked) that arrived whole.
    assert "transfer-encoding" not in headers
    assert headers["content-length"] == [str(answer["received"])]
    content_type, options = parse_options_header(headers["content-type"][0])
    assert content_type == "multipart/form-data" and options["boundary"]


@pytest.mark.parametrize("file_name", [
    "日本語 スキャン.png",
    'say "cheese" 2.pdf',
    "semi;colon, comma=eq.pdf",
    "two  spaces, no extension",
])
def test_file_names_arrive_as_sent(server: Server, tmp_path: Path, file_name: str) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"%PDF-1.7\n\x00\xff")
    result = upload_file(path, server.target(), method="POST", file_name=file_name,
                         retries=0, timeout=10)
    assert result.status == 200
    answer = json.loads(result.body)
    [file] = answer["files"]["file"]
    assert file["filename"] == file_name
    assert file["content_type"] == "application/octet-stream"
    assert data_url(file["data"])[1] == b"%PDF-1.7\n\x00\xff"
    assert answer["form"] == {}


def test_default_file_name_is_the_paths_name(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "Übersicht Seite 1.tiff"
    path.write_bytes(bytes(range(256)) * 4)
    result = upload_file(path, server.target("/anything/in"), method="POST",
                         content_type="image/tiff", retries=0, timeout=10)
    answer = json.loads(result.body)
    assert answer["path"] == "/anything/in"
    [file] = answer["files"]["file"]
    assert file["filename"] == "Übersicht Seite 1.tiff"
    assert data_url(file["data"]) == ("image/tiff", bytes(range(256)) * 4)
    disposition, options = parse_options_header(file["part_headers"]["Content-Disposition"])
    assert disposition == "form-data" and options["name"] == "file"


def test_an_empty_file_and_many_fields(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    fields = {f"f{i:03d}": "é" * i for i in range(150)}
    result = upload_file(path, server.target(), method="POST", fields=fields, retries=0,
                         timeout=10, response_limit=1024 * 1024)
    answer = json.loads(result.body)
    assert answer["form"] == {name: [value] for name, value in fields.items()}
    [file] = answer["files"]["file"]
    assert file["filename"] == "empty.pdf" and file["size"] == 0
    assert answer["parts"] == [*fields, "file"]


@pytest.mark.parametrize(("options", "setting"), [
    ({"headers": {"X-Name": "März"}}, "headers"),
    ({"headers": {"X-Name": "a\x01b"}}, "headers"),
    ({"file_name": "tab\there.pdf"}, "file_name"),
    ({"file_name": "dir/evil.pdf"}, "file_name"),
    ({"field_name": "a\x7fb"}, "field_name"),
    ({"fields": {"bad\tname": "v"}}, "fields"),
])
def test_what_a_multipart_header_cannot_carry_is_refused(
        server: Server, tmp_path: Path, options: dict[str, Any], setting: str) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(b"x")
    with pytest.raises(InvalidSetting) as caught:
        upload_file(path, server.target(), method="POST", retries=0, timeout=10, **options)
    assert caught.value.detail["setting"] == setting
    assert "März" not in str(caught.value)  # a header value may be a secret: never echoed


# --- through the service ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, server: Server) -> Iterator[Service]:
    home = make_home(tmp_path_factory.mktemp("httpbin") / "home")
    with open(home / "user.ini", "a") as fh:
        fh.write(f"\n[upload]\ndev_targets = http://127.0.0.1:{server.port}\nretries = 0\n"
                 "max_response_kb = 4096\n")
    svc = start_service(home)
    yield svc
    svc.kill(signal.SIGTERM)


def test_the_service_posts_a_document_as_sent(service: Service, server: Server) -> None:
    with service.client() as http:
        job = http.post("/v1/jobs", json=ONE_PAGE)
        assert job.status_code == 201, job.text
        events = job_events(service.url, job.json()["id"], headers=service.auth)
        assert events[-1]["job"]["state"] == "completed", events[-1]
        document = job.json()["document_id"]
        answer = http.post(f"/v1/documents/{document}/upload", json={
            "url": f"http://127.0.0.1:{server.port}/post", "field_name": "scan",
            "file_name": "Rechnung März \N{EN DASH} n°7.pdf", "fields": FIELDS,
            "headers": {"Authorization": "Bearer x", "X-Custom": "1", "Cookie": "s=1"}})
        assert answer.status_code == 202, answer.text
        task_id = answer.json()["id"]
        url = "ws" + service.url.removeprefix("http") + f"/v1/tasks/{task_id}/events"
        with connect(url, open_timeout=10, additional_headers=service.auth) as ws:
            final = [json.loads(message) for message in ws][-1]["task"]
        assert final["state"] == "completed", final
        task = http.get(f"/v1/tasks/{task_id}")
        assert task.status_code == 200, task.text
        exported = http.get(f"/v1/documents/{document}/export", params={"format": "pdf"})
        assert exported.status_code == 200
    result = task.json()["result"]
    assert result["status"] == 200 and result["attempts"] == 1 and not result["truncated"]
    echo = json.loads(result["body"])
    assert echo["form"] == {name: [value] for name, value in FIELDS.items()}
    [file] = echo["files"]["scan"]
    assert file["filename"] == "Rechnung März \N{EN DASH} n°7.pdf"
    assert file["content_type"] == "application/pdf"
    media, data = data_url(file["data"])
    assert media == "application/pdf" and data.startswith(b"%PDF-")
    # Two exports of one document differ only in their timestamps and ids: the same page image.
    assert page_images(data) == page_images(exported.content)
    assert echo["parts"] == [*FIELDS, "scan"]
    headers = headers_of(echo)
    assert headers["authorization"] == ["Bearer x"] and headers["x-custom"] == ["1"]
    assert "cookie" not in headers
    assert list((service.home / "upload").iterdir()) == []
