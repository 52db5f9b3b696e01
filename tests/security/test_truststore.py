"""Trust stores: real NSS databases (certutil) in a throw-away user home; the macOS and Windows
commands through a recording runner with the same interface. Never the real ~ or /etc."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from scanlet.config import Home, Settings
from scanlet.errors import CertificateError
from scanlet.security import certs, truststore
from scanlet.security.cert_task import check_certificates, renew
from scanlet.security.truststore import (
    COMMAND_TIMEOUT,
    CommandResult,
    LinuxSystemStore,
    NssTool,
    discover_nss_dbs,
    run_command,
)

pytestmark = pytest.mark.skipif(not NssTool.available(), reason="certutil (libnss3-tools) missing")


def nss_db(path: Path) -> Path:
    NssTool().create_db(path)
    return path


def listed(db: Path) -> dict[str, str]:
    """Nickname -> trust flags, as certutil lists the database."""
    out = subprocess.run(["certutil", "-L", "-d", f"sql:{db}"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    rows = {}
    for line in out.splitlines()[4:]:
        if line.strip():
            name, flags = line.rsplit(None, 1)
            rows[name.strip()] = flags
    return rows


def scanlet_entries(db: Path) -> dict[str, str]:
    return {k: v for k, v in listed(db).items() if k.startswith("Scanlet local CA")}


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").create()


@pytest.fixture
def user(tmp_path: Path) -> Path:
    """A fake user home with a Firefox profile in each of the three places, one without NSS."""
    root = tmp_path / "user"
    for profile in (root / ".mozilla/firefox/abc.default-release",
                    root / "snap/firefox/common/.mozilla/firefox/snap.default",
                    root / ".var/app/org.mozilla.firefox/.mozilla/firefox/flat.default"):
        nss_db(profile)
    (root / ".mozilla/firefox/Crash Reports").mkdir(parents=True)  # not a profile
    return root


def firefox_dbs(user: Path) -> list[Path]:
    return [user / ".mozilla/firefox/abc.default-release",
            user / "snap/firefox/common/.mozilla/firefox/snap.default",
            user / ".var/app/org.mozilla.firefox/.mozilla/firefox/flat.default"]


def test_discovery_finds_profiles_in_all_places(user: Path) -> None:
    assert discover_nss_dbs(user, platform="linux") == firefox_dbs(user)
    nss_db(user / ".pki/nssdb")
    nss_db(user / "snap/chromium/current/.pki/nssdb")
    found = discover_nss_dbs(user, platform="linux")
    assert found[:2] == [user / ".pki/nssdb", user / "snap/chromium/current/.pki/nssdb"]
    assert discover_nss_dbs(user, platform="win32") == []


def test_install_new_profiles_renew_and_uninstall(home: Home, user: Path) -> None:
    report = truststore.install(home, user_home=user)
    chromium = user / ".pki/nssdb"
    assert (chromium / "cert9.db").is_file()  # created, Chromium on Linux reads it
    dbs = [chromium, *firefox_dbs(user)]
    assert sorted(report.added) == sorted(f"nss:{db}" for db in dbs)
    ca = certs.load_ca(home)
    assert ca is not None
    nickname = truststore.nss_nickname(certs.read_install_id(home), ca)
    for db in dbs:
        assert scanlet_entries(db) == {nickname: "C,,"}  # trusted for TLS servers only
    record = json.loads((home.cert / "trust.json").read_text())
    assert record["nss"]["nickname"] == nickname and record["user_home"] == str(user)
    assert sorted(record["nss"]["dbs"]) == sorted(str(db) for db in dbs)
    assert not truststore.install(home, user_home=user).added  # idempotent

    # A Firefox profile made after the install gets the CA at the next round of the task.
    late = nss_db(user / ".mozilla/firefox/late.profile")
    check = check_certificates(home, Settings())
    assert check.trust.added == [f"nss:{late}"]
    assert scanlet_entries(late) == {nickname: "C,,"}

    # Renewal replaces the old CA with the new one everywhere.
    status, trust = renew(home)
    new_ca = certs.load_ca(home)
    assert new_ca is not None and status.ca_sha256 != certs.fingerprint(ca)
    new_nickname = truststore.nss_nickname(certs.read_install_id(home), new_ca)
    for db in [*dbs, late]:
        assert scanlet_entries(db) == {new_nickname: "C,,"}
    assert len(trust.removed) == len(trust.added) == 5
    states = truststore.trust_status(home)
    assert len(states) == 5 and all(s.current for s in states)

    # Uninstall removes exactly what was installed; the databases themselves stay.
    report = truststore.uninstall(home)
    assert len(report.removed) == 5
    for db in [*dbs, late]:
        assert scanlet_entries(db) == {}
        assert (db / "cert9.db").is_file()
    assert not (home.cert / "trust.json").exists()
    assert not any(s.installed for s in truststore.trust_status(home, user_home=user))
    assert truststore.uninstall(home).removed == []


def test_two_installs_do_not_touch_each_other(tmp_path: Path, user: Path) -> None:
    first, second = Home(tmp_path / "a").create(), Home(tmp_path / "b").create()
    truststore.install(first, user_home=user)
    truststore.install(second, user_home=user)
    db = user / ".pki/nssdb"
    assert len(scanlet_entries(db)) == 2
    truststore.uninstall(first)
    left = scanlet_entries(db)
    assert len(left) == 1 and certs.read_install_id(second) in next(iter(left))


def test_profiles_are_not_touched_unless_installed_before(home: Home, user: Path) -> None:
    check_certificates(home, Settings(https=True), user_home=user)
    assert (home.cert / "ca.pem").exists()
    for db in firefox_dbs(user):
        assert scanlet_entries(db) == {}
    assert not (user / ".pki/nssdb").exists()


def test_linux_system_store_in_a_temporary_anchor_folder(home: Home, tmp_path: Path) -> None:
    """The file handling of the system store; `true` stands in for update-ca-certificates."""
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    store = LinuxSystemStore(anchors, ("true",))
    report = truststore.install(home, nss=False, system=True, store=store, platform="linux")
    target = anchors / f"scanlet-{certs.read_install_id(home)}.crt"
    assert report.added == [f"linux:{target}"]
    assert target.read_bytes() == (home.cert / "ca.pem").read_bytes()
    assert json.loads((home.cert / "trust.json").read_text())["nss"] is None

    renew(home, store=store)  # as root the system copy follows the new CA
    assert target.read_bytes() == (home.cert / "ca.pem").read_bytes()

    truststore.uninstall(home, store=store, platform="linux")
    assert not target.exists() and not (home.cert / "trust.json").exists()


def test_failing_update_command_is_reported(home: Home, tmp_path: Path) -> None:
    store = LinuxSystemStore(tmp_path, ("false",))
    with pytest.raises(CertificateError, match="updating the system store failed"):
        truststore.install(home, nss=False, system=True, store=store, platform="linux")


def test_runner_errors_are_certificate_errors() -> None:
    with pytest.raises(CertificateError, match="not installed"):
        run_command(["scanlet-no-such-command"])
    with pytest.raises(CertificateError, match="did not finish"):
        run_command(["sleep", "5"], timeout=0.2)
    assert run_command(["true"]).ok


class FakeRunner:
    """Records commands; answers like the real tools would for a store it keeps in memory."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.calls: list[tuple[str, ...]] = []
        self.store: set[str] = set()  # SHA-1 of certificates in the store
        self.read: dict[str, bytes] = {}  # the files given to the tools, as they read them

    def __call__(self, args: Sequence[str], *, timeout: float = COMMAND_TIMEOUT
                 ) -> CommandResult:
        argv = tuple(args)
        self.calls.append(argv)
        assert timeout > 0
        if argv[0] == "security":
            if argv[1] == "add-trusted-cert":
                self.read[argv[-1]] = Path(argv[-1]).read_bytes()
                self.store.add(_sha1_of(Path(argv[-1])))
            elif argv[1] == "delete-certificate":
                self.store.discard(argv[3])
            elif argv[1] == "find-certificate":
                return CommandResult(argv, 0, "".join(f"SHA-1 hash: {h}\n" for h in self.store))
            return CommandResult(argv, 0)
        if argv[0] == "certutil" and argv[1] == "-user":
            if argv[2] == "-addstore":
                self.read[argv[-1]] = Path(argv[-1]).read_bytes()
                self.store.add(_sha1_of(Path(argv[-1])))
            elif argv[2] == "-delstore":
                self.store.discard(argv[4])
            elif argv[2] == "-verifystore":
                return CommandResult(argv, 0 if argv[4] in self.store else 1)
            return CommandResult(argv, 0)
        return CommandResult(argv, 1, stderr="unexpected command")


def _sha1_of(pem: Path) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(pem.read_bytes())
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def test_macos_login_keychain_commands(home: Home, tmp_path: Path) -> None:
    runner = FakeRunner("darwin")
    user = tmp_path / "mac-user"
    keychain = str(user / "Library/Keychains/login.keychain-db")
    nss, system = truststore.default_targets(False, platform="darwin")
    assert (nss, system) == (True, True)
    truststore.install(home, user_home=user, nss=nss, system=system, runner=runner,
                       platform="darwin")
    [add] = [c for c in runner.calls if c[1] == "add-trusted-cert"]
    assert add[:-1] == ("security", "add-trusted-cert", "-r", "trustRoot", "-p", "ssl", "-k",
                        keychain)
    # A private copy of the verified CA, not cert/ca.pem that others could swap meanwhile.
    assert add[-1] != str(home.cert / "ca.pem")
    assert runner.read[add[-1]] == (home.cert / "ca.pem").read_bytes()
    assert len(runner.store) == 1
    sha1 = next(iter(runner.store))
    assert [s.current for s in truststore.trust_status(home, runner=runner, platform="darwin")
            ] == [True]

    # Renewal as the user replaces the keychain entry (no root needed there).
    renew(home, runner=runner, platform="darwin")
    assert len(runner.store) == 1 and sha1 not in runner.store

    runner.calls.clear()
    truststore.uninstall(home, runner=runner, platform="darwin")
    assert runner.store == set()
    assert runner.calls[0][:2] == ("security", "remove-trusted-cert")
    assert any(c[:3] == ("security", "delete-certificate", "-Z") and c[-1] == keychain
               for c in runner.calls)


def test_windows_user_root_store_commands(home: Home, tmp_path: Path) -> None:
    runner = FakeRunner("win32")
    truststore.install(home, user_home=tmp_path, nss=True, system=True, runner=runner,
                       platform="win32")
    assert runner.calls[0][:-1] == ("certutil", "-user", "-addstore", "Root")
    assert runner.calls[0][-1] != str(home.cert / "ca.pem")  # the verified private copy
    assert runner.read[runner.calls[0][-1]] == (home.cert / "ca.pem").read_bytes()
    assert not any("-A" in c or "-N" in c for c in runner.calls)  # no NSS on Windows
    sha1 = next(iter(runner.store))
    truststore.uninstall(home, runner=runner, platform="win32")
    assert ("certutil", "-user", "-delstore", "Root", sha1) in runner.calls
    assert runner.store == set()
    assert not (home.cert / "trust.json").exists()
