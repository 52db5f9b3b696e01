"""The streaming HTTP(S) uploader against real servers on 127.0.0.1 (Starlette under uvicorn
in a background thread, plain HTTP and HTTPS with a self-signed certificate for localhost)."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import hashlib
import ipaddress
import json
import logging
import os
import socket
import ssl
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scanlet.errors import InvalidSetting, ScanCancelled, UploadCancelled, UploadFailed
from scanlet.security.policy import Principal
from scanlet.upload import CheckedTarget, UploadRules, check_target, upload_file
from scanlet.upload import http as http_upload
from tests.upload.certs import localhost_cert

KEY = Principal("key", "k1", None, frozenset({"upload"}))
MB = 1024 * 1024


# --- the test server ---------------------------------------------------------------------------


class Store:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def count(self, key: str) -> int:
        with self.lock:
            self.calls[key] = self.calls.get(key, 0) + 1
            return self.calls[key]


def make_app(store: Store) -> Starlette:
    def seen(request: Request) -> dict[str, Any]:
        return {
            "host": request.headers.get("host"),
            "x_custom": request.headers.get("x-custom"),
            "authorization": request.headers.get("authorization"),
            "cookie": "cookie" in request.headers,
            "content_type": request.headers.get("content-type"),
            "content_length": request.headers.get("content-length"),
            "transfer_encoding": request.headers.get("transfer-encoding"),
            "query": request.url.query,
        }

    async def put(request: Request) -> Response:
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.stream():  # hashed as it arrives, never held whole
            digest.update(chunk)
            size += len(chunk)
        return JSONResponse({"sha256": digest.hexdigest(), "size": size, **seen(request)},
                            status_code=201, headers={"ETag": '"abc"', "Location": "/f/1",
                                                      "Set-Cookie": "s=1", "X-Other": "x"})

    async def form(request: Request) -> Response:
        raw = await request.body()
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
        parts = []
        for part in message.iter_parts():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            parts.append({
                "name": part.get_param("name", header="content-disposition"),
                "filename": part.get_filename(),
                "content_type": part.get_content_type() if part.get("content-type") else None,
                "sha256": hashlib.sha256(payload).hexdigest(),
                "size": len(payload),
                "text": payload.decode("latin-1") if part.get_filename() is None else None,
            })
        return JSONResponse({"parts": parts, **seen(request)})

    async def flaky(request: Request) -> Response:
        await request.body()
        key = request.path_params["key"]
        if store.count(key) <= 2:
            return Response("busy", status_code=503, headers={"Set-Cookie": "trap=1"})
        return JSONResponse(seen(request), status_code=201)

    async def status(request: Request) -> Response:
        await request.body()
        store.count("status")
        return Response("x" * 200_000, status_code=int(request.path_params["code"]))

    async def redirect(request: Request) -> Response:
        await request.body()
        return Response(status_code=302, headers={"Location": "http://169.254.169.254/"})

    async def slow(request: Request) -> Response:
        async for _chunk in request.stream():
            await asyncio.sleep(0.05)
        return Response("done")

    async def stall(request: Request) -> Response:
        await asyncio.sleep(30)
        return Response("late")

    return Starlette(routes=[
        Route("/put/{name}", put, methods=["PUT", "POST"]),
        Route("/form", form, methods=["POST"]),
        Route("/flaky/{key}", flaky, methods=["PUT", "POST"]),
        Route("/status/{code:int}", status, methods=["PUT", "POST"]),
        Route("/redirect", redirect, methods=["PUT", "POST"]),
        Route("/slow", slow, methods=["PUT", "POST"]),
        Route("/stall", stall, methods=["PUT", "POST"]),
    ])


class Server:
    def __init__(self, port: int, store: Store) -> None:
        self.port = port
        self.store = store


def run_server(store: Store, **ssl_options: Any) -> Iterator[Server]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(store), host="127.0.0.1", port=port, lifespan="off",
                            log_level="warning", timeout_graceful_shutdown=1, **ssl_options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "test server did not start"
        time.sleep(0.01)
    try:
        yield Server(port, store)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    yield from run_server(Store())


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    cert, key = localhost_cert()
    folder = tmp_path_factory.mktemp("tls")
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert)
    keyfile.write_bytes(key)
    return certfile, keyfile


@pytest.fixture(scope="module")
def https_server(tls: tuple[Path, Path]) -> Iterator[Server]:
    certfile, keyfile = tls
    yield from run_server(Store(), ssl_certfile=str(certfile), ssl_keyfile=str(keyfile))


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.bin"
    with path.open("wb") as fh:
        for _ in range(20):
            fh.write(os.urandom(MB))
    return path


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    path = tmp_path / "scan page.pdf"
    path.write_bytes(os.urandom(3 * MB + 12345))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def target(server: Server, path: str, host: str = "127.0.0.1") -> CheckedTarget:
    """A target that went through the real policy (a loopback development target)."""
    rules = UploadRules(allow_loopback_targets=(f"http://{host}:{server.port}",))
    return check_target(f"http://{host}:{server.port}{path}", requester=KEY, rules=rules,
                         resolve=lambda _h, _p: ["127.0.0.1"])


# --- PUT and POST ------------------------------------------------------------------------------


def test_put_streams_the_file_with_headers_and_without_cookies(
        server: Server, small_file: Path) -> None:
    calls: list[tuple[int, int]] = []
    result = upload_file(
        small_file, target(server, "/put/a?sig=SECRET"), method="PUT",
        content_type="application/pdf",
        headers={"X-Custom": "hello", "Authorization": "Bearer t", "Cookie": "session=1"},
        progress=lambda sent, total: calls.append((sent, total)),
    )
    assert result.status == 201 and result.attempts == 1 and result.retried_statuses == []
    answer = json.loads(result.body)
    assert answer["sha256"] == sha(small_file) and answer["size"] == small_file.stat().st_size
    assert answer["x_custom"] == "hello" and answer["authorization"] == "Bearer t"
    assert answer["cookie"] is False
    assert answer["content_type"] == "application/pdf"
    assert answer["content_length"] == str(small_file.stat().st_size)
    assert answer["transfer_encoding"] is None
    assert answer["host"] == f"127.0.0.1:{server.port}"
    assert answer["query"] == "sig=SECRET"
    # Only the selected response headers.
    assert set(result.headers) == {"content-type", "location", "etag", "content-length"}
    assert result.headers["etag"] == '"abc"' and result.headers["location"] == "/f/1"
    assert not result.truncated
    # Progress: several calls while sending, monotonic, ending at the total.
    size = small_file.stat().st_size
    assert len(calls) == -(-size // http_upload.CHUNK_SIZE)  # one report per chunk
    assert all(total == size for _s, total in calls)
    sent = [s for s, _t in calls]
    assert sent == sorted(sent) and len(set(sent)) == len(sent) and sent[-1] == size


def test_post_multipart_fields_first_then_file(server: Server, small_file: Path) -> None:
    calls: list[tuple[int, int]] = []
    result = upload_file(
        small_file, target(server, "/form"), method="POST", field_name="document",
        file_name="scan 1.pdf", content_type="application/pdf",
        fields={"title": "Invoice", "folder": "2026/11"}, headers={"X-Custom": "v"},
        progress=lambda sent, total: calls.append((sent, total)),
    )
    assert result.status == 200
    answer = json.loads(result.body)
    parts = answer["parts"]
    assert [p["name"] for p in parts] == ["title", "folder", "document"]
    assert [p["text"] for p in parts[:2]] == ["Invoice", "2026/11"]
    file_part = parts[2]
    assert file_part["filename"] == "scan 1.pdf"
    assert file_part["content_type"] == "application/pdf"
    assert file_part["sha256"] == sha(small_file)
    assert file_part["size"] == small_file.stat().st_size
    assert answer["x_custom"] == "v" and answer["cookie"] is False
    assert answer["content_type"].startswith("multipart/form-data; boundary=")
    assert answer["transfer_encoding"] is None
    total = int(answer["content_length"])
    assert total > small_file.stat().st_size
    sent = [s for s, _t in calls]
    assert len(calls) > 10 and sent == sorted(sent) and sent[-1] == total
    assert {t for _s, t in calls} == {total}


def test_a_non_ascii_path_is_percent_encoded(server: Server, small_file: Path) -> None:
    result = upload_file(small_file, target(server, "/put/r\u00e9sum\u00e9?q=\u00fc"),
                         method="PUT")
    assert result.status == 201
    assert json.loads(result.body)["query"] == "q=%C3%BC"


def test_the_connection_is_pinned_and_the_host_header_kept(
        server: Server, small_file: Path) -> None:
    # "localhost" is "resolved" by the policy to 127.0.0.1; the uploader connects there and
    # sends the original name in Host.
    pinned = target(server, "/put/b", host="localhost")
    assert pinned.address == "127.0.0.1" and pinned.host == "localhost"
    result = upload_file(small_file, pinned, method="PUT")
    assert json.loads(result.body)["host"] == f"localhost:{server.port}"


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_a_20_mb_file_is_streamed_not_loaded(server: Server, big_file: Path,
                                             method: Literal["POST", "PUT"]) -> None:
    size = big_file.stat().st_size
    tracemalloc.start()
    try:
        result = upload_file(big_file, target(server, "/put/big"), method=method)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    answer = json.loads(result.body)
    if method == "PUT":
        assert answer["sha256"] == sha(big_file) and answer["size"] == size
    else:
        assert answer["size"] == int(answer["content_length"]) > size
    assert peak < 8 * MB, f"peak traced memory {peak / MB:.1f} MB for a {size / MB:.0f} MB file"


# --- retries, redirects, failures -------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_5xx_is_retried_with_backoff(server: Server, small_file: Path,
                                     method: Literal["POST", "PUT"]) -> None:
    calls: list[int] = []
    started = time.monotonic()
    result = upload_file(small_file, target(server, f"/flaky/{method}"), method=method,
                         backoff=0.05, progress=lambda sent, _t: calls.append(sent))
    assert result.status == 201
    assert result.attempts == 3 and result.retried_statuses == [503, 503]
    assert time.monotonic() - started >= 0.05 + 0.1
    assert calls == sorted(calls)  # monotonic across the retries too
    # The 503s set a cookie: it is not sent back on the retry.
    assert json.loads(result.body)["cookie"] is False


def test_5xx_after_the_last_retry_fails(server: Server, small_file: Path) -> None:
    before = server.store.calls.get("status", 0)
    with pytest.raises(UploadFailed) as caught:
        upload_file(small_file, target(server, "/status/503?token=SECRET"), method="PUT",
                    retries=2, backoff=0.01)
    error = caught.value
    assert error.http_status == 502 and error.code == "upload_failed"
    assert error.detail["status"] == 503 and error.detail["attempts"] == 3
    assert server.store.calls["status"] - before == 3
    assert "SECRET" not in str(error) and "SECRET" not in str(error.to_dict())
    assert error.detail["target"] == f"http://127.0.0.1:{server.port}/status/503"


@pytest.mark.parametrize("code", [400, 403, 404, 413, 501])
def test_4xx_and_501_are_returned_not_retried(server: Server, small_file: Path,
                                              code: int) -> None:
    before = server.store.calls.get("status", 0)
    result = upload_file(small_file, target(server, f"/status/{code}"), method="PUT",
                         backoff=0.01, response_limit=1000)
    assert result.status == code and result.attempts == 1
    assert server.store.calls["status"] - before == 1
    assert result.body == b"x" * 1000 and result.truncated


def test_a_redirect_is_returned_not_followed(server: Server, small_file: Path) -> None:
    result = upload_file(small_file, target(server, "/redirect"), method="POST")
    assert result.status == 302 and result.attempts == 1
    assert result.headers["location"] == "http://169.254.169.254/"


def test_connection_errors_are_retried_then_fail(small_file: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = Server(port, Store())
    started = time.monotonic()
    with pytest.raises(UploadFailed) as caught:
        upload_file(small_file, target(dead, "/x?sig=SECRET"), method="PUT", retries=2,
                    backoff=0.02)
    assert caught.value.detail["reason"] == "connection"
    assert caught.value.detail["attempts"] == 3
    assert "SECRET" not in str(caught.value.to_dict())
    assert time.monotonic() - started >= 0.02 + 0.04


@pytest.mark.parametrize("name", ["Host", "content-length", "Transfer-Encoding", "Connection",
                                  "Content-Type", "bad header"])
def test_headers_the_client_owns_are_refused(server: Server, small_file: Path,
                                             name: str) -> None:
    with pytest.raises(InvalidSetting) as caught:
        upload_file(small_file, target(server, "/put/c"), method="PUT",
                    headers={name: "secret-value"})
    assert "secret-value" not in str(caught.value.to_dict())


def test_header_values_with_newlines_are_refused(server: Server, small_file: Path) -> None:
    with pytest.raises(InvalidSetting):
        upload_file(small_file, target(server, "/put/c"), method="PUT",
                    headers={"X-A": "a\r\nCookie: x=1"})


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_after_the_first_progress_stops_promptly(server: Server, big_file: Path) -> None:
    cancel = threading.Event()
    calls: list[int] = []

    def progress(sent: int, _total: int) -> None:
        calls.append(sent)
        cancel.set()

    with pytest.raises(UploadCancelled) as caught:
        upload_file(big_file, target(server, "/slow"), method="PUT", cancel=cancel,
                    progress=progress)
    assert isinstance(caught.value, ScanCancelled) and caught.value.code == "upload_cancelled"
    # Stopped at the next chunk: the one progress report is the chunk before the cancel.
    assert len(calls) == 1 and calls[0] < big_file.stat().st_size


@pytest.mark.timeout(60)  # a cancel that could not interrupt the send would hang here
def test_cancel_interrupts_a_blocked_send(server: Server, big_file: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The server never reads: the socket buffers fill and the sender blocks in send(), which
    # only shutting the socket down (by the cancel watcher) interrupts. The upload's own
    # timeout is far beyond the test's, so only that interruption ends the upload in time.
    aborted: list[bool] = []
    original = http_upload._Tracker.abort

    def abort(self: http_upload._Tracker) -> None:
        aborted.append(True)
        original(self)

    monkeypatch.setattr(http_upload._Tracker, "abort", abort)
    cancel = threading.Event()
    calls: list[int] = []
    stop = threading.Event()

    def cancel_once_stalled() -> None:
        # Cancels once progress has stood still for half a second (the buffers are full). A
        # sender that was only paused meets the cancel at its next chunk instead: the upload
        # is cancelled all the same, and these asserts hold either way.
        seen, still = -1, 0
        while not stop.wait(0.1):
            now = len(calls)
            still = still + 1 if now == seen and now else 0
            seen = now
            if still >= 5:
                cancel.set()
                return

    watcher = threading.Thread(target=cancel_once_stalled, daemon=True)
    watcher.start()
    try:
        with pytest.raises(UploadCancelled):
            upload_file(big_file, target(server, "/stall"), method="POST", cancel=cancel,
                        timeout=600, progress=lambda sent, _t: calls.append(sent))
    finally:
        stop.set()
        watcher.join()
    assert cancel.is_set()
    assert aborted == [True]
    assert calls and calls[-1] < big_file.stat().st_size


class CancelOnLog(logging.Handler):
    """Sets ``cancel`` when the uploader logs a message containing ``text``."""

    def __init__(self, cancel: threading.Event, text: str) -> None:
        super().__init__()
        self.cancel = cancel
        self.text = text

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.cancel.set()


@pytest.mark.timeout(15)  # an upload that slept out its backoff (20 s, then 30 s) hangs here
def test_cancel_during_the_backoff(server: Server, small_file: Path) -> None:
    cancel = threading.Event()
    before = server.store.calls.get("status", 0)
    # The uploader logs the 502 of the first attempt just before it waits out the backoff:
    # the cancel comes there, by that event rather than after some guessed time.
    handler = CancelOnLog(cancel, "attempt 1 answered 502")
    logger = logging.getLogger(http_upload.__name__)
    logger.addHandler(handler)
    try:
        with pytest.raises(UploadCancelled):
            upload_file(small_file, target(server, "/status/502"), method="PUT", cancel=cancel,
                        backoff=20)
    finally:
        logger.removeHandler(handler)
    assert cancel.is_set()
    assert server.store.calls["status"] - before == 1  # no second attempt


def test_an_already_cancelled_upload_sends_nothing(server: Server, small_file: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    before = server.store.calls.get("status", 0)
    with pytest.raises(UploadCancelled):
        upload_file(small_file, target(server, "/status/400"), method="PUT", cancel=cancel)
    assert server.store.calls.get("status", 0) == before


# --- https ------------------------------------------------------------------------------------


def https_target(server: Server, path: str) -> CheckedTarget:
    rules = UploadRules(allow_loopback_targets=(f"https://localhost:{server.port}",))
    return check_target(f"https://localhost:{server.port}{path}", requester=KEY, rules=rules,
                        resolve=lambda _h, _p: ["127.0.0.1"])


def test_https_put_and_post_with_the_pinned_address(https_server: Server, small_file: Path,
                                                    tls: tuple[Path, Path]) -> None:
    trust = ssl.create_default_context(cafile=str(tls[0]))
    checked = https_target(https_server, "/put/s")
    assert checked.address == "127.0.0.1" and checked.server_hostname == "localhost"
    ipaddress.ip_address(checked.address)
    result = upload_file(small_file, checked, method="PUT", verify=trust)
    answer = json.loads(result.body)
    assert result.status == 201 and answer["sha256"] == sha(small_file)
    assert answer["host"] == f"localhost:{https_server.port}"
    result = upload_file(small_file, https_target(https_server, "/form"), method="POST",
                         verify=trust, fields={"a": "b"})
    parts = json.loads(result.body)["parts"]
    assert parts[1]["sha256"] == sha(small_file)


def test_https_checks_the_certificate_against_server_hostname(
        https_server: Server, small_file: Path, tls: tuple[Path, Path]) -> None:
    trust = ssl.create_default_context(cafile=str(tls[0]))
    good = https_target(https_server, "/put/s")
    wrong_name = CheckedTarget(scheme="https", host="upload.test", port=good.port, path="/put/s",
                               address="127.0.0.1", server_hostname="upload.test")
    with pytest.raises(UploadFailed) as caught:
        upload_file(small_file, wrong_name, method="PUT", verify=trust, retries=0)
    assert caught.value.detail["reason"] == "connection"
    with pytest.raises(UploadFailed):  # the default trust store does not know the test CA
        upload_file(small_file, good, method="PUT", retries=0)
