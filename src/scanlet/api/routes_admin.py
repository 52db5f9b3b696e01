"""Administration endpoints (scope ``admin``): the service's status, versions and log.

``GET /v1/admin/status`` is what Scanlet's own ``/admin`` and ``/`` pages show: version,
uptime, data folder, the sockets actually bound, the HTTPS certificate and the log level. It
names local paths, hence the ``admin`` scope (never granted to other sites' pages).

``GET /v1/admin/version`` adds to the public ``/v1/version`` what only the administrator
needs: the build, the kernel release, Python and the main libraries' versions.

``PUT /v1/admin/log`` changes the log level at once, in the service and in every running scan
worker (new workers start with it). The change lasts until the service stops: ``[log] level``
in the config is the persistent setting.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography import x509
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from scanlet import __version__
from scanlet.api.routes_system import build_id, platform_details
from scanlet.config import is_remote
from scanlet.core import logs
from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.errors import ScanletError
from scanlet.security import certs, truststore

router = APIRouter(prefix="/v1/admin", tags=["admin"])
Rt = Annotated[Runtime, Depends(runtime)]
log = logging.getLogger(__name__)


class LogSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        description="The level in force now (Scanlet's loggers and the scan workers)")
    configured_level: str = Field(description="`[log] level`: the level after a restart")
    format: Literal["text", "json"]
    file: str | None = Field(description="The current log file (rotated files sit beside it)")
    max_mb: int
    backups: int
    requests: bool = Field(description="Whether every request is logged (`[log] requests`)")


class LogLevelChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: str = Field(max_length=20, description="DEBUG, INFO, WARNING or ERROR "
                       "(case-insensitive)")


def _settings(rt: Runtime) -> LogSettings:
    state = logs.current()
    settings = rt.settings
    return LogSettings.model_validate({
        "level": state.level, "configured_level": settings.log_level, "format": state.format,
        "file": str(state.file) if state.file else None, "max_mb": settings.log_max_mb,
        "backups": settings.log_backups, "requests": settings.log_requests})


@router.get("/log", summary="The service log: level in force, format, file")
def get_log(rt: Rt) -> LogSettings:
    return _settings(rt)


@router.put("/log", summary="Change the log level now, without a restart (not persisted)")
async def put_log(body: LogLevelChange, rt: Rt) -> LogSettings:
    before = logs.current().level
    level = logs.check_level(body.level)  # InvalidSetting (422) for an unknown level
    # The line goes out under the more verbose of the two levels.
    quieter = logging.getLevelName(level) > logging.getLevelName(before)
    if quieter:
        log.info("log level changed from %s to %s", before, level)
    logs.set_level(level)
    if not quieter:
        log.info("log level changed from %s to %s", before, level)
    await rt.devices.set_log_level(level)
    return _settings(rt)


# Status ---------------------------------------------------------------------------------


class ListenerInfo(BaseModel):
    """A socket the service is listening on."""

    scheme: Literal["http", "https"]
    host: str = Field(description="The bound address: `127.0.0.1`, `::1`, ...")
    port: int = Field(description="The bound port (the real one when configured as 0)")
    url: str


class CertificateInfo(BaseModel):
    """The certificate the HTTPS listener uses (or would use when turned on)."""

    source: Literal["local", "admin"] = Field(
        description="`local`: the per-install CA's leaf in `cert/`; `admin`: `[tls] cert_file`")
    path: str = Field(description="The certificate file")
    subject: str
    issuer: str
    names: list[str] = Field(description="Subject alternative names")
    not_before: dt.datetime
    not_after: dt.datetime = Field(description="For `local`: the earlier of the leaf's and the "
                                               "CA's expiry")
    days_left: int = Field(description="Whole days until `not_after` (negative once expired)")
    sha256: str = Field(description="SHA-256 of the certificate")
    valid: bool = Field(description="Readable, not expired and (local) signed by the local CA "
                                    "with the matching key")
    problem: str | None = None
    ca_path: str | None = Field(default=None, description="`local`: the CA certificate file")
    ca_sha256: str | None = Field(default=None, description="`local`: SHA-256 of the CA")


class TrustInfo(BaseModel):
    """Where ``scanlet cert install`` put the local CA, as it recorded it (``cert/trust.json``;
    the stores themselves are not queried: ``scanlet cert status`` does that)."""

    installed: bool = Field(description="Some trust store got the local CA")
    current: bool = Field(description="Every recorded entry holds the current CA")
    stores: list[str] = Field(description="`nss:<db folder>` and `<kind>:<ref>` of an OS store")
    problem: str | None = None


class HttpsInfo(BaseModel):
    enabled: bool = Field(description="`[server] https` (always on in remote mode)")
    port: int | None = Field(description="The bound HTTPS port; null when not listening")
    certificate: CertificateInfo | None = Field(
        description="null when there is none yet (made at the first HTTPS start or by "
                    "`scanlet cert renew`) or it cannot be read (see `problem`)")
    trust: TrustInfo | None = Field(description="For the local CA; null with an admin "
                                                "certificate")
    problem: str | None = None


class LogLevel(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(description="In force now")
    configured_level: str = Field(description="`[log] level`: the level after a restart")


class DriverState(BaseModel):
    """How the last device listing of one enabled driver went."""

    state: Literal["pending", "ok", "unavailable", "failed"] = Field(
        description="`pending`: not listed yet; `ok`; `unavailable`: cannot run on this "
        "system (`reason` says why; not asked again until restart); `failed`: its last "
        "listing failed (`reason`), its devices of the listing before are kept")
    devices: int = Field(description="Devices it contributes to the listing")
    reason: str | None = None


class AdminStatus(BaseModel):
    version: str
    build: str
    pid: int
    uptime_seconds: float
    demo: bool = Field(description="Running with the demo scanner (`serve --demo`)")
    remote: bool = Field(description="`[server] allow_remote`: listening beyond loopback")
    data_dir: str = Field(description="The home folder (pages, keys, certificates, logs)")
    listeners: list[ListenerInfo]
    https: HttpsInfo
    log: LogLevel
    workers: int = Field(description="Scan worker processes running now")
    device_listings: int = Field(0, description="Device listings completed since start "
                                 "(`GET /v1/devices` answers from the last one)")
    device_drivers: dict[str, DriverState] = Field(
        default_factory=dict, description="Each enabled driver, in listing order, with how "
        "its last listing went (`[devices] drivers`)")


def _read_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _names(cert: x509.Certificate) -> list[str]:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(name.value) for name in sans]


def _certificate(rt: Runtime) -> tuple[CertificateInfo | None, str | None]:
    """The certificate HTTPS uses, read from its file; (None, why) when unreadable."""
    settings, now = rt.settings, dt.datetime.now(dt.UTC)
    admin = certs.uses_admin_certificate(settings)
    status = None
    if admin:
        assert settings.tls_cert_file is not None
        path = settings.tls_cert_file
    else:
        status = certs.load_status(rt.home)
        if status is None:
            return None, None  # no local CA yet
        path = certs.cert_paths(rt.home).leaf
    try:
        cert = _read_certificate(path)
    except (OSError, ValueError) as exc:
        return None, f"cannot read {path}: {exc}"
    not_after = status.not_after if status is not None else cert.not_valid_after_utc
    problem = status.problem if status is not None else (
        f"expired on {not_after:%Y-%m-%d}" if not_after <= now else None)
    return CertificateInfo(
        source="admin" if admin else "local", path=str(path),
        subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
        names=_names(cert), not_before=cert.not_valid_before_utc, not_after=not_after,
        days_left=(not_after - now) // dt.timedelta(days=1), sha256=certs.fingerprint(cert),
        valid=problem is None, problem=problem,
        ca_path=None if admin else str(certs.cert_paths(rt.home).ca),
        ca_sha256=status.ca_sha256 if status is not None else None), None


def _trust(rt: Runtime, ca_sha256: str | None) -> TrustInfo:
    try:
        record = truststore.load_record(rt.home)
    except ScanletError as exc:
        return TrustInfo(installed=False, current=False, stores=[], problem=exc.message)
    if record is None:
        return TrustInfo(installed=False, current=False, stores=[])
    stores, hashes = [], []
    if record.nss is not None:
        stores += [f"nss:{db}" for db in record.nss.dbs]
        hashes.append(record.nss.ca_sha256)
    if record.system is not None:
        stores.append(f"{record.system.kind}:{record.system.ref}")
        hashes.append(record.system.ca_sha256)
    return TrustInfo(installed=bool(stores), current=bool(hashes) and ca_sha256 is not None
                     and all(h == ca_sha256 for h in hashes), stores=stores)


def _https(rt: Runtime) -> HttpsInfo:
    settings = rt.settings
    ports = [lis.port for lis in rt.listeners if lis.scheme == "https"]
    try:
        certificate, problem = _certificate(rt)
    except ScanletError as exc:
        certificate, problem = None, exc.message
    admin = certs.uses_admin_certificate(settings)
    return HttpsInfo(
        enabled=settings.https or is_remote(settings), port=ports[0] if ports else None,
        certificate=certificate, problem=problem,
        trust=None if admin else _trust(rt, certificate.ca_sha256 if certificate else None))


@router.get("/status", summary="Service status for the admin page: version, uptime, data "
            "folder, bound listeners, HTTPS certificate, log level")
def status(rt: Rt) -> AdminStatus:
    return AdminStatus(
        version=__version__, build=build_id(), pid=os.getpid(),
        uptime_seconds=round(time.monotonic() - rt.started, 3), demo=rt.demo,
        remote=is_remote(rt.settings), data_dir=str(rt.home.root),
        listeners=[ListenerInfo(scheme="https" if lis.scheme == "https" else "http",
                                host=lis.host, port=lis.port, url=lis.url)
                   for lis in rt.listeners],
        https=_https(rt),
        log=LogLevel.model_validate({"level": logs.current().level,
                                     "configured_level": rt.settings.log_level}),
        workers=len(rt.devices.worker_pids()),
        device_listings=rt.devices.listing.listings,
        device_drivers={name: DriverState.model_validate(vars(listing)) for name, listing
                        in rt.devices.driver_listings.items()})


@router.get("/version", summary="Version, build, platform and library versions (admin only)")
def version() -> dict[str, Any]:
    return {"name": "scanlet", "version": __version__, **platform_details()}
