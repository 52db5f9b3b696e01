"""Only exactly Scanlet's CA goes into a trust store (issue 14, item 2).

``cert/ca.pem`` lives in the user's home, so a program running as the user can replace it with
a CA whose key it holds. Every path into a store (NSS databases via the real certutil, the Linux
system anchors in a temporary folder, the macOS/Windows commands through a recording runner,
the renewal task) must refuse such a CA and install nothing, while the genuine CA installs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from scanlet.config import Home, Settings
from scanlet.errors import CertificateNotScanlet, UnsafeHome
from scanlet.security import certs, truststore
from scanlet.security.cert_task import check_certificates
from scanlet.security.truststore import LinuxSystemStore, NssTool
from tests.security.test_truststore import FakeRunner, nss_db, scanlet_entries

pytestmark = pytest.mark.skipif(not NssTool.available(), reason="certutil (libnss3-tools) missing")

Change = Callable[["CaSpec"], None]


class CaSpec:
    """Everything :func:`certs.make_constrained_ca` decides, one field per property, so that a
    hostile CA differs from the genuine one in exactly one."""

    def __init__(self) -> None:
        self.lifetime = certs.MAX_LIFETIME
        self.basic = certs.CA_BASIC_CONSTRAINTS
        self.basic_critical = True
        self.key_usage = certs.CA_KEY_USAGE
        self.permitted: list[x509.GeneralName] | None = list(certs.PERMITTED_SUBTREES)
        self.excluded: list[x509.GeneralName] | None = None
        self.constraints_critical = True
        self.extra: list[x509.ExtensionType] = []
        self.foreign_signer = False


def build_ca(change: Change | None = None) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    spec = CaSpec()
    if change is not None:
        change(spec)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, certs.CA_ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Scanlet local CA 0badc0de")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + spec.lifetime)
        .add_extension(spec.basic, critical=spec.basic_critical)
        .add_extension(spec.key_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
    )
    if spec.permitted is not None or spec.excluded is not None:
        builder = builder.add_extension(
            x509.NameConstraints(permitted_subtrees=spec.permitted,
                                 excluded_subtrees=spec.excluded),
            critical=spec.constraints_critical)
    for extension in spec.extra:
        builder = builder.add_extension(extension, critical=False)
    signer = ec.generate_private_key(ec.SECP256R1()) if spec.foreign_signer else key
    return builder.sign(signer, hashes.SHA256()), key


def _set(**values: object) -> Change:
    def change(spec: CaSpec) -> None:
        for name, value in values.items():
            setattr(spec, name, value)
    return change


def _add_subtree(name: x509.GeneralName) -> Change:
    def change(spec: CaSpec) -> None:
        assert spec.permitted is not None
        spec.permitted.append(name)
    return change


HOSTILE: dict[str, Change] = {
    "no name constraints": _set(permitted=None),
    "non-critical name constraints": _set(constraints_critical=False),
    "also permits 0.0.0.0/0": _add_subtree(x509.IPAddress(ipaddress.ip_network("0.0.0.0/0"))),
    "also permits .com": _add_subtree(x509.DNSName(".com")),
    "permits only localhost": _set(permitted=[x509.DNSName("localhost")]),
    "with excluded subtrees": _set(excluded=[x509.DNSName("example.com")]),
    "path length unlimited": _set(basic=x509.BasicConstraints(ca=True, path_length=None)),
    "non-critical basic constraints": _set(basic_critical=False),
    "20-year validity": _set(lifetime=dt.timedelta(days=20 * 365)),
    "key usage with digitalSignature": _set(key_usage=x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False)),
    "extra extended key usage": _set(extra=[x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH])]),
    "not self-signed": _set(foreign_signer=True),
}


def plant(home: Home, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> bytes:
    """Replace the home's CA, leaf and key, as a program running as the user could."""
    leaf, leaf_key = certs.sign_leaf(ca, ca_key)
    paths = certs.cert_paths(home)
    paths.key.write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    paths.leaf.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    pem = ca.public_bytes(serialization.Encoding.PEM)
    paths.ca.write_bytes(pem)
    return pem


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").create()


@pytest.fixture
def user(tmp_path: Path) -> Path:
    root = tmp_path / "user"
    nss_db(root / ".mozilla/firefox/abc.default-release")
    return root


def all_dbs(user: Path) -> list[Path]:
    return [p.parent for p in user.rglob("cert9.db")]


def test_the_builder_makes_a_genuine_ca_without_changes() -> None:
    ca, _ = build_ca()
    certs.verify_scanlet_ca(ca)  # so each hostile CA below differs in exactly its one change
    certs.verify_scanlet_ca(certs.make_constrained_ca("Scanlet local CA x")[0])


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_verify_refuses(kind: str) -> None:
    ca, _ = build_ca(HOSTILE[kind])
    with pytest.raises(CertificateNotScanlet) as caught:
        certs.verify_scanlet_ca(ca)
    assert caught.value.code == "certificate_not_scanlet"
    assert caught.value.detail["sha256"] == certs.fingerprint(ca)


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_no_install_path_takes_a_hostile_ca(kind: str, home: Home, user: Path,
                                            tmp_path: Path) -> None:
    pem = plant(home, *build_ca(HOSTILE[kind]))
    anchors = tmp_path / "anchors"
    anchors.mkdir()

    # NSS databases of the user (real certutil).
    with pytest.raises(CertificateNotScanlet):
        truststore.install(home, user_home=user)
    assert all(scanlet_entries(db) == {} for db in all_dbs(user))
    assert not (user / ".pki/nssdb").exists()  # not even the Chromium database was made
    # The system anchors (`sudo scanlet cert install --system`).
    store = LinuxSystemStore(anchors, ("true",))
    with pytest.raises(CertificateNotScanlet):
        truststore.install(home, nss=False, system=True, store=store, platform="linux")
    assert list(anchors.iterdir()) == []
    # The macOS login keychain and the Windows Root store.
    for platform in ("darwin", "win32"):
        runner = FakeRunner(platform)
        with pytest.raises(CertificateNotScanlet):
            truststore.install(home, user_home=tmp_path / platform, nss=True, system=True,
                               runner=runner, platform=platform)
        assert runner.calls == [] and runner.store == set()
    # Refused, not silently replaced: the user learns that something wrote to the home.
    assert certs.cert_paths(home).ca.read_bytes() == pem
    assert not truststore.trust_file(home).exists()


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_the_renewal_paths_keep_the_genuine_ca(kind: str, home: Home, user: Path,
                                               tmp_path: Path) -> None:
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    store = LinuxSystemStore(anchors, ("true",))
    truststore.install(home, user_home=user)
    truststore.install(home, nss=False, system=True, store=store, platform="linux")
    genuine = certs.load_ca(home)
    assert genuine is not None
    nickname = truststore.nss_nickname(certs.read_install_id(home), genuine)
    [anchor] = anchors.iterdir()
    before = anchor.read_bytes()

    hostile_ca, hostile_key = build_ca(HOSTILE[kind])
    plant(home, hostile_ca, hostile_key)
    late = nss_db(user / ".mozilla/firefox/late.profile")
    with pytest.raises(CertificateNotScanlet):  # what renew() and every task round call
        truststore.refresh(home, store=store)
    with pytest.raises(CertificateNotScanlet):  # new profiles, every task round
        truststore.install_new_profiles(home)
    assert anchor.read_bytes() == before and list(anchors.iterdir()) == [anchor]
    for db in all_dbs(user):
        assert scanlet_entries(db) == ({} if db == late else {nickname: "C,,"})

    # A task round (as the user) treats the CA as broken: it makes a genuine one and moves the
    # NSS databases to it. The hostile CA is in no store at any point. (The system store is
    # left out here: the task would look for the real one.)
    record = truststore.load_record(home)
    assert record is not None
    record.system = None
    truststore.save_record(home, record)
    report = check_certificates(home, Settings())
    assert report.renewed
    renewed = certs.load_ca(home)
    assert renewed is not None and certs.fingerprint(renewed) not in (
        certs.fingerprint(genuine), certs.fingerprint(hostile_ca))
    certs.verify_scanlet_ca(renewed)
    new_nickname = truststore.nss_nickname(certs.read_install_id(home), renewed)
    for db in all_dbs(user):
        assert scanlet_entries(db) == {new_nickname: "C,,"}


def test_the_genuine_ca_installs_everywhere(home: Home, user: Path, tmp_path: Path) -> None:
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    report = truststore.install(home, user_home=user)
    assert len(report.added) == 2
    report = truststore.install(home, nss=False, system=True,
                                store=LinuxSystemStore(anchors, ("true",)), platform="linux")
    [anchor] = anchors.iterdir()
    assert report.added == [f"linux:{anchor}"]
    assert anchor.read_bytes() == certs.cert_paths(home).ca.read_bytes()


def test_a_ca_file_others_could_write_is_refused(home: Home, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root to hand the file to another user")
    certs.ensure_certificate(home)
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    store = LinuxSystemStore(anchors, ("true",))
    ca_file = certs.cert_paths(home).ca

    def system_install() -> None:
        truststore.install(home, nss=False, system=True, store=store, platform="linux")

    ca_file.chmod(0o666)
    with pytest.raises(UnsafeHome, match=r"ca\.pem is writable by group and others"):
        system_install()
    ca_file.chmod(0o644)
    os.chown(ca_file, 65534, 65534)
    monkeypatch.delenv("SUDO_UID", raising=False)
    with pytest.raises(UnsafeHome, match=r"belongs to .*uid 65534"):
        system_install()
    assert list(anchors.iterdir()) == []
    # Under sudo, the invoking user's own file is fine.
    monkeypatch.setenv("SUDO_UID", "65534")
    system_install()
    assert len(list(anchors.iterdir())) == 1


def test_cli_install_refuses_with_the_stable_code(home: Home, tmp_path: Path) -> None:
    pem = plant(home, *build_ca(HOSTILE["also permits 0.0.0.0/0"]))
    user = tmp_path / "user"
    env = {**os.environ, "HOME": str(user), "COLUMNS": "300"}
    env.pop("SCANLET_HOME", None)
    result = subprocess.run([sys.executable, "-m", "scanlet", "cert", "install", "--home",
                             str(home.root)], capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL, env=env)
    assert result.returncode == 9, result.stderr
    assert "certificate_not_scanlet" in result.stderr and "0.0.0.0/0" in result.stderr
    assert not (user / ".pki").exists()
    assert certs.cert_paths(home).ca.read_bytes() == pem
