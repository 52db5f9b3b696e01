"""The FTP(S) uploader against real pyftpdlib servers on 127.0.0.1 (plain FTP, and explicit
FTPS with a self-signed certificate for localhost, TLS required on control and data)."""

from __future__ import annotations

import hashlib
import os
import ssl
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scanlet.errors import UploadCancelled, UploadFailed
from scanlet.security.policy import Principal
from scanlet.upload import CheckedTarget, UploadRules, check_target, upload_ftp
from tests.upload.certs import localhost_cert

with warnings.catch_warnings():
    # pyftpdlib uses asynchat/asyncore, deprecated on Python 3.11 (warnings are errors here).
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
    from pyftpdlib.ioloop import IOLoop
    from pyftpdlib.servers import FTPServer

KEY = Principal("key", "k1", None, frozenset({"upload"}))
USER, PASSWORD = "scanner", "s3cret-Pa55word"


@dataclass
class Server:
    port: int
    home: Path


def run_ftp(home: Path, handler_base: type[FTPHandler], **attrs: object) -> Iterator[Server]:
    (home / "in").mkdir(parents=True)
    authorizer = DummyAuthorizer()
    authorizer.add_user(USER, PASSWORD, str(home), perm="elradfmw")
    handler = type("Handler", (handler_base,), {
        "authorizer": authorizer, "auth_failed_timeout": 0, "banner": "test", **attrs})
    # Each server gets its own IOLoop: the default one is a process-wide singleton.
    server = FTPServer(("127.0.0.1", 0), handler, ioloop=IOLoop())
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            server.serve_forever(timeout=0.01, blocking=False, handle_exit=False)

    thread = threading.Thread(target=loop, name="ftp-server", daemon=True)
    thread.start()
    try:
        yield Server(server.address[1], home)
    finally:
        stop.set()
        thread.join(10)
        server.close_all()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate for localhost, key appended (pyftpdlib's certfile form)."""
    cert, key = localhost_cert()
    certfile = tmp_path_factory.mktemp("tls") / "cert.pem"
    certfile.write_bytes(cert + key)
    return certfile


@pytest.fixture(scope="module")
def ftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from run_ftp(tmp_path_factory.mktemp("ftp"), FTPHandler)


@pytest.fixture(scope="module")
def ftps_server(tmp_path_factory: pytest.TempPathFactory, tls: Path) -> Iterator[Server]:
    yield from run_ftp(tmp_path_factory.mktemp("ftps"), TLS_FTPHandler, certfile=str(tls),
                       ssl_context=None, tls_control_required=True, tls_data_required=True)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "scan.pdf"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 123))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ftp_target(server: Server, path: str) -> CheckedTarget:
    origin = f"ftp://127.0.0.1:{server.port}"
    return check_target(origin + path, requester=KEY,
                        rules=UploadRules(allow_loopback_targets=(origin,)))


def ftps_target(server: Server, path: str) -> CheckedTarget:
    origin = f"ftps://localhost:{server.port}"
    return check_target(origin + path, requester=KEY,
                        rules=UploadRules(allow_loopback_targets=(origin,)),
                        resolve=lambda host, port: ["127.0.0.1"])


def test_ftp_upload_arrives_intact_in_the_url_directory(ftp_server: Server,
                                                        big_file: Path) -> None:
    target = ftp_target(ftp_server, "/in/doc-1.pdf")
    assert target.address == "127.0.0.1" and target.server_hostname is None
    seen: list[tuple[int, int]] = []
    result = upload_ftp(big_file, target, user=USER, password=PASSWORD,
                        progress=lambda sent, total: seen.append((sent, total)))
    assert result.status == 226 and result.attempts == 1 and result.retried_statuses == []
    assert result.body.startswith(b"226")
    stored = ftp_server.home / "in" / "doc-1.pdf"
    assert sha256(stored) == sha256(big_file)
    size = big_file.stat().st_size
    sents = [s for s, _ in seen]
    assert sents == sorted(sents) and len(set(sents)) == len(sents)
    assert seen[-1] == (size, size) and all(t == size for _, t in seen)


def test_ftp_default_name_and_explicit_directory(ftp_server: Server, tmp_path: Path) -> None:
    source = tmp_path / "page.png"
    source.write_bytes(b"png" * 1000)
    result = upload_ftp(source, ftp_target(ftp_server, "/"), user=USER, password=PASSWORD,
                        directory="in", passive=True)
    assert result.status == 226
    assert (ftp_server.home / "in" / "page.png").read_bytes() == source.read_bytes()


def test_ftps_upload_arrives_intact(ftps_server: Server, big_file: Path, tls: Path) -> None:
    target = ftps_target(ftps_server, "/in/secure.pdf")
    assert target.address == "127.0.0.1" and target.server_hostname == "localhost"
    seen: list[int] = []
    result = upload_ftp(big_file, target, user=USER, password=PASSWORD,
                        verify=ssl.create_default_context(cafile=str(tls)),
                        progress=lambda sent, total: seen.append(sent))
    assert result.status == 226 and result.attempts == 1
    assert sha256(ftps_server.home / "in" / "secure.pdf") == sha256(big_file)
    assert seen == sorted(seen) and seen[-1] == big_file.stat().st_size


def test_ftps_untrusted_certificate_fails_without_sending(ftps_server: Server,
                                                          big_file: Path) -> None:
    sent: list[int] = []
    with pytest.raises(UploadFailed) as info:
        upload_ftp(big_file, ftps_target(ftps_server, "/in/untrusted.pdf"), user=USER,
                   password=PASSWORD, backoff=0, progress=lambda s, t: sent.append(s))
    assert info.value.detail["reason"] == "tls" and info.value.detail["attempts"] == 1
    assert sent == [] and not (ftps_server.home / "in" / "untrusted.pdf").exists()
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value.detail)


def test_ftps_certificate_must_match_server_hostname(ftps_server: Server, big_file: Path,
                                                     tls: Path) -> None:
    target = CheckedTarget(scheme="ftps", host="upload.test", port=ftps_server.port,
                           path="/in/wrong-name.pdf", address="127.0.0.1",
                           server_hostname="upload.test")
    with pytest.raises(UploadFailed) as info:
        upload_ftp(big_file, target, user=USER, password=PASSWORD, backoff=0,
                   verify=ssl.create_default_context(cafile=str(tls)))
    assert info.value.detail["reason"] == "tls"
    assert not (ftps_server.home / "in" / "wrong-name.pdf").exists()


def test_wrong_password_fails_at_once_without_leaking_it(ftp_server: Server,
                                                         big_file: Path) -> None:
    wrong = "Wr0ng-Secret-XYZ"
    with pytest.raises(UploadFailed) as info:
        upload_ftp(big_file, ftp_target(ftp_server, "/in/x.pdf"), user=USER, password=wrong,
                   retries=3, backoff=1.0)
    error = info.value
    assert error.detail["status"] == 530 and error.detail["attempts"] == 1
    for text in (str(error), repr(error.detail), repr(error.to_dict())):
        assert wrong not in text and PASSWORD not in text


def test_missing_directory_is_a_permanent_failure(ftp_server: Server, big_file: Path) -> None:
    with pytest.raises(UploadFailed) as info:
        upload_ftp(big_file, ftp_target(ftp_server, "/nope/x.pdf"), user=USER,
                   password=PASSWORD, backoff=1.0)
    assert info.value.detail["status"] == 550 and info.value.detail["attempts"] == 1
    assert not (ftp_server.home / "nope").exists()


def test_cancel_after_first_progress(ftp_server: Server, big_file: Path) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    def progress(sent: int, total: int) -> None:
        seen.append(sent)
        cancel.set()

    with pytest.raises(UploadCancelled):
        upload_ftp(big_file, ftp_target(ftp_server, "/in/cancelled.pdf"), user=USER,
                   password=PASSWORD, progress=progress, cancel=cancel)
    assert seen == [64 * 1024]  # stopped at the next block after the cancel


def test_connection_refused_is_retried(big_file: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    origin = f"ftp://127.0.0.1:{port}"
    target = check_target(origin + "/x.pdf", requester=KEY,
                          rules=UploadRules(allow_loopback_targets=(origin,)))
    with pytest.raises(UploadFailed) as info:
        upload_ftp(big_file, target, retries=2, backoff=0, timeout=5)
    assert info.value.detail["attempts"] == 3
    assert info.value.detail["reason"] == "connection"


def test_pasv_reply_address_is_ignored(tmp_path_factory: pytest.TempPathFactory,
                                       big_file: Path) -> None:
    """A server whose PASV reply names another address: the data goes to the pinned one."""
    servers = run_ftp(tmp_path_factory.mktemp("masq"), FTPHandler,
                      masquerade_address="192.0.2.1")
    server = next(servers)
    try:
        result = upload_ftp(big_file, ftp_target(server, "/in/masq.pdf"), user=USER,
                            password=PASSWORD, retries=0, timeout=5)
        assert result.status == 226
        assert sha256(server.home / "in" / "masq.pdf") == sha256(big_file)
    finally:
        servers.close()
