"""``POST /v1/documents/{id}/upload`` and ``scanlet upload`` against a real service process and
a real receiving server (Starlette under uvicorn on 127.0.0.1, enabled as a dev target)."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import hashlib
import io
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from websockets.sync.client import connect

from tests.api.test_sessions import ONE_PAGE
from tests.conftest import Service, make_home, start_service
from tests.helpers import assert_problem, job_events
from tests.security.test_access_http import FOREIGN, as_site, pair
from tests.upload.test_ftp_upload import PASSWORD, USER, FTPHandler, run_ftp
from tests.upload.test_ftp_upload import Server as FtpServer


class Received:
    def __init__(self) -> None:
        self.files: list[dict[str, Any]] = []
        self.aborted: list[int] = []  # bytes a receiver had read when the client went away
        self.redirects = 0
        self.release = threading.Event()  # lets the /hold route answer
        self.lock = threading.Lock()


def receiver_app(received: Received) -> Starlette:
    async def form(request: Request) -> Response:
        raw = await request.body()
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
        entry: dict[str, Any] = {"fields": {}, "headers": dict(request.headers)}
        for part in message.iter_parts():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            name = part.get_param("name", header="content-disposition")
            if part.get_filename() is None:
                entry["fields"][name] = payload.decode()
            else:
                entry.update(field=name, filename=part.get_filename(), data=payload,
                             content_type=part.get_content_type())
        with received.lock:
            received.files.append(entry)
        return JSONResponse({"ok": True, "size": len(entry.get("data", b""))}, status_code=201)

    async def put(request: Request) -> Response:
        data = await request.body()
        with received.lock:
            received.files.append({"data": data, "headers": dict(request.headers),
                                   "path": request.url.path})
        return Response(b"\xff\xfe", status_code=200)

    async def slow(request: Request) -> Response:
        """Reads the body a chunk every 50 ms: an upload that takes long enough to cancel."""
        got = 0
        try:
            async for chunk in request.stream():
                got += len(chunk)
                await asyncio.sleep(0.05)
        except ClientDisconnect:
            with received.lock:
                received.aborted.append(got)
            return Response(status_code=499)  # nobody reads it
        with received.lock:
            received.files.append({"data": b"", "size": got, "path": request.url.path})
        return Response(status_code=204)

    async def redirect(request: Request) -> Response:
        await request.body()
        with received.lock:
            received.redirects += 1
        return Response(status_code=302, headers={"Location": str(request.query_params["to"])})

    async def hold(request: Request) -> Response:
        """Takes the body, then answers only when the test says so (30 s at most)."""
        await request.body()
        for _ in range(600):
            if received.release.is_set():
                break
            await asyncio.sleep(0.05)
        return Response(status_code=204)

    return Starlette(routes=[Route("/form", form, methods=["POST"]),
                             Route("/hold", hold, methods=["PUT"]),
                             Route("/put/{name}", put, methods=["PUT"]),
                             Route("/slow", slow, methods=["PUT"]),
                             Route("/redirect", redirect, methods=["POST", "PUT"])])


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[int, Received]]:
    received = Received()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(receiver_app(received), host="127.0.0.1", port=port,
                                           lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.01)
    try:
        yield port, received
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def ftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FtpServer]:
    yield from run_ftp(tmp_path_factory.mktemp("ftp"), FTPHandler)


def upload_home(tmp_path_factory: pytest.TempPathFactory, config: str) -> Path:
    home = make_home(tmp_path_factory.mktemp("upload") / "home")
    with open(home / "user.ini", "a") as fh:
        fh.write(config)
    return home


@pytest.fixture(scope="module")
def upload_service(tmp_path_factory: pytest.TempPathFactory, receiver: tuple[int, Received],
                   ftp_server: FtpServer) -> Iterator[Service]:
    svc = start_service(upload_home(tmp_path_factory, (
        f"\n[upload]\ndev_targets = http://127.0.0.1:{receiver[0]}, "
        f"ftp://127.0.0.1:{ftp_server.port}\nretries = 1\n")))
    yield svc
    svc.kill(signal.SIGTERM)


def scan(service: Service, settings: dict[str, Any]) -> str:
    """Scan with ``settings`` into a new document; its id."""
    with service.client() as http:
        job = http.post("/v1/jobs", json=settings)
        assert job.status_code == 201, job.text
        events = job_events(service.url, job.json()["id"], headers=service.auth)
        assert events[-1]["job"]["state"] == "completed", events[-1]
        return str(job.json()["document_id"])


@pytest.fixture(scope="module")
def document(upload_service: Service) -> str:
    return scan(upload_service, ONE_PAGE)


def task_events(service: Service, task_id: str) -> list[dict[str, Any]]:
    url = "ws" + service.url.removeprefix("http") + f"/v1/tasks/{task_id}/events"
    events = []
    with connect(url, open_timeout=10, additional_headers=service.auth) as ws:
        for message in ws:
            events.append(json.loads(message))
    return events


def page_images(data: bytes) -> list[str]:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 1
        return [hashlib.sha256(image.read_raw_bytes()).hexdigest()
                for image in pdf.pages[0].get_images().values()]


def test_upload_posts_the_exported_pdf(upload_service: Service, document: str,
                                       receiver: tuple[int, Received]) -> None:
    port, received = receiver
    before = len(received.files)
    with upload_service.client() as http:
        answer = http.post(f"/v1/documents/{document}/upload", json={
            "url": f"http://127.0.0.1:{port}/form", "fields": {"folder": "inbox"},
            "headers": {"X-Custom": "1", "Cookie": "secret=1"}, "file_name": "scan.pdf"})
        assert answer.status_code == 202, answer.text
        task = answer.json()
        assert task["kind"] == "upload" and task["state"] == "running"
        events = task_events(upload_service, task["id"])
        final = events[-1]["task"]
        assert final["state"] == "completed", final
        assert any(e["type"] == "progress" for e in events)
        result = http.get(f"/v1/tasks/{task['id']}").json()["result"]
        assert result["status"] == 201 and result["attempts"] == 1
        assert json.loads(result["body"])["ok"] is True and result["truncated"] is False
        assert result["retried_statuses"] == []
        exported = http.get(f"/v1/documents/{document}/export", params={"format": "pdf"})
        assert exported.status_code == 200
    assert len(received.files) == before + 1
    got = received.files[-1]
    assert got["field"] == "file" and got["filename"] == "scan.pdf"
    assert got["content_type"] == "application/pdf"
    assert got["fields"] == {"folder": "inbox"}
    assert got["headers"]["x-custom"] == "1" and "cookie" not in got["headers"]
    # Two exports differ in their timestamps and ids only: the same single page image.
    assert page_images(got["data"]) == page_images(exported.content)
    assert list((upload_service.home / "upload").iterdir()) == []


def test_put_with_a_binary_answer_and_other_format(upload_service: Service, document: str,
                                                   receiver: tuple[int, Received]) -> None:
    port, received = receiver
    with upload_service.client() as http:
        answer = http.post(f"/v1/documents/{document}/upload", json={
            "url": f"http://127.0.0.1:{port}/put/page.png", "method": "PUT", "format": "png",
            "content_type": "application/x-scan; v=1"})
        assert answer.status_code == 202, answer.text
        final = task_events(upload_service, answer.json()["id"])[-1]["task"]
    assert final["state"] == "completed", final
    assert final["result"]["status"] == 200
    assert final["result"]["body_base64"] == "//4="
    got = received.files[-1]
    assert got["path"] == "/put/page.png" and got["data"].startswith(b"\x89PNG")
    assert got["headers"]["content-type"] == "application/x-scan; v=1"
    assert list((upload_service.home / "upload").iterdir()) == []


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://169.254.169.254/latest",
                                 "https://169.254.169.254/", "https://10.0.0.1/x",
                                 "http://127.0.0.1:1/", "ftp://user:pw@example.com/",
                                 "https://localhost/in/", "http://example.com/in/",
                                 "https://[::ffff:169.254.169.254]/", "ftps://10.1.2.3/"])
def test_refused_targets_answer_403_at_once(upload_service: Service, document: str,
                                            url: str) -> None:
    with upload_service.client() as http:
        running = len(http.get("/v1/tasks").json()) if http.get("/v1/tasks").status_code \
            == 200 else None
        answer = http.post(f"/v1/documents/{document}/upload", json={"url": url})
        assert_problem(answer, 403, "upload_target_refused")
        if running is not None:
            assert len(http.get("/v1/tasks").json()) == running  # no task was started


def test_ftp_through_the_service(upload_service: Service, document: str,
                                 ftp_server: FtpServer) -> None:
    with upload_service.client() as http:
        answer = http.post(f"/v1/documents/{document}/upload", json={
            "url": f"ftp://127.0.0.1:{ftp_server.port}/in/", "format": "pdf",
            "ftp": {"user": USER, "password": PASSWORD}})
        assert answer.status_code == 202, answer.text
        final = task_events(upload_service, answer.json()["id"])[-1]["task"]
        assert final["state"] == "completed", final
        exported = http.get(f"/v1/documents/{document}/export", params={"format": "pdf"})
    stored = list((ftp_server.home / "in").iterdir())
    assert [p.suffix for p in stored] == [".pdf"], stored
    assert final["result"]["status"] == 226  # the server's "transfer complete"
    assert page_images(stored[0].read_bytes()) == page_images(exported.content)
    stored[0].unlink()
    assert list((upload_service.home / "upload").iterdir()) == []


@pytest.mark.parametrize("to", ["http://169.254.169.254/latest/meta-data/", "local"])
def test_a_redirect_is_not_followed(upload_service: Service, document: str,
                                    receiver: tuple[int, Received], to: str) -> None:
    port, received = receiver
    if to == "local":
        to = f"http://127.0.0.1:{port}/put/followed"
    before = (len(received.files), received.redirects)
    with upload_service.client() as http:
        answer = http.post(f"/v1/documents/{document}/upload", json={
            "url": f"http://127.0.0.1:{port}/redirect?to={to}", "method": "PUT"})
        assert answer.status_code == 202, answer.text
        final = task_events(upload_service, answer.json()["id"])[-1]["task"]
    assert final["state"] == "completed", final
    assert final["result"]["status"] == 302 and final["result"]["attempts"] == 1
    assert final["result"]["headers"]["location"] == to
    assert (len(received.files), received.redirects) == (before[0], before[1] + 1)


BIG_PAGE = {**ONE_PAGE, "mode": "color", "resolution": 300}


def test_cancel_mid_upload_stops_it_and_cleans_up(upload_service: Service,
                                                  receiver: tuple[int, Received]) -> None:
    port, received = receiver
    big = scan(upload_service, BIG_PAGE)
    url = "ws" + upload_service.url.removeprefix("http")
    with upload_service.client() as http:
        answer = http.post(f"/v1/documents/{big}/upload", json={
            "url": f"http://127.0.0.1:{port}/slow", "method": "PUT", "format": "tiff",
            "options": {"tiff_compression": "none"}})
        assert answer.status_code == 202, answer.text
        task_id = answer.json()["id"]
        progress: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        with connect(f"{url}/v1/tasks/{task_id}/events", open_timeout=10,
                     additional_headers=upload_service.auth) as ws:
            for message in ws:
                event = json.loads(message)
                events.append(event)
                if event["type"] == "progress":
                    progress.append(event)
                    if len(progress) == 8:
                        staged = list((upload_service.home / "upload").iterdir())
                        cancelled = http.post(f"/v1/tasks/{task_id}/cancel")
                        assert cancelled.status_code == 200, cancelled.text
    final = events[-1]["task"]
    assert final["state"] == "cancelled", final
    assert len(staged) == 1  # the export was staged while it ran...
    assert list((upload_service.home / "upload").iterdir()) == []  # ...and is gone
    total = progress[-1]["total"]
    assert total > 20_000_000  # an uncompressed A4 colour page at 300 dpi
    assert all(e["unit"] == "bytes" and e["total"] == total for e in progress)
    assert [e["done"] for e in progress] == sorted(e["done"] for e in progress)
    assert progress[-1]["done"] < total
    rates = [e["rate"] for e in progress[1:]]
    assert all(isinstance(r, float) and r > 0 for r in rates), rates
    # The receiver sees the connection go (rather than the whole file arrive, which at its
    # 50 ms a chunk takes many seconds); 60 s is a guard against a hang only.
    deadline = time.monotonic() + 60
    while not received.aborted and not any(f.get("path") == "/slow" for f in received.files):
        assert time.monotonic() < deadline, "the receiver saw neither an end nor an abort"
        time.sleep(0.05)
    assert not any(f.get("path") == "/slow" for f in received.files), \
        "the transfer went on after the cancel"
    assert 0 < received.aborted[-1] < total


def test_uploads_per_client_are_limited(tmp_path_factory: pytest.TempPathFactory,
                                        receiver: tuple[int, Received]) -> None:
    port, received = receiver
    svc = start_service(upload_home(tmp_path_factory, (
        f"\n[upload]\ndev_targets = http://127.0.0.1:{port}\n"
        "[limits]\nupload_tasks_per_minute = 3\nmax_running_uploads = 1\n")))
    try:
        doc = scan(svc, ONE_PAGE)
        received.release.clear()
        body = {"url": f"http://127.0.0.1:{port}/hold", "method": "PUT"}
        with svc.client() as http:
            first = http.post(f"/v1/documents/{doc}/upload", json=body)
            assert first.status_code == 202, first.text
            busy = http.post(f"/v1/documents/{doc}/upload", json=body)
            problem = assert_problem(busy, 429, "too_many_tasks")
            assert (problem["running"], problem["maximum"]) == (1, 1)
            assert "max_running_uploads" in problem["detail"]
            assert int(busy.headers["retry-after"]) > 0
            received.release.set()
            final = task_events(svc, first.json()["id"])[-1]["task"]
            assert final["state"] == "completed" and final["result"]["status"] == 204, final
            third = http.post(f"/v1/documents/{doc}/upload", json=body)
            assert third.status_code == 202, third.text  # room again, and a token left
            limited = http.post(f"/v1/documents/{doc}/upload", json=body)
            assert_problem(limited, 429, "rate_limited")
            assert int(limited.headers["retry-after"]) > 0
            assert task_events(svc, third.json()["id"])[-1]["task"]["state"] == "completed"
    finally:
        received.release.set()
        svc.kill(signal.SIGTERM)


def test_bad_headers_and_unknown_documents(upload_service: Service, document: str,
                                           receiver: tuple[int, Received]) -> None:
    url = f"http://127.0.0.1:{receiver[0]}/form"
    with upload_service.client() as http:
        bad = http.post(f"/v1/documents/{document}/upload",
                        json={"url": url, "headers": {"Transfer-Encoding": "chunked"}})
        assert bad.status_code == 422, bad.text
        for refused, code in (({"headers": {"Authorization": "Bearer gehéim"}}, "invalid_setting"),
                              ({"file_name": "a\tb.pdf"}, "invalid_setting"),
                              ({"field_name": "x\x00"}, "invalid_setting"),
                              ({"content_type": "text/plain\r\nX-Evil: 1"}, "invalid_request")):
            answer = http.post(f"/v1/documents/{document}/upload", json={"url": url, **refused})
            assert_problem(answer, 422, code)
            assert "gehéim" not in answer.text
        missing = http.post("/v1/documents/nope/upload", json={"url": url})
        assert missing.status_code == 404, missing.text


def test_a_site_may_not_upload_to_another_origin(upload_service: Service, document: str,
                                                 receiver: tuple[int, Received]) -> None:
    token = pair(upload_service, scopes=["scan", "upload"])["token"]
    answer = httpx.post(f"{upload_service.url}/v1/documents/{document}/upload",
                        json={"url": f"http://127.0.0.1:{receiver[0]}/form"},
                        headers=as_site(token, FOREIGN), timeout=10)
    body = assert_problem(answer, 403, "upload_target_refused")
    assert "origin" in json.dumps(body)
    # A site without the upload scope is refused by the access rules before that.
    scan_only = pair(upload_service, origin="http://127.0.0.1:5556")["token"]
    answer = httpx.post(f"{upload_service.url}/v1/documents/{document}/upload",
                        json={"url": f"http://127.0.0.1:{receiver[0]}/form"},
                        headers=as_site(scan_only, "http://127.0.0.1:5556"), timeout=10)
    assert answer.status_code == 403, answer.text


def test_cli_upload(upload_service: Service, document: str,
                    receiver: tuple[int, Received], tmp_path: Path) -> None:
    port, received = receiver
    before = len(received.files)
    run = subprocess.run(
        [sys.executable, "-m", "scanlet", "upload", document, "--url",
         f"http://127.0.0.1:{port}/form", "--field", "a=b", "--header", "X-Custom: 2",
         "--file-name", "cli.pdf", "--home", str(upload_service.home)],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "201" in run.stdout
    assert len(received.files) == before + 1
    got = received.files[-1]
    assert got["filename"] == "cli.pdf" and got["fields"] == {"a": "b"}
    assert got["headers"]["x-custom"] == "2" and got["data"].startswith(b"%PDF")
    refused = subprocess.run(
        [sys.executable, "-m", "scanlet", "upload", document, "--url", "http://10.0.0.1/",
         "--home", str(upload_service.home)], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "upload_target_refused" in refused.stderr


# Config ------------------------------------------------------------------------------------


def test_upload_keys_are_parsed(tmp_path: Path) -> None:
    from scanlet.config import Home, load_settings

    home = Home(tmp_path / "h").create()
    home.user_config.write_text(
        "[upload]\nallowed_targets =\n  https://app.example.com -> https://files.example.com/in/\n"
        "  https://app.example.com -> https://b.example.com, http://localhost:3000 -> "
        "ftps://ftp.example.com\nallow_private = true\n"
        "dev_targets = http://127.0.0.1:8080, http://[::1]:9000\nretries = 0\ntimeout = 5\n"
        "max_response_kb = 1\n")
    settings = load_settings(home)
    assert settings.upload_allowed_targets == {
        "https://app.example.com": ("https://files.example.com/in/", "https://b.example.com"),
        "http://localhost:3000": ("ftps://ftp.example.com",)}
    assert settings.upload_allow_private is True
    assert settings.upload_dev_targets == ("http://127.0.0.1:8080", "http://[::1]:9000")
    assert (settings.upload_retries, settings.upload_timeout,
            settings.upload_max_response_kb) == (0, 5.0, 1)
    defaults = load_settings(Home(tmp_path / "d").create())
    assert (defaults.upload_allowed_targets, defaults.upload_dev_targets,
            defaults.upload_retries, defaults.upload_timeout,
            defaults.upload_max_response_kb) == ({}, (), 3, 60.0, 64)


@pytest.mark.parametrize(("text", "key"), [
    ("allowed_targets = https://app.example.com https://files.example.com", "allowed_targets"),
    ("allowed_targets = https://app.example.com/x -> https://files.example.com",
     "allowed_targets"),
    ("allowed_targets = https://app.example.com -> https://u:p@files.example.com",
     "allowed_targets"),
    ("dev_targets = http://10.0.0.1:8080", "dev_targets"),
    ("retries = -1", "retries"),
    ("timeout = 0", "timeout"),
    ("allow_private = maybe", "allow_private"),
])
def test_bad_upload_keys_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    from scanlet.config import Home, load_settings
    from scanlet.errors import ConfigError

    home = Home(tmp_path / "h").create()
    home.user_config.write_text(f"[upload]\n{text}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(home)
    assert str(home.user_config) in str(caught.value)
    assert caught.value.detail["key"] == f"upload.{key}"
