"""The per-install local CA and leaf: constraints, lifetimes, files, renewal, a real handshake."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from scanlet.config import Home, Settings
from scanlet.errors import CertificateError
from scanlet.security import certs
from scanlet.security.cert_task import CertificateTask, CheckReport, check_certificates, renew
from scanlet.service.serve import TlsReloader

PERMITTED = [x509.DNSName("localhost"),
             x509.IPAddress(ipaddress.IPv4Network("127.0.0.1/32")),
             x509.IPAddress(ipaddress.IPv6Network("::1/128"))]


def new_home(path: Path) -> Home:
    return Home(path).create()


def read(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def private_key_files(root: Path) -> list[Path]:
    """Every file under ``root`` that holds a PEM private key, whatever its name."""
    return sorted(p for p in root.rglob("*") if p.is_file() and b"PRIVATE KEY" in p.read_bytes())


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return new_home(tmp_path / "home")


def test_ca_is_name_constrained_with_path_length_zero(home: Home) -> None:
    certs.ensure_certificate(home)
    ca = read(home.cert / "ca.pem")
    ext = ca.extensions
    basic = ext.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    usage = ext.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    names = ext.get_extension_for_class(x509.NameConstraints)
    assert names.critical
    assert list(names.value.permitted_subtrees or []) == PERMITTED
    assert names.value.excluded_subtrees is None
    assert ext.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == \
        x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    install_id = home.identity.read_text().split("install_id = ")[1].strip()
    assert install_id[:8] in ca.subject.rfc4514_string()


def test_leaf_names_usage_and_lifetime(home: Home) -> None:
    certs.ensure_certificate(home)
    ca = read(home.cert / "ca.pem")
    leaf = read(home.cert / "server.pem")
    leaf.verify_directly_issued_by(ca)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"),
                                                        ipaddress.ip_address("::1")]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    for cert in (ca, leaf):
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        assert dt.timedelta(days=800) < lifetime <= dt.timedelta(days=825)
    assert leaf.not_valid_after_utc <= ca.not_valid_after_utc
    assert leaf.serial_number != ca.serial_number and leaf.serial_number.bit_length() > 64


def test_independent_verifier_accepts_loopback_and_rejects_other_names(home: Home) -> None:
    """cryptography's RFC 5280 verifier enforces the constraints on our CA's certificates."""
    certs.ensure_certificate(home)
    store = Store([read(home.cert / "ca.pem")])
    leaf = read(home.cert / "server.pem")
    for name in (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                 x509.IPAddress(ipaddress.ip_address("::1"))):
        PolicyBuilder().store(store).build_server_verifier(name).verify(leaf, [])
    with pytest.raises(VerificationError):
        PolicyBuilder().store(store).build_server_verifier(
            x509.DNSName("example.com")).verify(leaf, [])

    # A CA made the same way cannot vouch for other names even when it signs them.
    ca, ca_key = certs.make_constrained_ca("test CA")
    other, _ = certs.sign_leaf(ca, ca_key, dns_names=["example.com"], ip_addresses=[])
    with pytest.raises(VerificationError):
        PolicyBuilder().store(Store([ca])).build_server_verifier(
            x509.DNSName("example.com")).verify(other, [])
    private_ip, _ = certs.sign_leaf(ca, ca_key, dns_names=[],
                                    ip_addresses=[ipaddress.ip_address("192.168.1.1")])
    with pytest.raises(VerificationError):
        PolicyBuilder().store(Store([ca])).build_server_verifier(
            x509.IPAddress(ipaddress.ip_address("192.168.1.1"))).verify(private_ip, [])


def test_two_installs_have_different_cas(tmp_path: Path) -> None:
    first, second = new_home(tmp_path / "a"), new_home(tmp_path / "b")
    certs.ensure_certificate(first)
    certs.ensure_certificate(second)
    keys = [read(h.cert / "ca.pem").public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        for h in (first, second)]
    assert keys[0] != keys[1]
    assert read(first.cert / "ca.pem").serial_number != read(second.cert / "ca.pem").serial_number


def test_no_ca_key_on_disk_and_leaf_key_private(home: Home) -> None:
    certs.ensure_certificate(home)
    renew(home)  # a renewal must not leave one behind either
    assert private_key_files(home.root) == [home.cert / "server.key"]
    mode = stat.S_IMODE(os.stat(home.cert / "server.key").st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(home.cert).st_mode) == 0o700
    assert not [p for p in home.cert.iterdir() if p.name.endswith(".tmp")]
    key = serialization.load_pem_private_key((home.cert / "server.key").read_bytes(), None)
    assert key.public_key() == read(home.cert / "server.pem").public_key()


def test_ensure_keeps_a_good_certificate_and_repairs_a_broken_one(home: Home) -> None:
    first, made = certs.ensure_certificate(home)
    assert made
    again, made = certs.ensure_certificate(home)
    assert not made and again.ca_sha256 == first.ca_sha256

    # A key that does not match (e.g. a crash between two renames) is repaired by a new CA.
    other = ec.generate_private_key(ec.SECP256R1())
    (home.cert / "server.key").write_bytes(other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    broken = certs.load_status(home)
    assert broken is not None and not broken.valid and "server.key" in (broken.problem or "")
    repaired, made = certs.ensure_certificate(home)
    assert made and repaired.valid and repaired.ca_sha256 != first.ca_sha256


def test_renews_before_expiry(home: Home) -> None:
    first, _ = certs.ensure_certificate(home)
    settings = Settings(https=True)
    report = check_certificates(home, settings)
    assert not report.renewed
    # "Expires within 900 days" is true for any leaf we make: the round renews it.
    report = check_certificates(home, settings, renew_before=dt.timedelta(days=900))
    assert report.renewed and report.certificate is not None
    assert report.certificate.ca_sha256 != first.ca_sha256


def test_check_does_nothing_when_https_is_off_and_nothing_installed(home: Home) -> None:
    report = check_certificates(home, Settings())
    assert report.certificate is None and not report.renewed
    assert not (home.cert / "ca.pem").exists()


def test_admin_certificate_is_used_as_is(home: Home, tmp_path: Path) -> None:
    ca, ca_key = certs.make_constrained_ca("admin CA")
    leaf, key = certs.sign_leaf(ca, ca_key, lifetime=dt.timedelta(days=10))
    cert_file, key_file = tmp_path / "admin.pem", tmp_path / "admin.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    settings = Settings(https=True, tls_cert_file=cert_file, tls_key_file=key_file)
    assert certs.server_files(home, settings) == (cert_file, key_file)
    assert not (home.cert / "ca.pem").exists()  # no local CA is made for nothing
    report = check_certificates(home, settings)
    assert any("expires" in w for w in report.warnings)
    assert not (home.cert / "ca.pem").exists()

    with pytest.raises(CertificateError, match="cannot use TLS certificate"):
        certs.server_context(key_file, key_file)


def test_generation_refuses_a_home_of_another_user(home: Home) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root to hand the folder to another user")
    os.chown(home.cert, 65534, 65534)
    with pytest.raises(CertificateError, match="belongs to another user"):
        certs.ensure_certificate(home)
    assert not (home.cert / "server.key").exists()


def _handshake(port: int, cafile: Path, server_hostname: str, host: str = "127.0.0.1"
               ) -> dict[str, object]:
    context = ssl.create_default_context(cafile=str(cafile))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as raw:
        raw.settimeout(10)
        raw.connect((host, port))
        with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
            cert = tls.getpeercert()
            assert cert is not None
            return dict(cert)


def test_server_context_handshake_and_reload(home: Home) -> None:
    """A real TLS server on loopback with our context; reloading switches new handshakes."""
    certs.ensure_certificate(home)
    context = certs.server_context(home.cert / "server.pem", home.cert / "server.key")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                try:
                    with context.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(1)
                except (ssl.SSLError, OSError):
                    pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        old_ca = home.cert / "old-ca.pem"
        old_ca.write_bytes((home.cert / "ca.pem").read_bytes())
        for name in ("localhost", "127.0.0.1"):
            _handshake(port, old_ca, name)
        with pytest.raises(ssl.SSLCertVerificationError):
            _handshake(port, old_ca, "example.com")

        reloader = TlsReloader(context, home.cert / "server.pem", home.cert / "server.key")
        before = reloader.loaded
        reloader(CheckReport())
        assert reloader.loaded == before  # nothing changed, nothing reloaded
        renew(home)
        reloader(CheckReport())
        assert reloader.loaded != before
        _handshake(port, home.cert / "ca.pem", "localhost")
        with pytest.raises(ssl.SSLCertVerificationError):
            _handshake(port, old_ca, "localhost")
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_certificate_task_runs_periodically(home: Home) -> None:
    settings = Settings(https=True, cert_check_hours=1e-5)  # a round every 36 ms

    async def run() -> list[CheckReport]:
        seen: list[CheckReport] = []
        task = CertificateTask(home, settings, on_checked=seen.append)
        task.start()
        for _ in range(250):
            if len(seen) >= 3:
                break
            await asyncio.sleep(0.02)
        await task.stop()
        return seen

    seen = asyncio.run(run())
    assert len(seen) >= 3
    assert all(r.certificate is not None and r.certificate.valid for r in seen)
    assert sum(r.renewed for r in seen) == 1  # the first round made it, later ones kept it
