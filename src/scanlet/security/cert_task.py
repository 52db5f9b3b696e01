"""The periodic certificate task (the reference's "cert-check process").

Every ``[tls] check_hours`` one round of :func:`check_certificates` runs: renew the local CA and
leaf when the leaf expires within 30 days (moving trust-store entries to the new CA), and add the
CA to Firefox/Chromium profiles that appeared since ``scanlet cert install``. A round is a plain
blocking function so tests and the CLI call it directly; :class:`CertificateTask` runs it in a
thread from the service's event loop. When a monitor process exists it runs the same task
instead of ``serve``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scanlet.background import BackgroundTask
from scanlet.config import Home, Settings, is_remote
from scanlet.errors import ScanletError
from scanlet.security import certs, truststore

log = logging.getLogger(__name__)


@dataclass
class CheckReport:
    """What one round found and did."""

    renewed: bool = False
    certificate: certs.CertStatus | None = None
    trust: truststore.TrustReport = field(default_factory=truststore.TrustReport)
    warnings: list[str] = field(default_factory=list)


def renew(home: Home, *, runner: truststore.CommandRunner = truststore.run_command,
          store: truststore.SystemStore | None = None, platform: str = sys.platform
          ) -> tuple[certs.CertStatus, truststore.TrustReport]:
    """New CA + new leaf now, and the trust stores that held the old CA get the new one."""
    with certs.cert_lock(home):
        status = certs.generate_local_certificate(home)
        trust = truststore.refresh(home, runner=runner, store=store, platform=platform)
    return status, trust


def wants_task(home: Home, settings: Settings) -> bool:
    """The task runs when HTTPS is on, or when the local CA is in some trust store."""
    return settings.https or is_remote(settings) or truststore.trust_file(home).exists()


def check_certificates(
    home: Home, settings: Settings | None = None, *, user_home: Path | None = None,
    renew_before: dt.timedelta = certs.RENEW_BEFORE,
    runner: truststore.CommandRunner = truststore.run_command, platform: str = sys.platform,
) -> CheckReport:
    """One round: renew when needed, then install the CA into new NSS profiles.

    The local certificate is created or renewed only when it is in use (``settings.https``
    without an admin certificate) or installed in trust stores. ``user_home`` overrides the
    user recorded by ``scanlet cert install``.
    """
    report = CheckReport()
    admin = settings is not None and certs.uses_admin_certificate(settings)
    if admin and settings is not None:
        expiry = certs.admin_certificate_expiry(settings)
        if expiry is None:
            report.warnings.append(f"cannot read [tls] cert_file {settings.tls_cert_file}")
        elif expiry - renew_before <= dt.datetime.now(dt.UTC):
            report.warnings.append(f"the certificate {settings.tls_cert_file} expires on "
                                   f"{expiry:%Y-%m-%d}; replace it")
    with certs.cert_lock(home):
        record = truststore.load_record(home)
        in_use = (settings is not None and settings.https and not admin) or record is not None
        if in_use:
            status, generated = certs.ensure_certificate(home, renew_before=renew_before)
            report.certificate = status
            if generated:
                report.renewed = True
                report.trust = truststore.refresh(home, runner=runner, platform=platform)
            elif record is not None:
                # A renewal by another process may have left the stores behind: catch up.
                report.trust = truststore.refresh(home, runner=runner, platform=platform)
            if record is not None:
                more = truststore.install_new_profiles(home, user_home=user_home, runner=runner,
                                                       platform=platform)
                report.trust.added += more.added
                report.trust.errors += more.errors
        else:
            report.certificate = certs.load_status(home)
    report.warnings += report.trust.errors
    for warning in report.warnings:
        log.warning("certificate check: %s", warning)
    if report.renewed:
        log.info("renewed the local certificate (CA sha256 %s)",
                 report.certificate.ca_sha256 if report.certificate else "?")
    if report.trust.added:
        log.info("trusted the local CA in %s", ", ".join(report.trust.added))
    return report


class CertificateTask(BackgroundTask):
    """Runs :func:`check_certificates` at start and then every ``settings.cert_check_hours``.

    ``on_checked`` runs in the event loop after every round (the service reloads its TLS
    certificate there when the file changed). Failures are logged; the task keeps going.
    """

    task_name = "scanlet-cert-check"

    def __init__(self, home: Home, settings: Settings, *,
                 on_checked: Callable[[CheckReport], None] | None = None,
                 user_home: Path | None = None) -> None:
        super().__init__()
        self.home = home
        self.settings = settings
        self.on_checked = on_checked
        self.user_home = user_home
        self.rounds = 0

    async def run(self) -> None:
        period = self.settings.cert_check_hours * 3600
        while True:
            await self.run_once()
            await asyncio.sleep(period)

    async def run_once(self) -> CheckReport | None:
        try:
            report = await asyncio.to_thread(check_certificates, self.home, self.settings,
                                             user_home=self.user_home)
        except ScanletError as exc:
            log.warning("certificate check failed: %s", exc.message)
            return None
        except Exception:
            log.exception("certificate check failed")
            return None
        finally:
            self.rounds += 1
        if self.on_checked is not None:
            try:
                self.on_checked(report)
            except Exception:
                log.exception("after the certificate check")
        return report
