"""The per-install local CA and the HTTPS leaf certificate in ``cert/``.

Why it looks like this (reference/security.md section 4): a CA whose key leaks can intercept
every TLS connection of the machine, so each install makes its own CA, limits it with critical
name constraints to ``localhost``, ``127.0.0.1`` and ``::1``, signs exactly one leaf and drops
the CA key. The CA key only ever exists in memory inside :func:`generate_local_certificate`;
renewing therefore means a new CA and a new leaf, both with the same lifetime (at most 825 days,
Apple's limit for TLS server certificates).

Files (``home.cert``):

    ca.pem       the CA certificate (public; what trust stores get)
    server.pem   the leaf certificate
    server.key   the leaf key, mode 0600
    trust.json   where the CA was installed (see scanlet.security.truststore)

An admin may instead configure ``[tls] cert_file`` / ``key_file``; :func:`server_files` picks.
"""

from __future__ import annotations

import configparser
import contextlib
import datetime as dt
import ipaddress
import logging
import os
import secrets
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from scanlet.config import Home, Settings
from scanlet.errors import CertificateError, CertificateNotScanlet

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

CA_FILE = "ca.pem"
LEAF_FILE = "server.pem"
KEY_FILE = "server.key"
LOCK_FILE = ".lock"

MAX_LIFETIME = dt.timedelta(days=825)
"""Lifetime of CA and leaf: Apple's maximum for TLS server certificates."""
RENEW_BEFORE = dt.timedelta(days=30)
"""Renew when the leaf expires within this time."""
_BACKDATE = dt.timedelta(hours=1)  # tolerate clocks slightly behind ours

LOCAL_DNS_NAMES: tuple[str, ...] = ("localhost",)
LOCAL_IP_ADDRESSES: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = (
    ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))
PERMITTED_SUBTREES: tuple[x509.GeneralName, ...] = (
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.IPv4Network("127.0.0.1/32")),
    x509.IPAddress(ipaddress.IPv6Network("::1/128")),
)
"""What the local CA may sign; every name type a leaf uses is listed, so none is unconstrained."""
CA_ORGANIZATION = "Scanlet local CA"
CA_BASIC_CONSTRAINTS = x509.BasicConstraints(ca=True, path_length=0)
CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
    encipher_only=False, decipher_only=False)
CA_EXTENSIONS = frozenset({x509.OID_BASIC_CONSTRAINTS, x509.OID_KEY_USAGE,
                           x509.OID_NAME_CONSTRAINTS, x509.OID_SUBJECT_KEY_IDENTIFIER})
"""Exactly the extensions :func:`make_constrained_ca` writes (all but the SKI critical)."""
LIFETIME_TOLERANCE = dt.timedelta(minutes=1)
"""How far a CA's validity period may differ from :data:`MAX_LIFETIME` (X.509 times are whole
seconds; the CA is made with exactly that lifetime)."""


@dataclass(frozen=True)
class CertPaths:
    """The certificate files of one home."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / CA_FILE

    @property
    def leaf(self) -> Path:
        return self.folder / LEAF_FILE

    @property
    def key(self) -> Path:
        return self.folder / KEY_FILE


@dataclass(frozen=True)
class CertStatus:
    """What is on disk: the local CA and its leaf, and whether they fit together."""

    ca_subject: str
    ca_sha256: str
    not_before: dt.datetime
    not_after: dt.datetime
    leaf_names: tuple[str, ...]
    valid: bool
    problem: str | None = None

    def expires_within(self, delta: dt.timedelta, now: dt.datetime | None = None) -> bool:
        return self.not_after - delta <= (now or _now())


def cert_paths(home: Home) -> CertPaths:
    return CertPaths(home.cert)


def read_install_id(home: Home) -> str:
    """The install id from ``service.ini`` (created by ``Home.create``)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(home.identity, encoding="utf-8")
        value = parser.get("service", "install_id").strip()
    except (configparser.Error, OSError) as exc:
        raise CertificateError(f"{home.identity}: no install_id; remove the file to make a new "
                               "identity", file=str(home.identity)) from exc
    if not value or not all(c.isalnum() for c in value):
        raise CertificateError(f"{home.identity}: install_id {value!r} is not an id",
                               file=str(home.identity))
    return value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lower-case hex."""
    return cert.fingerprint(hashes.SHA256()).hex()


def make_constrained_ca(
    common_name: str, *, lifetime: dt.timedelta = MAX_LIFETIME,
    permitted: Sequence[x509.GeneralName] = PERMITTED_SUBTREES,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new CA (P-256): path length 0, may only sign certificates for ``permitted`` names.

    The caller holds the returned key in memory and should drop it once it has signed.
    """
    if lifetime > MAX_LIFETIME:
        raise CertificateError(f"lifetime {lifetime.days} days exceeds {MAX_LIFETIME.days}")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, CA_ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = _now() - _BACKDATE
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + lifetime)
        .add_extension(CA_BASIC_CONSTRAINTS, critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
        .add_extension(x509.NameConstraints(permitted_subtrees=list(permitted),
                                            excluded_subtrees=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def verify_scanlet_ca(cert: x509.Certificate) -> None:
    """Raise CertificateNotScanlet unless ``cert`` is exactly a CA that
    :func:`generate_local_certificate` makes: self-signed (P-256, SHA-256), O=Scanlet local
    CA, critical BasicConstraints ca=True path_length=0, critical KeyUsage keyCertSign+cRLSign
    only, critical NameConstraints permitting exactly :data:`PERMITTED_SUBTREES` and excluding
    nothing, its own SKI, no other extension, and a validity period of :data:`MAX_LIFETIME`.

    ``cert/ca.pem`` lives in a folder the user (and so any program running as the user) can
    write, and trust stores (``sudo scanlet cert install --system`` above all) trust whatever
    is put in. The CA key is gone, so its public key cannot be compared with anything; but a
    certificate passing these checks can only ever vouch for localhost, 127.0.0.1 and ::1, for
    whoever holds its key. Every path into a trust store calls this first.
    """
    def refuse(why: str) -> CertificateNotScanlet:
        return CertificateNotScanlet(
            f"refusing to trust {cert.subject.rfc4514_string() or 'this certificate'} "
            f"(sha256 {fingerprint(cert)}): {why}; it is not the CA Scanlet makes. If you did "
            "not put it there, something else wrote to your Scanlet home; `scanlet cert renew` "
            "(as yourself) makes a genuine one", sha256=fingerprint(cert), reason=why)

    if cert.version != x509.Version.v3:
        raise refuse("not an X.509 v3 certificate")
    public_key = cert.public_key()
    if not (isinstance(public_key, ec.EllipticCurvePublicKey)
            and isinstance(public_key.curve, ec.SECP256R1)):
        raise refuse("its key is not a P-256 key")
    if not isinstance(cert.signature_hash_algorithm, hashes.SHA256):
        raise refuse("it is not signed with SHA-256")
    if cert.issuer != cert.subject:
        raise refuse("it is not self-signed")
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise refuse("its self-signature does not verify") from exc
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if [a.value for a in orgs] != [CA_ORGANIZATION]:
        raise refuse(f"its subject is not O={CA_ORGANIZATION}")
    try:
        extensions = {ext.oid: ext for ext in cert.extensions}
    except ValueError as exc:  # duplicate or malformed extensions
        raise refuse(f"its extensions do not parse ({exc})") from exc
    if len(extensions) != len(cert.extensions) or set(extensions) != CA_EXTENSIONS:
        extra = sorted(o.dotted_string for o in set(extensions) - CA_EXTENSIONS)
        missing = sorted(o.dotted_string for o in CA_EXTENSIONS - set(extensions))
        raise refuse(f"its extensions differ (extra {extra or 'none'}, missing "
                     f"{missing or 'none'})")
    for oid, ext in extensions.items():
        if ext.critical != (oid != x509.OID_SUBJECT_KEY_IDENTIFIER):
            raise refuse(f"{ext.value.__class__.__name__} is "
                         f"{'critical' if ext.critical else 'not critical'}")
    if extensions[x509.OID_BASIC_CONSTRAINTS].value != CA_BASIC_CONSTRAINTS:
        raise refuse(f"BasicConstraints is {extensions[x509.OID_BASIC_CONSTRAINTS].value}, not "
                     "ca=True, path_length=0")
    if extensions[x509.OID_KEY_USAGE].value != CA_KEY_USAGE:
        raise refuse("KeyUsage is not exactly keyCertSign and cRLSign")
    constraints = extensions[x509.OID_NAME_CONSTRAINTS].value
    assert isinstance(constraints, x509.NameConstraints)
    permitted = list(constraints.permitted_subtrees or [])
    if constraints.excluded_subtrees is not None or len(permitted) != len(PERMITTED_SUBTREES) \
            or set(permitted) != set(PERMITTED_SUBTREES):
        raise refuse(f"its name constraints permit {[str(n.value) for n in permitted]} and "
                     f"exclude {[str(n.value) for n in constraints.excluded_subtrees or []]}, "
                     "not exactly localhost, 127.0.0.1/32 and ::1/128")
    if extensions[x509.OID_SUBJECT_KEY_IDENTIFIER].value \
            != x509.SubjectKeyIdentifier.from_public_key(public_key):
        raise refuse("its subject key identifier does not belong to its key")
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    if abs(lifetime - MAX_LIFETIME) > LIFETIME_TOLERANCE:
        raise refuse(f"it is valid for {lifetime.days} days, not {MAX_LIFETIME.days}")


def sign_leaf(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, *,
    dns_names: Sequence[str] = LOCAL_DNS_NAMES,
    ip_addresses: Sequence[ipaddress.IPv4Address | ipaddress.IPv6Address] = LOCAL_IP_ADDRESSES,
    lifetime: dt.timedelta | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A TLS server certificate (serverAuth only) for the given names, and its new key.

    Its validity never extends past the CA's.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    start = _now() - _BACKDATE
    end = ca_cert.not_valid_after_utc
    if lifetime is not None:
        end = min(end, start + lifetime)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ip) for ip in ip_addresses]
    if not sans:
        raise CertificateError("a leaf certificate needs at least one name")
    common = dns_names[0] if dns_names else str(ip_addresses[0])
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def generate_local_certificate(home: Home) -> CertStatus:
    """Make a new CA and leaf for this install, write them, and forget the CA key.

    Replaces any previous files (each one atomically). Trust stores that hold the old CA must
    be moved over with ``truststore.refresh`` (``cert_task.renew`` does both).
    """
    install_id = read_install_id(home)
    paths = cert_paths(home)
    paths.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with cert_lock(home):
        _check_owner(home)
        today = _now().strftime("%Y-%m-%d")
        ca_cert, ca_key = make_constrained_ca(f"Scanlet local CA {install_id[:8]} {today}")
        leaf, leaf_key = sign_leaf(ca_cert, ca_key)
        del ca_key  # the only reference: from here on nothing can sign for this CA again
        key_pem = leaf_key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        # Key first, CA last: a crash in between leaves a mismatch that load_status reports
        # and ensure_certificate repairs by generating again.
        _write_atomic(paths.key, key_pem, 0o600)
        _write_atomic(paths.leaf, leaf.public_bytes(serialization.Encoding.PEM), 0o644)
        _write_atomic(paths.ca, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
        status = load_status(home)
    log.info("generated local CA %s (sha256 %s), leaf valid until %s",
             ca_cert.subject.rfc4514_string(), fingerprint(ca_cert), leaf.not_valid_after_utc)
    if status is None or not status.valid:
        raise CertificateError(f"the certificate just written to {paths.folder} does not read "
                               f"back ({status.problem if status else 'no ca.pem'})")
    return status


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a new file created with ``mode``, fsync it, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # the umask may have removed bits we want (never added any)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def load_ca(home: Home) -> x509.Certificate | None:
    """The local CA certificate, or None when there is none (or it is unreadable)."""
    try:
        return x509.load_pem_x509_certificate(cert_paths(home).ca.read_bytes())
    except (OSError, ValueError):
        return None


def load_status(home: Home) -> CertStatus | None:
    """Inspect ``cert/``: None when no local CA exists; ``valid`` False when files disagree."""
    paths = cert_paths(home)
    ca = load_ca(home)
    if ca is None:
        return None
    subject, ca_sha256 = ca.subject.rfc4514_string(), fingerprint(ca)
    try:
        leaf = x509.load_pem_x509_certificate(paths.leaf.read_bytes())
        key = serialization.load_pem_private_key(paths.key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        return CertStatus(subject, ca_sha256, ca.not_valid_before_utc, ca.not_valid_after_utc,
                          leaf_names=(), valid=False, problem=f"leaf unreadable: {exc}")
    try:
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(str(n.value) for n in sans)
    except x509.ExtensionNotFound:
        names = ()
    not_after = min(ca.not_valid_after_utc, leaf.not_valid_after_utc)
    problem = _pair_problem(ca, leaf, key)
    if problem is None and not_after <= _now():
        problem = f"expired on {not_after:%Y-%m-%d}"
    return CertStatus(subject, ca_sha256, ca.not_valid_before_utc, not_after, leaf_names=names,
                      valid=problem is None, problem=problem)


def _pair_problem(ca: x509.Certificate, leaf: x509.Certificate, key: PrivateKeyTypes
                  ) -> str | None:
    """Why CA, leaf and key are not a usable Scanlet set (None when they are).

    A CA that is not Scanlet's counts as broken, so that ``ensure_certificate`` (run as the
    home's owner) replaces it with a genuine one; trust stores never get it either way.
    """
    try:
        verify_scanlet_ca(ca)
    except CertificateNotScanlet as exc:
        return f"ca.pem is not a Scanlet CA ({exc.detail['reason']})"
    try:
        leaf.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError) as exc:
        return f"leaf not signed by ca.pem ({type(exc).__name__})"
    if key.public_key() != leaf.public_key():
        return "server.key does not belong to server.pem"
    return None


_held = threading.local()


@contextlib.contextmanager
def cert_lock(home: Home) -> Iterator[None]:
    """Serialise changes to ``cert/`` between the service's task and the CLI (re-entrant).

    The lock file is opened read-only so that a lock file made under ``sudo`` still works for
    the owner of the home.
    """
    held: set[str] = getattr(_held, "folders", set())
    _held.folders = held
    key = str(home.cert)
    if key in held:
        yield
        return
    home.cert.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(home.cert / LOCK_FILE, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)  # releases the flock


def _check_owner(home: Home) -> None:
    """Refuse to write key files another user would own (e.g. ``sudo`` on a user's home)."""
    if not hasattr(os, "geteuid"):  # pragma: no cover - Windows
        return
    try:
        owner = home.cert.stat().st_uid
    except OSError:
        return
    if owner != os.geteuid():
        raise CertificateError(
            f"{home.cert} belongs to another user (uid {owner}); run this command as that "
            "user (without sudo) so the key stays theirs", folder=str(home.cert))


def ensure_certificate(home: Home, *, renew_before: dt.timedelta = RENEW_BEFORE
                       ) -> tuple[CertStatus, bool]:
    """The local certificate, generated when missing, broken or expiring; (status, generated).

    Does not touch trust stores: see ``scanlet.security.cert_task.check_certificates``.
    """
    with cert_lock(home):
        status = load_status(home)
        if status is not None and status.valid and not status.expires_within(renew_before):
            return status, False
        if status is not None:
            log.warning("local certificate needs renewal: %s",
                        status.problem or f"expires {status.not_after:%Y-%m-%d}")
        return generate_local_certificate(home), True


def uses_admin_certificate(settings: Settings) -> bool:
    return settings.tls_cert_file is not None and settings.tls_key_file is not None


def server_files(home: Home, settings: Settings) -> tuple[Path, Path]:
    """(certificate chain, key) for the HTTPS listener: the admin's, else the local leaf.

    Generates the local CA and leaf at first use (and when they are broken or expiring).
    """
    if uses_admin_certificate(settings):
        assert settings.tls_cert_file is not None and settings.tls_key_file is not None
        return settings.tls_cert_file, settings.tls_key_file
    ensure_certificate(home)
    paths = cert_paths(home)
    return paths.leaf, paths.key


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A TLS server context (TLS 1.2+) with the given chain and key; clear error when unusable."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    load_chain(context, cert_file, key_file)
    return context


def load_chain(context: ssl.SSLContext, cert_file: Path, key_file: Path) -> None:
    """(Re)load certificate and key into ``context``; new handshakes use them at once."""
    try:
        context.load_cert_chain(certfile=str(cert_file), keyfile=str(key_file))
    except (OSError, ssl.SSLError) as exc:
        raise CertificateError(
            f"cannot use TLS certificate {cert_file} with key {key_file}: {exc}; check [tls] "
            "cert_file and key_file, or run `scanlet cert renew` for the local certificate",
            cert_file=str(cert_file), key_file=str(key_file)) from exc


def certificate_sha256(path: Path) -> str | None:
    """SHA-256 of the first certificate in a PEM file (to notice a replaced file)."""
    try:
        return fingerprint(x509.load_pem_x509_certificate(path.read_bytes()))
    except (OSError, ValueError):
        return None


def admin_certificate_expiry(settings: Settings) -> dt.datetime | None:
    """When the admin's certificate expires (None if not configured or unreadable)."""
    if settings.tls_cert_file is None:
        return None
    try:
        return x509.load_pem_x509_certificate(
            settings.tls_cert_file.read_bytes()).not_valid_after_utc
    except (OSError, ValueError):
        return None
