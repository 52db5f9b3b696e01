"""Uploads into a real nginx (Debian's, started by the tests on 127.0.0.1; see nginx_server.py):
PUT through its WebDAV module and multipart POST kept as a file, by the library and through the
service's ``POST /v1/documents/{id}/upload``. What nginx stored is compared with what was sent.

nginx missing is a failure, not a skip: scripts/install installs it.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import io
import json
import random
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from websockets.sync.client import connect

from scanlet.security.policy import Principal
from scanlet.upload import CheckedTarget, UploadRules, check_target, upload_file
from tests.api.test_sessions import ONE_PAGE
from tests.conftest import Service, make_home, start_service
from tests.helpers import job_events
from tests.upload.nginx_server import Nginx, NginxMissing, parse_answer, running_nginx

KEY = Principal("key", "k1", None, frozenset({"upload"}))
MB = 1024 * 1024


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    try:
        with running_nginx(tmp_path_factory.mktemp("nginx")) as server:
            yield server
    except NginxMissing as exc:
        pytest.fail(str(exc), pytrace=False)


def target(nginx: Nginx, path: str) -> CheckedTarget:
    """A target that went through the real policy (a loopback development target)."""
    rules = UploadRules(allow_loopback_targets=(nginx.origin,))
    return check_target(nginx.url(path), requester=KEY, rules=rules,
                        resolve=lambda _h, _p: ["127.0.0.1"])


def random_file(path: Path, size: int, seed: int) -> Path:
    """Incompressible bytes that also contain CR, LF and ``--`` runs a multipart parser trips on."""
    data = bytearray(random.Random(seed).randbytes(size))
    data[1000:1010] = b"\r\n--\r\n--\r\n"
    path.write_bytes(bytes(data))
    return path


def multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    """A ``multipart/form-data`` body, parsed by the standard library's MIME parser."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    assert isinstance(message, email.message.EmailMessage)
    assert message.is_multipart() and message.get_content_type() == "multipart/form-data"
    form: dict[str, Any] = {"fields": {}, "files": [], "order": []}
    for part in message.iter_parts():
        assert isinstance(part, email.message.EmailMessage)
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        name = part.get_param("name", header="content-disposition")
        form["order"].append(name)
        if part.get_filename() is None:
            form["fields"][name] = payload.decode()
        else:
            form["files"].append({"field": name, "filename": part.get_filename(),
                                  "content_type": part.get_content_type(), "data": payload})
    return form


def stored_post(answer: dict[str, str]) -> tuple[bytes, dict[str, Any]]:
    """The raw body nginx kept for a ``/post/`` request, and that body parsed."""
    raw = Path(answer["file"]).read_bytes()
    assert len(raw) == int(answer["length"])  # nginx kept every byte it was announced
    return raw, multipart(raw, answer["type"])


# --- the library -------------------------------------------------------------------------------


def test_put_stores_the_file_byte_for_byte(nginx: Nginx, tmp_path: Path) -> None:
    source = random_file(tmp_path / "scan.pdf", 6 * MB + 123, seed=1)
    reports: list[tuple[int, int]] = []
    result = upload_file(source, target(nginx, "/dav/lib/nested/scan.pdf"), method="PUT",
                         content_type="application/pdf", retries=0, timeout=30,
                         progress=lambda sent, total: reports.append((sent, total)))
    assert result.status == 201, (result, nginx.error_log())
    assert result.attempts == 1 and result.retried_statuses == []
    stored = nginx.dav_file("lib/nested/scan.pdf")
    assert stored.stat().st_size == source.stat().st_size
    assert stored.read_bytes() == source.read_bytes()
    assert reports[-1] == (source.stat().st_size, source.stat().st_size)

    # A second PUT to the same URL replaces the file (204 from nginx's WebDAV module).
    other = random_file(tmp_path / "other.pdf", 2 * MB, seed=2)
    again = upload_file(other, target(nginx, "/dav/lib/nested/scan.pdf"), method="PUT",
                        retries=0, timeout=30)
    assert again.status == 204, again
    assert stored.read_bytes() == other.read_bytes()


def test_multipart_post_arrives_as_sent(nginx: Nginx, tmp_path: Path) -> None:
    source = random_file(tmp_path / "upload source.bin", 3 * MB + 7, seed=3)
    result = upload_file(
        source, target(nginx, "/post/lib?batch=7"), method="POST", field_name="document",
        file_name="scan 1.pdf", content_type="application/pdf",
        fields={"folder": "inbox", "note": "grüße, 2 pages"},
        headers={"X-Custom": "42", "Cookie": "session=secret"}, retries=0, timeout=30)
    assert result.status == 201, (result, nginx.error_log())
    assert result.headers["content-type"].startswith("text/plain")
    answer = parse_answer(result.body)
    assert answer["uri"] == "/post/lib?batch=7"
    assert answer["custom"] == "42"
    assert answer["cookie"] == ""  # never forwarded
    assert answer["type"].startswith("multipart/form-data; boundary=")
    raw, form = stored_post(answer)
    assert Path(answer["file"]).parent == nginx.posts
    assert form["order"] == ["folder", "note", "document"]  # fields first, then the file
    assert form["fields"] == {"folder": "inbox", "note": "grüße, 2 pages"}
    [part] = form["files"]
    assert part["field"] == "document" and part["filename"] == "scan 1.pdf"
    assert part["content_type"] == "application/pdf"
    assert part["data"] == source.read_bytes()
    assert len(raw) > source.stat().st_size  # the framing is there as well


# --- through the service -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def upload_service(tmp_path_factory: pytest.TempPathFactory, nginx: Nginx) -> Iterator[Service]:
    home = make_home(tmp_path_factory.mktemp("nginx-upload") / "home")
    with open(home / "user.ini", "a") as fh:
        fh.write(f"\n[upload]\ndev_targets = {nginx.origin}\nretries = 0\n")
    svc = start_service(home)
    yield svc
    svc.kill(signal.SIGTERM)


@pytest.fixture(scope="module")
def document(upload_service: Service) -> str:
    """A scanned two-page document (SANE test backend)."""
    with upload_service.client() as http:
        job = http.post("/v1/jobs", json={**ONE_PAGE, "pages": 2})
        assert job.status_code == 201, job.text
        events = job_events(upload_service.url, job.json()["id"], headers=upload_service.auth)
        assert events[-1]["job"]["state"] == "completed", events[-1]
        return str(job.json()["document_id"])


def task_events(service: Service, task_id: str) -> list[dict[str, Any]]:
    """Every event of a task over its WebSocket, until the service closes it (task ended)."""
    url = "ws" + service.url.removeprefix("http") + f"/v1/tasks/{task_id}/events"
    with connect(url, open_timeout=10, close_timeout=5, additional_headers=service.auth) as ws:
        return [json.loads(message) for message in ws]


def upload(service: Service, document: str, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Run one upload task to its end; return its result and a fresh PDF export to compare."""
    with service.client() as http:
        answer = http.post(f"/v1/documents/{document}/upload", json=body)
        assert answer.status_code == 202, answer.text
        events = task_events(service, answer.json()["id"])
        exported = http.get(f"/v1/documents/{document}/export", params={"format": "pdf"})
    final = events[-1]["task"]
    assert final["state"] == "completed", final
    assert exported.status_code == 200, exported.text
    assert list((service.home / "upload").iterdir()) == []  # the staged file is gone
    return final["result"], exported.content


# What differs between two PDF exports of the same pages: the random file ID and the dates.
_VOLATILE = re.compile(rb"/ID\s*\[\s*<[0-9A-Fa-f]*>\s*<[0-9A-Fa-f]*>\s*\]|\(D:[0-9+\-Z']*\)"
                       rb"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")


def assert_same_export(got: bytes, exported: bytes) -> None:
    """``got`` is the export byte for byte, except its file ID and time stamps.

    Export is not deterministic (a random trailer ID, the export time in the metadata), so
    the volatile values are masked and everything else must be equal, lengths included; the
    page images are also compared through pikepdf, an independent reader.
    """
    assert got.startswith(b"%PDF-") and got.rstrip().endswith(b"%%EOF")
    assert len(got) == len(exported)
    masked = (_VOLATILE.sub(b"?", got), _VOLATILE.sub(b"?", exported))
    assert _VOLATILE.search(got) is not None  # the mask did match something
    assert masked[0] == masked[1]
    with pikepdf.open(io.BytesIO(got)) as a, pikepdf.open(io.BytesIO(exported)) as b:
        assert len(a.pages) == len(b.pages) == 2
        for page_a, page_b in zip(a.pages, b.pages, strict=True):
            images_a = [i.read_raw_bytes() for i in page_a.get_images().values()]
            images_b = [i.read_raw_bytes() for i in page_b.get_images().values()]
            assert images_a == images_b and len(images_a) == 1


def test_service_put_to_nginx_stores_the_export(nginx: Nginx, upload_service: Service,
                                                document: str) -> None:
    result, exported = upload(upload_service, document, {
        "url": nginx.url("/dav/service/scan.pdf"), "method": "PUT"})
    assert result["status"] == 201 and result["attempts"] == 1, (result, nginx.error_log())
    assert_same_export(nginx.dav_file("service/scan.pdf").read_bytes(), exported)


def test_service_multipart_post_to_nginx(nginx: Nginx, upload_service: Service,
                                         document: str) -> None:
    result, exported = upload(upload_service, document, {
        "url": nginx.url("/post/service"), "field_name": "document", "file_name": "scan.pdf",
        "fields": {"folder": "inbox", "batch": "7"}, "headers": {"X-Custom": "svc"}})
    assert result["status"] == 201, (result, nginx.error_log())
    answer = parse_answer(result["body"])
    assert answer["custom"] == "svc" and answer["uri"] == "/post/service"
    _raw, form = stored_post(answer)
    assert form["fields"] == {"folder": "inbox", "batch": "7"}
    [part] = form["files"]
    assert part["field"] == "document" and part["filename"] == "scan.pdf"
    assert part["content_type"] == "application/pdf"
    assert_same_export(part["data"], exported)
