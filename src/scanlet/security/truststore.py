"""Putting the local CA into trust stores, and taking it out again.

Stores (reference/security.md 4.5):

- NSS databases of one user (Linux, and macOS with Homebrew's ``nss``): Chromium
  ``~/.pki/nssdb`` (created when missing, Chromium reads it), snap/flatpak Chromium, and every
  Firefox profile (plain, snap, flatpak). Changed with ``certutil`` from libnss3-tools, trust
  ``C,,`` (TLS servers only), under a nickname unique to this install and CA.
- The OS store: Linux system anchors (only on request, needs root), the macOS login keychain,
  the Windows current-user Root store.

What was installed is recorded in ``cert/trust.json`` so that uninstall removes exactly that,
the periodic task (``cert_task``) knows whether to add the CA to profiles that appear later, and
a renewed CA can replace the old one everywhere (:func:`refresh`).

Every command runs through a :class:`CommandRunner` (argument lists, timeouts, never a shell,
killed with the service: the worker-process kit, :mod:`scanlet.childproc`); tests of the
macOS/Windows commands pass a recording fake with the same interface.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from scanlet import childproc
from scanlet.childproc import CommandResult, CommandRunner
from scanlet.config import Home
from scanlet.errors import CertificateError
from scanlet.security import certs, homecheck

log = logging.getLogger(__name__)

TRUST_FILE = "trust.json"
NSS_TRUST = "C,,"  # a CA for TLS servers; nothing for e-mail or code signing
COMMAND_TIMEOUT = childproc.COMMAND_TIMEOUT


# --- running commands ---------------------------------------------------------------------


def run_command(args: Sequence[str], *, timeout: float = COMMAND_TIMEOUT) -> CommandResult:
    """The real runner (the worker-process kit's :func:`scanlet.childproc.run_command`),
    failing with CertificateError when the program is missing or does not finish."""
    return childproc.run_command(args, timeout=timeout, error=CertificateError)


# --- the record ---------------------------------------------------------------------------


@dataclass
class NssEntry:
    """The CA as installed in NSS databases: one nickname, the databases that got it."""

    nickname: str
    ca_sha256: str
    dbs: list[str] = field(default_factory=list)


@dataclass
class SystemEntry:
    """The CA as installed in an OS store; ``ref`` is what removal needs (path or SHA-1)."""

    kind: str
    name: str
    ref: str
    ca_sha256: str
    ca_pem: str


@dataclass
class TrustRecord:
    """Contents of ``cert/trust.json``."""

    user_home: str
    nss: NssEntry | None = None
    system: SystemEntry | None = None

    @property
    def empty(self) -> bool:
        return self.nss is None and self.system is None

    def to_json(self) -> str:
        return json.dumps({"version": 1, **asdict(self)}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> TrustRecord:
        data: dict[str, Any] = json.loads(text)
        nss = data.get("nss")
        system = data.get("system")
        return cls(user_home=str(data["user_home"]),
                   nss=NssEntry(**nss) if nss else None,
                   system=SystemEntry(**system) if system else None)


def trust_file(home: Home) -> Path:
    return home.cert / TRUST_FILE


def load_record(home: Home) -> TrustRecord | None:
    """The trust record, or None when nothing was installed (a broken file is an error)."""
    path = trust_file(home)
    try:
        return TrustRecord.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CertificateError(f"{path} is unreadable ({exc}); fix or delete it and remove the "
                               "Scanlet CA from your browsers by hand", file=str(path)) from exc


def save_record(home: Home, record: TrustRecord) -> None:
    path = trust_file(home)
    if record.empty:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(f".{TRUST_FILE}.{os.getpid()}.tmp")
    tmp.write_text(record.to_json(), encoding="utf-8")
    os.replace(tmp, path)


# --- NSS ----------------------------------------------------------------------------------


def nss_nickname(install_id: str, ca: x509.Certificate) -> str:
    """Unique per install and per CA, so a renewed CA never collides with the old one."""
    return f"Scanlet local CA {install_id} {certs.fingerprint(ca)[:12]}"


def chromium_db(user_home: Path) -> Path:
    return user_home / ".pki" / "nssdb"


def _firefox_roots(user_home: Path, platform: str) -> list[Path]:
    if platform == "darwin":
        return [user_home / "Library" / "Application Support" / "Firefox" / "Profiles"]
    return [user_home / ".mozilla" / "firefox",
            user_home / "snap" / "firefox" / "common" / ".mozilla" / "firefox",
            user_home / ".var" / "app" / "org.mozilla.firefox" / ".mozilla" / "firefox"]


def discover_nss_dbs(user_home: Path, *, platform: str = sys.platform) -> list[Path]:
    """Existing NSS databases (folders with ``cert9.db``) of the user living in ``user_home``."""
    if platform == "win32":
        return []
    found: list[Path] = []
    if platform != "darwin":
        found += [chromium_db(user_home),
                  user_home / "snap" / "chromium" / "current" / ".pki" / "nssdb",
                  user_home / ".var" / "app" / "org.chromium.Chromium" / ".pki" / "nssdb"]
    for root in _firefox_roots(user_home, platform):
        try:
            found += sorted(p for p in root.iterdir() if p.is_dir())
        except OSError:
            continue
    return [db for db in found if (db / "cert9.db").is_file()]


class NssTool:
    """``certutil`` (NSS) on databases given by folder."""

    def __init__(self, runner: CommandRunner = run_command, certutil: str | None = None) -> None:
        self.runner = runner
        self.certutil = certutil or shutil.which("certutil") or "certutil"

    @staticmethod
    def available() -> bool:
        """NSS certutil exists (on Windows ``certutil`` is Microsoft's, never NSS's)."""
        return sys.platform != "win32" and shutil.which("certutil") is not None

    def _run(self, *args: str) -> CommandResult:
        return self.runner([self.certutil, *args])

    def create_db(self, db: Path) -> None:
        db.mkdir(parents=True, exist_ok=True, mode=0o700)
        result = self._run("-N", "--empty-password", "-d", f"sql:{db}")
        if not result.ok:
            raise CertificateError(f"cannot create NSS database {db}: {result.describe()}")

    def contains(self, db: Path, nickname: str) -> bool:
        return self._run("-L", "-d", f"sql:{db}", "-n", nickname).ok

    def add(self, db: Path, nickname: str, ca_file: Path) -> None:
        result = self._run("-A", "-d", f"sql:{db}", "-t", NSS_TRUST, "-n", nickname,
                           "-i", str(ca_file))
        if not result.ok:
            raise CertificateError(f"cannot add the CA to {db}: {result.describe()}", db=str(db))

    def remove(self, db: Path, nickname: str) -> None:
        """Delete every certificate under ``nickname`` (a no-op when there is none)."""
        for _ in range(8):  # NSS deletes one certificate per call
            if not self.contains(db, nickname):
                return
            result = self._run("-D", "-d", f"sql:{db}", "-n", nickname)
            if not result.ok:
                raise CertificateError(f"cannot remove the CA from {db}: {result.describe()}",
                                       db=str(db))


# --- OS stores ----------------------------------------------------------------------------


class SystemStore(Protocol):
    """One OS trust store."""

    kind: str
    needs_root: bool

    def install(self, ca_file: Path, ca: x509.Certificate, name: str) -> SystemEntry: ...

    def uninstall(self, entry: SystemEntry) -> None: ...

    def contains(self, entry: SystemEntry) -> bool: ...


def _sha1(ca: x509.Certificate) -> str:
    return ca.fingerprint(hashes.SHA1()).hex().upper()  # the stores' lookup key


def _pem(ca: x509.Certificate) -> str:
    return ca.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _entry(kind: str, name: str, ref: str, ca: x509.Certificate) -> SystemEntry:
    return SystemEntry(kind=kind, name=name, ref=ref, ca_sha256=certs.fingerprint(ca),
                       ca_pem=_pem(ca))


@contextmanager
def _pem_file(pem: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="scanlet-ca-") as folder:
        path = Path(folder) / "ca.pem"
        path.write_text(pem, encoding="ascii")
        yield path


class LinuxSystemStore:
    """``/usr/local/share/ca-certificates`` + ``update-ca-certificates`` (Debian/Ubuntu), or
    ``/etc/pki/ca-trust/source/anchors`` + ``update-ca-trust`` (Fedora/RHEL). Needs root."""

    kind = "linux"
    needs_root = True

    def __init__(self, anchors: Path, update: Sequence[str],
                 runner: CommandRunner = run_command) -> None:
        self.anchors = anchors
        self.update = tuple(update)
        self.runner = runner

    @classmethod
    def detect(cls, runner: CommandRunner = run_command) -> LinuxSystemStore | None:
        for anchors, update in ((Path("/usr/local/share/ca-certificates"),
                                 ("update-ca-certificates",)),
                                (Path("/etc/pki/ca-trust/source/anchors"),
                                 ("update-ca-trust", "extract"))):
            if anchors.is_dir() and shutil.which(update[0]):
                return cls(anchors, update, runner)
        return None

    def _refresh(self) -> None:
        result = self.runner(self.update)
        if not result.ok:
            raise CertificateError(f"updating the system store failed: {result.describe()}")

    def install(self, ca_file: Path, ca: x509.Certificate, name: str) -> SystemEntry:
        _require_root(f"writing to {self.anchors}", "install")
        target = self.anchors / f"{name}.crt"
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        tmp.chmod(0o644)
        os.replace(tmp, target)
        self._refresh()
        return _entry(self.kind, name, str(target), ca)

    def uninstall(self, entry: SystemEntry) -> None:
        _require_root(f"removing {entry.ref}", "uninstall")
        Path(entry.ref).unlink(missing_ok=True)
        self._refresh()

    def contains(self, entry: SystemEntry) -> bool:
        try:
            return Path(entry.ref).read_text(encoding="ascii") == entry.ca_pem
        except OSError:
            return False


class MacLoginKeychain:
    """The user's login keychain, trusted for SSL only (Safari, Chrome, Firefox >= 120)."""

    kind = "macos"
    needs_root = False

    def __init__(self, user_home: Path, runner: CommandRunner = run_command) -> None:
        self.keychain = user_home / "Library" / "Keychains" / "login.keychain-db"
        self.runner = runner

    def install(self, ca_file: Path, ca: x509.Certificate, name: str) -> SystemEntry:
        result = self.runner(["security", "add-trusted-cert", "-r", "trustRoot", "-p", "ssl",
                              "-k", str(self.keychain), str(ca_file)])
        if not result.ok:
            raise CertificateError(f"cannot add the CA to the login keychain: "
                                   f"{result.describe()}")
        return _entry(self.kind, name, _sha1(ca), ca)

    def uninstall(self, entry: SystemEntry) -> None:
        with _pem_file(entry.ca_pem) as pem:
            self.runner(["security", "remove-trusted-cert", str(pem)])  # trust settings
        if not self.contains(entry):
            return
        result = self.runner(["security", "delete-certificate", "-Z", entry.ref,
                              str(self.keychain)])
        if not result.ok:
            raise CertificateError(f"cannot remove the CA from the login keychain: "
                                   f"{result.describe()}")

    def contains(self, entry: SystemEntry) -> bool:
        result = self.runner(["security", "find-certificate", "-a", "-Z", str(self.keychain)])
        return result.ok and entry.ref.upper() in result.stdout.upper()


class WindowsUserRoot:
    """The current user's Root store (Edge, Chrome, Firefox >= 120); Windows may ask to confirm."""

    kind = "windows"
    needs_root = False

    def __init__(self, runner: CommandRunner = run_command) -> None:
        self.runner = runner

    def install(self, ca_file: Path, ca: x509.Certificate, name: str) -> SystemEntry:
        result = self.runner(["certutil", "-user", "-addstore", "Root", str(ca_file)])
        if not result.ok:
            raise CertificateError(f"cannot add the CA to the Windows Root store: "
                                   f"{result.describe()}")
        return _entry(self.kind, name, _sha1(ca), ca)

    def uninstall(self, entry: SystemEntry) -> None:
        if not self.contains(entry):
            return
        result = self.runner(["certutil", "-user", "-delstore", "Root", entry.ref])
        if not result.ok:
            raise CertificateError(f"cannot remove the CA from the Windows Root store: "
                                   f"{result.describe()}")

    def contains(self, entry: SystemEntry) -> bool:
        return self.runner(["certutil", "-user", "-verifystore", "Root", entry.ref]).ok


def os_store(user_home: Path, *, platform: str = sys.platform,
             runner: CommandRunner = run_command) -> SystemStore | None:
    """The OS store for this platform, or None when Scanlet does not know how to use it."""
    if platform == "darwin":
        return MacLoginKeychain(user_home, runner)
    if platform == "win32":
        return WindowsUserRoot(runner)
    return LinuxSystemStore.detect(runner)


def _require_root(what: str, command: str) -> None:
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        raise CertificateError(
            f"{what} needs root: run `sudo scanlet cert {command} --system --home <your home>`"
            " (the browsers' own stores need no root)")


# --- install / uninstall / refresh ----------------------------------------------------------


def default_targets(system_flag: bool, platform: str = sys.platform) -> tuple[bool, bool]:
    """(nss, system) for ``scanlet cert install|uninstall [--system]``.

    macOS and Windows: the user's OS store is what browsers read, so it is always included.
    Linux: the user's NSS databases; ``--system`` means the system anchors only (run as root,
    without touching root's own browser databases).
    """
    if platform in ("darwin", "win32"):
        return True, True
    return (not system_flag), system_flag


@dataclass
class TrustReport:
    """What one operation did; ``errors`` are per-store failures that did not stop the rest."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextmanager
def verified_ca(home: Home) -> Iterator[tuple[x509.Certificate, Path]]:
    """The local CA, refused unless it is exactly Scanlet's (``certs.verify_scanlet_ca``) and
    ``cert/`` and ``ca.pem`` belong to you (or root, or the ``sudo`` caller) and nobody else
    can write them; with a private copy of it for the store tools.

    Every path into a trust store goes through here. The tools get the copy, never
    ``cert/ca.pem`` itself, so a file swapped after the check is not what they read.
    """
    path = certs.cert_paths(home).ca
    homecheck.check_path(home.cert)
    homecheck.check_path(path)
    try:
        ca = x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        raise CertificateError(f"no local CA in {home.cert}; run `scanlet cert renew` first",
                               file=str(path)) from None
    except (OSError, ValueError) as exc:
        raise CertificateError(f"cannot read {path} ({exc}); run `scanlet cert renew`",
                               file=str(path)) from exc
    certs.verify_scanlet_ca(ca)
    with _pem_file(_pem(ca)) as copy:
        yield ca, copy


def _nss_install(home: Home, record: TrustRecord, ca: x509.Certificate, ca_file: Path,
                 dbs: Iterable[Path], tool: NssTool, report: TrustReport) -> None:
    """Add the current CA to ``dbs`` (skipping those that have it) and record them."""
    nickname = nss_nickname(certs.read_install_id(home), ca)
    entry = record.nss
    if entry is None or entry.nickname != nickname:
        entry = NssEntry(nickname=nickname, ca_sha256=certs.fingerprint(ca),
                         dbs=list(entry.dbs) if entry else [])
        record.nss = entry
    for db in dbs:
        try:
            if not tool.contains(db, nickname):
                tool.add(db, nickname, ca_file)
                report.added.append(f"nss:{db}")
            if str(db) not in entry.dbs:
                entry.dbs.append(str(db))
        except CertificateError as exc:
            report.errors.append(exc.message)


def _nss_remove(entry: NssEntry, dbs: Iterable[Path], tool: NssTool, report: TrustReport
                ) -> list[str]:
    """Remove ``entry.nickname`` from ``dbs``; the databases it could not be removed from."""
    left = []
    for db in dbs:
        if not (db / "cert9.db").is_file():
            continue  # the profile is gone, and the CA with it
        try:
            if tool.contains(db, entry.nickname):
                tool.remove(db, entry.nickname)
                report.removed.append(f"nss:{db}")
        except CertificateError as exc:
            report.errors.append(exc.message)
            left.append(str(db))
    return left


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: dict[str, Path] = {}
    for path in paths:
        seen.setdefault(str(path), path)
    return list(seen.values())


def install(home: Home, *, user_home: Path | None = None, nss: bool = True,
            system: bool = False, runner: CommandRunner = run_command,
            store: SystemStore | None = None, platform: str = sys.platform) -> TrustReport:
    """Trust the local CA in the user's NSS databases (``nss``) and/or the OS store (``system``).

    Creates the Chromium database when missing. Generates the CA when there is none yet.
    Raises CertificateNotScanlet (and installs nothing) when ``ca.pem`` is not exactly the CA
    Scanlet makes, UnsafeHome when others could have written it, CertificateError when
    nothing could be installed.
    """
    user_home = user_home or Path.home()
    report = TrustReport()
    with certs.cert_lock(home):
        existing = certs.load_ca(home)
        if existing is not None:  # refuse loudly rather than replace it without a word
            certs.verify_scanlet_ca(existing)
        certs.ensure_certificate(home)
        with verified_ca(home) as (ca, ca_file):
            _install(home, ca, ca_file, user_home=user_home, nss=nss, system=system,
                     runner=runner, store=store, platform=platform, report=report)
    if not report.added and report.errors:
        raise CertificateError("; ".join(report.errors))
    return report


def _install(home: Home, ca: x509.Certificate, ca_file: Path, *, user_home: Path, nss: bool,
             system: bool, runner: CommandRunner, store: SystemStore | None, platform: str,
             report: TrustReport) -> None:
    """:func:`install` with the verified CA and its private copy."""
    record = load_record(home) or TrustRecord(user_home=str(user_home))
    if nss:
        record.user_home = str(user_home)
    refresh(home, runner=runner, store=store, platform=platform, report=report,
            record=record, nss=nss, system=system)
    if nss and platform != "win32":  # Windows has no NSS certutil; Firefox uses the OS store
        if NssTool.available():
            tool = NssTool(runner)
            dbs = discover_nss_dbs(user_home, platform=platform)
            chromium = chromium_db(user_home)
            if platform != "darwin" and chromium not in dbs:
                try:
                    tool.create_db(chromium)
                    dbs.insert(0, chromium)
                except CertificateError as exc:
                    report.errors.append(exc.message)
            _nss_install(home, record, ca, ca_file, dbs, tool, report)
        elif platform != "darwin":  # on macOS the login keychain covers the browsers
            raise CertificateError("certutil is missing: install libnss3-tools "
                                   "(Debian/Ubuntu) or nss (Fedora, Homebrew)")
    try:
        if system:
            _system_install(home, record, ca, ca_file, report,
                            store or os_store(user_home, platform=platform, runner=runner))
    finally:
        save_record(home, record)


def _system_install(home: Home, record: TrustRecord, ca: x509.Certificate, ca_file: Path,
                    report: TrustReport, store: SystemStore | None) -> None:
    if store is None:
        raise CertificateError("Scanlet does not know this system's trust store; add "
                               f"{certs.cert_paths(home).ca} to it by hand")
    name = f"scanlet-{certs.read_install_id(home)}"
    if record.system is not None and record.system.ca_sha256 != certs.fingerprint(ca):
        store.uninstall(record.system)
        report.removed.append(f"{record.system.kind}:{record.system.ref}")
        record.system = None
    if record.system is None or not store.contains(record.system):
        record.system = store.install(ca_file, ca, name)
        report.added.append(f"{record.system.kind}:{record.system.ref}")


def uninstall(home: Home, *, nss: bool = True, system: bool = True,
              runner: CommandRunner = run_command, store: SystemStore | None = None,
              platform: str = sys.platform) -> TrustReport:
    """Remove every entry ``trust.json`` lists (and the nickname from any other database of
    the same user). What cannot be removed stays recorded, and the call raises."""
    report = TrustReport()
    with certs.cert_lock(home):
        record = load_record(home)
        if record is None:
            return report
        user_home = Path(record.user_home)
        if nss and record.nss is not None:
            tool = NssTool(runner)
            dbs = _unique([Path(d) for d in record.nss.dbs]
                          + discover_nss_dbs(user_home, platform=platform))
            left = _nss_remove(record.nss, dbs, tool, report)
            record.nss = NssEntry(record.nss.nickname, record.nss.ca_sha256, left) \
                if left else None
        if system and record.system is not None:
            store = store or os_store(user_home, platform=platform, runner=runner)
            try:
                if store is None or store.kind != record.system.kind:
                    raise CertificateError(f"cannot reach the {record.system.kind} store "
                                           f"holding {record.system.ref}")
                store.uninstall(record.system)
                report.removed.append(f"{record.system.kind}:{record.system.ref}")
                record.system = None
            except CertificateError as exc:
                report.errors.append(exc.message)
        save_record(home, record)
    if report.errors:
        raise CertificateError("not everything could be removed: " + "; ".join(report.errors),
                               removed=report.removed)
    return report


def refresh(home: Home, *, runner: CommandRunner = run_command,
            store: SystemStore | None = None, platform: str = sys.platform,
            report: TrustReport | None = None, record: TrustRecord | None = None,
            nss: bool = True, system: bool = True) -> TrustReport:
    """After a renewal: replace the old CA with the current one wherever it was installed.

    An OS store that needs root keeps the old entry (and a warning) until
    ``sudo scanlet cert install --system`` runs. Raises CertificateNotScanlet or UnsafeHome
    (and changes nothing) when the current ``ca.pem`` is not one to trust.
    """
    report = report if report is not None else TrustReport()
    with certs.cert_lock(home):
        own_record = record is None
        record = record if record is not None else load_record(home)
        if record is None or not certs.cert_paths(home).ca.exists():
            return report
        with verified_ca(home) as (ca, ca_file):
            _refresh(home, record, ca, ca_file, runner=runner, store=store, platform=platform,
                     report=report, nss=nss, system=system)
        if own_record:
            save_record(home, record)
    for problem in report.errors:
        log.warning("trust store: %s", problem)
    return report


def _refresh(home: Home, record: TrustRecord, ca: x509.Certificate, ca_file: Path, *,
             runner: CommandRunner, store: SystemStore | None, platform: str,
             report: TrustReport, nss: bool, system: bool) -> None:
    """:func:`refresh` with the verified CA and its private copy."""
    current = certs.fingerprint(ca)
    if nss and record.nss is not None and record.nss.ca_sha256 != current:
        tool = NssTool(runner)
        old = record.nss
        dbs = [Path(d) for d in old.dbs if (Path(d) / "cert9.db").is_file()]
        _nss_remove(old, dbs, tool, report)
        record.nss = None
        _nss_install(home, record, ca, ca_file, dbs, tool, report)
    if system and record.system is not None and record.system.ca_sha256 != current:
        store = store or os_store(Path(record.user_home), platform=platform, runner=runner)
        if store is None or (store.needs_root and hasattr(os, "geteuid")
                             and os.geteuid() != 0):
            report.errors.append(
                f"the {record.system.kind} store still trusts the old Scanlet CA; run "
                "`sudo scanlet cert install --system --home <your home>` to replace it")
        else:
            try:
                store.uninstall(record.system)
                report.removed.append(f"{record.system.kind}:{record.system.ref}")
                record.system = store.install(ca_file, ca, record.system.name)
                report.added.append(f"{record.system.kind}:{record.system.ref}")
            except CertificateError as exc:
                report.errors.append(exc.message)


def install_new_profiles(home: Home, *, user_home: Path | None = None,
                         runner: CommandRunner = run_command, platform: str = sys.platform
                         ) -> TrustReport:
    """Add the CA to NSS databases of the recorded user that do not have it yet (new Firefox
    or Chromium profiles). Does nothing unless the CA was installed into NSS before."""
    report = TrustReport()
    with certs.cert_lock(home):
        record = load_record(home)
        if record is None or record.nss is None or not NssTool.available() \
                or not certs.cert_paths(home).ca.exists():
            return report
        with verified_ca(home) as (ca, ca_file):
            if certs.fingerprint(ca) != record.nss.ca_sha256:
                return report  # refresh() first
            dbs = discover_nss_dbs(user_home or Path(record.user_home), platform=platform)
            _nss_install(home, record, ca, ca_file, dbs, NssTool(runner), report)
        save_record(home, record)
    return report


# --- status -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreState:
    store: str
    installed: bool
    current: bool


def trust_status(home: Home, *, user_home: Path | None = None,
                 runner: CommandRunner = run_command, store: SystemStore | None = None,
                 platform: str = sys.platform) -> list[StoreState]:
    """For every known store: does it hold the current CA (``current``) or an older one?"""
    record = load_record(home)
    ca = certs.load_ca(home)
    current = certs.fingerprint(ca) if ca is not None else None
    user_home = user_home or (Path(record.user_home) if record else Path.home())
    states: list[StoreState] = []
    if NssTool.available():
        tool = NssTool(runner)
        nick = nss_nickname(certs.read_install_id(home), ca) if ca is not None else None
        old = record.nss.nickname if record and record.nss else None
        recorded = [Path(d) for d in record.nss.dbs] if record and record.nss else []
        for db in _unique(recorded + discover_nss_dbs(user_home, platform=platform)):
            if not (db / "cert9.db").is_file():
                continue
            has_new = nick is not None and tool.contains(db, nick)
            has_old = old is not None and old != nick and tool.contains(db, old)
            states.append(StoreState(f"nss:{db}", has_new or has_old, has_new))
    if record is not None and record.system is not None:
        store = store or os_store(user_home, platform=platform, runner=runner)
        there = store is not None and store.contains(record.system)
        states.append(StoreState(f"{record.system.kind}:{record.system.ref}", there,
                                 there and record.system.ca_sha256 == current))
    return states
