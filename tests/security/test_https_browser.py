"""HTTPS end to end: the real service with its per-install CA, and real Chromium (Debian's,
through Playwright) that trusts the CA only through a throw-away NSS database in a temporary
HOME. No ``ignore_https_errors`` anywhere: what loads, loads because the chain verifies.

Also the listener set-up of ``scanlet serve``: port.lock, ``::1``, remote mode (HTTPS only),
and a clean stop of both servers on SIGTERM and SIGINT.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import Browser, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from scanlet.config import Home
from scanlet.security import certs, truststore
from scanlet.security.truststore import NssTool
from tests.conftest import Service, make_home, start_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-quic", "--no-first-run",
                 "--disable-component-update", "--disable-sync"]

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() or not NssTool.available(),
    reason="needs /usr/bin/chromium and certutil (scripts/install installs both)")


# --- helpers ------------------------------------------------------------------------------


def add_config(home: Path, text: str) -> None:
    with open(home / "user.ini", "a") as fh:
        fh.write("\n" + text.strip() + "\n")


def trusting_user(root: Path, *ca_files: Path) -> Path:
    """A user home whose Chromium NSS database trusts exactly ``ca_files`` (maybe none)."""
    tool = NssTool()
    db = root / ".pki" / "nssdb"
    tool.create_db(db)
    for n, ca_file in enumerate(ca_files):
        tool.add(db, f"test CA {n}", ca_file)
    return root


@contextmanager
def chromium(user_home: Path, *extra: str) -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra],
                                    env={**os.environ, "HOME": str(user_home)})
        try:
            yield browser
        finally:
            browser.close()


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>test page</title><p>hello"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused handshakes are what some tests expect


@contextmanager
def page_server(tmp: Path, leaf: x509.Certificate | None = None,
                key: ec.EllipticCurvePrivateKey | None = None) -> Iterator[int]:
    """A tiny web server on 127.0.0.1 (HTTPS with ``leaf`` when given); yields its port."""
    server = _QuietServer(("127.0.0.1", 0), _Page)
    if leaf is not None and key is not None:
        cert_file = tmp / f"leaf-{leaf.serial_number}.pem"
        key_file = tmp / f"leaf-{leaf.serial_number}.key"
        cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def pem_file(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def unconstrained_ca(name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The control: a CA like ours but without name constraints."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = certs._now() - certs._BACKDATE
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + certs.MAX_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def private_key_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and b"PRIVATE KEY" in p.read_bytes())


def lock_info(home: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((home / "port.lock").read_text())
    return data


@pytest.fixture
def https_service(tmp_path: Path) -> Iterator[Service]:
    home = make_home(tmp_path / "home")
    add_config(home, "[server]\nhttps = true\nhttps_port = 0\n")
    svc = start_service(home)
    yield svc
    svc.kill(signal.SIGTERM)


# --- the browser --------------------------------------------------------------------------


@needs_chromium
@pytest.mark.timeout(180)
def test_chromium_trusts_the_installed_ca(https_service: Service, tmp_path: Path) -> None:
    https = https_service.https_url
    assert https is not None
    port = int(https.rsplit(":", 1)[1])
    user = tmp_path / "user"
    truststore.install(Home(https_service.home), user_home=user)  # creates ~/.pki/nssdb

    with page_server(tmp_path) as other_port, chromium(user) as browser:
        page = browser.new_context().new_page()  # no ignore_https_errors
        for origin in (https, f"https://localhost:{port}"):
            response = page.goto(f"{origin}/v1/docs")
            assert response is not None and response.ok, origin
            version = page.evaluate("fetch('/v1/version').then(r => r.json())")
            assert version["name"] == "scanlet"
            assert page.evaluate("location.protocol") == "https:"

        # A page on another loopback origin reads the public route across origins (CORS).
        page.goto(f"http://127.0.0.1:{other_port}/")
        answer = page.evaluate(
            """async (url) => {
                const r = await fetch(url);
                return {status: r.status, body: await r.json()};
            }""", f"{https}/v1/version")
        assert answer["status"] == 200 and answer["body"]["name"] == "scanlet"

    # The plain listener still answers, and only the leaf key is on disk.
    assert httpx.get(f"{https_service.url}/v1/health", timeout=10).status_code == 200
    home = https_service.home
    assert private_key_files(home) == [home / "cert" / "server.key"]
    assert (home / "cert" / "server.key").stat().st_mode & 0o777 == 0o600


@needs_chromium
@pytest.mark.timeout(180)
def test_chromium_refuses_the_service_without_the_ca(https_service: Service,
                                                     tmp_path: Path) -> None:
    user = trusting_user(tmp_path / "user")  # an NSS database without our CA
    with chromium(user) as browser:
        page = browser.new_context().new_page()
        with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
            page.goto(f"{https_service.https_url}/v1/docs")


@needs_chromium
@pytest.mark.timeout(180)
def test_constrained_ca_cannot_vouch_for_other_names(tmp_path: Path) -> None:
    """A CA with our constraints (key kept, for the test) signs for example.com: Chromium says
    no. The same name from an unconstrained CA, and localhost from the constrained one, load."""
    constrained, constrained_key = certs.make_constrained_ca("test constrained CA")
    control, control_key = unconstrained_ca("test unconstrained CA")
    names = constrained.extensions.get_extension_for_class(x509.NameConstraints)
    assert names.critical and list(names.value.permitted_subtrees or []) == \
        list(certs.PERMITTED_SUBTREES)

    evil, evil_key = certs.sign_leaf(constrained, constrained_key, dns_names=["example.com"],
                                     ip_addresses=[])
    local, local_key = certs.sign_leaf(constrained, constrained_key)
    other, other_key = certs.sign_leaf(control, control_key, dns_names=["example.com"],
                                       ip_addresses=[ipaddress.ip_address("127.0.0.1")])
    user = trusting_user(tmp_path / "user", pem_file(tmp_path / "c1.pem", constrained),
                         pem_file(tmp_path / "c2.pem", control))
    with page_server(tmp_path, evil, evil_key) as evil_port, \
            page_server(tmp_path, local, local_key) as local_port, \
            page_server(tmp_path, other, other_key) as other_port, \
            chromium(user, "--host-resolver-rules=MAP example.com 127.0.0.1") as browser:
        context = browser.new_context()
        for url in (f"https://localhost:{local_port}/", f"https://127.0.0.1:{local_port}/",
                    f"https://example.com:{other_port}/"):
            response = context.new_page().goto(url)
            assert response is not None and response.ok, url
        with pytest.raises(PlaywrightError, match="net::ERR_CERT_INVALID"):
            context.new_page().goto(f"https://example.com:{evil_port}/")


# --- the listeners ------------------------------------------------------------------------


def _verify(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


def test_port_lock_ipv6_and_clean_stop(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    add_config(home, "[server]\nhttps = true\nhttps_port = 0\nlisten_ipv6 = true\n")
    svc = start_service(home)
    try:
        info = lock_info(home)
        assert info["https_port"] and info["http_port"] and info["pid"] == svc.process.pid
        ca = home / "cert" / "ca.pem"
        for url in (f"https://127.0.0.1:{info['https_port']}",
                    f"https://[::1]:{info['https_port']}",
                    f"https://localhost:{info['https_port']}",
                    f"http://[::1]:{info['http_port']}"):
            with httpx.Client(verify=_verify(ca), timeout=10) as client:
                assert client.get(f"{url}/v1/health").status_code == 200, url
        text = svc.log.read_text()
        for url in (svc.url, f"https://127.0.0.1:{info['https_port']}",
                    f"https://[::1]:{info['https_port']}"):
            assert f"listening on {url}" in text
    finally:
        svc.kill(signal.SIGTERM)
    assert svc.process.returncode == -signal.SIGTERM  # as uvicorn: the signal is re-raised
    assert svc.log.read_text().count("Application shutdown complete") == 1


def test_sigint_stops_both_listeners(https_service: Service) -> None:
    https_service.process.send_signal(signal.SIGINT)
    https_service.process.wait(timeout=20)
    text = https_service.log.read_text()
    assert text.count("Application shutdown complete") == 1
    assert text.count("Finished server process") == 2


def _admin_certificate(tmp: Path, ip: str) -> tuple[Path, Path, Path]:
    ca, ca_key = certs.make_constrained_ca(
        "test admin CA", permitted=[x509.IPAddress(ipaddress.ip_network(f"{ip}/32"))])
    leaf, key = certs.sign_leaf(ca, ca_key, dns_names=[], ip_addresses=[ipaddress.ip_address(ip)])
    cert_file = pem_file(tmp / "admin.pem", leaf)
    key_file = tmp / "admin.key"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return pem_file(tmp / "admin-ca.pem", ca), cert_file, key_file


@pytest.mark.timeout(120)
def test_remote_mode_runs_only_https_with_the_admin_certificate(tmp_path: Path) -> None:
    """127.0.0.2 counts as "not loopback" for the config, so this exercises remote mode
    without touching the network."""
    ip = "127.0.0.2"
    try:
        socket.create_server((ip, 0)).close()
    except OSError:
        pytest.skip(f"cannot bind {ip} here")
    ca_file, cert_file, key_file = _admin_certificate(tmp_path, ip)
    home = make_home(tmp_path / "home")
    add_config(home, f"[server]\nhost = {ip}\nallow_remote = true\npublic_names = {ip}\n"
                     f"https_port = 0\n[tls]\ncert_file = {cert_file}\nkey_file = {key_file}\n")
    log = home / "serve-output.log"
    with open(log, "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "scanlet", "serve", "--demo",
                                    "--home", str(home)], stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        info: dict[str, Any] = {}
        while time.monotonic() < deadline and process.poll() is None:
            try:
                info = lock_info(home)
                if info.get("https_port") and info.get("pid") == process.pid:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        assert info.get("https_port"), log.read_text()
        assert info["http_port"] is None and info["host"] == ip
        url = f"https://{ip}:{info['https_port']}"
        with httpx.Client(verify=_verify(ca_file), timeout=10) as client:
            for _ in range(100):
                try:
                    response = client.get(f"{url}/v1/health")
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            assert response.status_code == 200
        listening = {c.laddr.port for c in psutil.Process(process.pid).net_connections("inet")
                     if c.status == psutil.CONN_LISTEN}
        assert listening == {info["https_port"]}
        assert f"listening on {url}" in log.read_text()
        assert not (home / "cert" / "ca.pem").exists()  # the admin's certificate, no local CA
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_https_needs_a_usable_admin_certificate(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    broken = tmp_path / "broken.pem"
    broken.write_text("not a certificate")
    add_config(home, f"[server]\nhttps = true\nhttps_port = 0\n[tls]\ncert_file = {broken}\n"
                     f"key_file = {broken}\n")
    result = subprocess.run([sys.executable, "-m", "scanlet", "serve", "--demo", "--home",
                             str(home), "--port", "0"], capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 9
    assert "certificate_error" in result.stderr + result.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl missing")
def test_served_chain_checked_by_openssl(https_service: Service) -> None:
    """An independent client (openssl s_client) verifies the served leaf against ca.pem."""
    https = https_service.https_url
    assert https is not None
    port = https.rsplit(":", 1)[1]
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
         "-verify_return_error", "-verify_ip", "127.0.0.1",
         "-CAfile", str(https_service.home / "cert" / "ca.pem")],
        input="", capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verify return code: 0 (ok)" in result.stdout
