"""An unsafe home folder is refused, with the path, its owner and mode and the fix (issue 14,
item 13): another user's home or keys/, folders or files others can write, a keys/ symlinked
into a place others can write. Real folders in tmp (chown needs root, which the suite has);
serve, the monitor and the CLI as real processes; doctor lists the problem; a correct home,
including a 0755 one with readable keys, still works (and its secrets are narrowed)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from scanlet.config import Home
from scanlet.errors import UnsafeHome
from scanlet.service.doctor import Section, run_checks
from tests.conftest import make_home, start_service

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX owners and modes")

NOBODY = 65534
needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="needs root to hand folders to another user")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def scanlet(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400"}
    env.pop("SCANLET_HOME", None)
    env.pop("SUDO_UID", None)
    return subprocess.run([sys.executable, "-m", "scanlet", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)


def home_section(home: Path) -> Section:
    [section] = [s for s in run_checks(Home(home), timeout=1) if s.title == "Home folder"]
    return section


def flat(text: str) -> str:
    return " ".join(text.split())


# Each setup spoils a freshly created home and returns (the path named, words the error says).
Setup = Callable[[Path, Path], tuple[Path, str]]


def other_users_home(home: Path, tmp: Path) -> tuple[Path, str]:
    os.chown(home, NOBODY, NOBODY)
    return home, f"uid {NOBODY}"


def other_users_keys(home: Path, tmp: Path) -> tuple[Path, str]:
    os.chown(home / "keys", NOBODY, NOBODY)
    return home / "keys", f"uid {NOBODY}"


def group_writable_home(home: Path, tmp: Path) -> tuple[Path, str]:
    home.chmod(0o775)
    return home, "is writable by its group (mode 0775"


def world_writable_keys(home: Path, tmp: Path) -> tuple[Path, str]:
    (home / "keys").chmod(0o777)
    return home / "keys", "is writable by group and others (mode 0777"


def world_writable_cert(home: Path, tmp: Path) -> tuple[Path, str]:
    (home / "cert").chmod(0o757)
    return home / "cert", "is writable by others (mode 0757"


def keys_linked_into_a_shared_folder(home: Path, tmp: Path) -> tuple[Path, str]:
    shared = tmp / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # anyone may rename or replace what is in it (no sticky bit)
    shutil.move(home / "keys", shared / "keys")
    (home / "keys").symlink_to(shared / "keys")
    return home / "keys", f"lies in {shared}, which others can write"


def keys_linked_to_a_shared_folder(home: Path, tmp: Path) -> tuple[Path, str]:
    shared = tmp / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    shutil.rmtree(home / "keys")
    (home / "keys").symlink_to(shared)
    return home / "keys", "is writable by group and others"


def writable_key_file(home: Path, tmp: Path) -> tuple[Path, str]:
    key = home / "keys" / "cache.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o666)
    return key, "is writable by group and others (mode 0666"


def writable_ca_file(home: Path, tmp: Path) -> tuple[Path, str]:
    ca = home / "cert" / "ca.pem"
    ca.write_text("not yet a certificate")
    ca.chmod(0o646)
    return ca, "is writable by others (mode 0646"


def writable_config(home: Path, tmp: Path) -> tuple[Path, str]:
    (home / "user.ini").chmod(0o666)  # others could allow their own origins
    return home / "user.ini", "is writable by group and others"


SETUPS: list[Setup] = [
    pytest.param(other_users_home, marks=needs_root),  # type: ignore[list-item]
    pytest.param(other_users_keys, marks=needs_root),  # type: ignore[list-item]
    group_writable_home, world_writable_keys, world_writable_cert,
    keys_linked_into_a_shared_folder, keys_linked_to_a_shared_folder, writable_key_file,
    writable_ca_file, writable_config,
]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = make_home(tmp_path / "home")
    Home(root).create()
    return root


@pytest.mark.parametrize("setup", SETUPS)
def test_create_refuses_and_doctor_shows_it(setup: Setup, home: Path, tmp_path: Path) -> None:
    path, words = setup(home, tmp_path)
    with pytest.raises(UnsafeHome) as caught:
        Home(home).create()
    error = caught.value
    assert error.code == "home_unsafe" and error.exit_code == 4
    assert str(path) in error.message and words in error.message, error.message
    assert "refusing to use it" in error.message
    assert ("chown" in error.message or "chmod" in error.message), error.message
    assert error.detail["path"] == str(path)

    findings = [f for f in home_section(home).findings if f.level == "error"]
    assert findings and words in findings[0].text and str(path) in findings[0].text
    assert error.detail["fix"] in findings[0].hint


@pytest.mark.parametrize("setup", [pytest.param(other_users_home, marks=needs_root),
                                   keys_linked_into_a_shared_folder])
def test_serve_monitor_and_cli_refuse_and_doctor_fails(setup: Setup, home: Path,
                                                       tmp_path: Path) -> None:
    path, words = setup(home, tmp_path)
    for command in (["serve", "--demo", "--port", "0"], ["service", "run", "--demo"],
                    ["cert", "install"], ["sites", "list"]):
        result = scanlet(*command, "--home", str(home))
        text = flat(result.stderr)
        assert result.returncode == 4, (command, result.stdout, result.stderr)
        assert "[home_unsafe]" in text and str(path) in text and words in text, text
    assert not (home / "port.lock").exists() and not (home / "monitor.lock").exists()

    doctor = scanlet("doctor", "--home", str(home))
    screen = flat(doctor.stdout)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert f"FAIL {path}" in screen and words in screen


def test_a_correct_home_works_and_its_secrets_are_narrowed(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    home.chmod(0o755)  # readable by others: not the threat, keeps working as it is
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "keys").mkdir(mode=0o755)  # a symlinked keys/ in a place of one's own is fine
    (home / "keys").symlink_to(private / "keys")
    service = start_service(home)
    try:
        assert httpx.get(service.url + "/v1/devices", headers=service.auth,
                         timeout=30).status_code == 200
    finally:
        service.kill()
    assert mode(home) == 0o755
    assert mode(private / "keys") == 0o700  # narrowed at the start

    # Widened afterwards (e.g. copied with the wrong umask): doctor warns, the next start
    # narrows keys/, cert/ and the key files again, and doctor is content.
    (private / "keys").chmod(0o755)
    (home / "cert").chmod(0o755)
    keys = [p for p in (private / "keys").iterdir() if p.is_file()]
    assert keys
    for key in keys:
        key.chmod(0o644)
    findings = home_section(home).findings
    assert {f.level for f in findings} == {"warn"}
    texts = " ".join(f.text for f in findings)
    for path in [home / "keys", home / "cert", *(home / "keys" / k.name for k in keys)]:
        assert f"{path} " in texts and "is readable by others" in texts
    Home(home).create()
    assert mode(private / "keys") == mode(home / "cert") == 0o700
    assert all(mode(key) == 0o600 for key in keys)
    assert mode(home) == 0o755
    assert [f.level for f in home_section(home).findings] == ["ok"]


@needs_root
def test_under_sudo_the_invoking_users_home_is_accepted(home: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``sudo scanlet cert install --system --home ~user/...``: root uses the user's home."""
    for path in (home, home / "keys", home / "cert"):
        os.chown(path, NOBODY, NOBODY)
    monkeypatch.delenv("SUDO_UID", raising=False)
    with pytest.raises(UnsafeHome):
        Home(home).create()
    monkeypatch.setenv("SUDO_UID", str(NOBODY))
    Home(home).create()
