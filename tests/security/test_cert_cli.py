"""``scanlet cert status|install|renew|uninstall`` as real processes, with HOME pointing at a
throw-away user home (so the NSS databases touched are the test's own)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanlet.security.truststore import NssTool
from tests.conftest import make_home

pytestmark = pytest.mark.skipif(not NssTool.available(), reason="certutil (libnss3-tools) missing")


def scanlet(user: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(user), "COLUMNS": "200"}
    env.pop("SCANLET_HOME", None)
    return subprocess.run([sys.executable, "-m", "scanlet", "cert", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)


def nicknames(db: Path) -> list[str]:
    out = subprocess.run(["certutil", "-L", "-d", f"sql:{db}"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return [line.rsplit(None, 1)[0].strip() for line in out.splitlines()[4:]
            if line.startswith("Scanlet local CA")]


def test_cert_commands(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    user = tmp_path / "user"
    profile = user / ".mozilla/firefox/x.default"
    NssTool().create_db(profile)

    result = scanlet(user, "status", "--home", str(home))
    assert result.returncode == 0, result.stderr
    assert "none yet" in result.stdout and "HTTPS listener: off" in result.stdout

    result = scanlet(user, "install", "--home", str(home))
    assert result.returncode == 0, result.stderr
    chromium = user / ".pki/nssdb"
    assert f"nss:{chromium}" in result.stdout and f"nss:{profile}" in result.stdout
    [nick] = nicknames(chromium)
    assert nicknames(profile) == [nick]

    result = scanlet(user, "status", "--home", str(home))
    assert result.returncode == 0, result.stderr
    assert "Local CA: " in result.stdout and "localhost, 127.0.0.1, ::1" in result.stdout
    assert result.stdout.count("yes") == 2

    old_ca = (home / "cert/ca.pem").read_bytes()
    result = scanlet(user, "renew", "--home", str(home))
    assert result.returncode == 0, result.stderr
    assert (home / "cert/ca.pem").read_bytes() != old_ca
    [renewed] = nicknames(chromium)
    assert renewed != nick and nicknames(profile) == [renewed]

    result = scanlet(user, "uninstall", "--home", str(home))
    assert result.returncode == 0, result.stderr
    assert nicknames(chromium) == [] and nicknames(profile) == []
    result = scanlet(user, "uninstall", "--home", str(home))
    assert result.returncode == 0 and "not in any trust store" in result.stdout


def test_install_reports_errors_with_the_stable_code(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    (home / "cert").mkdir(mode=0o700)
    (home / "cert/trust.json").write_text("{not json")
    result = scanlet(tmp_path / "user", "install", "--home", str(home))
    assert result.returncode == 9
    assert "certificate_error" in result.stderr and "trust.json" in result.stderr
