"""Scanlet without python-sane (Windows, a Mac without sane-backends): it imports, serves, lists
no devices and says why, instead of failing.

The missing library is simulated for real: the processes run with a ``sitecustomize`` on
PYTHONPATH whose ``sys.meta_path`` finder raises the ``ModuleNotFoundError`` Python raises for
a module that is not installed, for ``sane`` and ``_sane``; the scan workers the service starts
inherit it. Nothing of Scanlet is patched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import start_service

NOT_INSTALLED = "not available on this system: python-sane is not installed"

BLOCKER = '''\
import sys


class _NoSane:
    """Python-sane is not installed: the error Python raises for a missing module."""

    def find_spec(self, name, path=None, target=None):
        if name in ("sane", "_sane"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoSane())
'''


@pytest.fixture
def no_sane(tmp_path: Path) -> dict[str, str]:
    """An environment whose Python processes cannot import python-sane."""
    folder = tmp_path / "no-sane"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ, COLUMNS="200")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), env.get("PYTHONPATH")) if p)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=120, stdin=subprocess.DEVNULL, check=False)


def test_the_blocker_really_hides_python_sane(no_sane: dict[str, str]) -> None:
    """Guards the other tests: python-sane is installed here, and hidden under the blocker."""
    assert run(dict(os.environ), "-c", "import _sane, sane").returncode == 0
    for module in ("_sane", "sane"):
        hidden = run(no_sane, "-c", f"import {module}")
        assert hidden.returncode == 1
        assert f"No module named '{module}'" in hidden.stderr


def test_imports_and_doctor_say_not_available(no_sane: dict[str, str], home: Path) -> None:
    imported = run(no_sane, "-c", "import scanlet.service.serve, scanlet.cli.app, "
                                  "scanlet.devices.worker, scanlet.service.doctor")
    assert imported.returncode == 0, imported.stderr

    doctor = run(no_sane, "-m", "scanlet", "doctor", "--home", str(home))
    sane_lines = [line for line in doctor.stdout.splitlines() if "python-sane" in line]
    assert any(line.split()[0] == "warn" and f"SANE driver: {NOT_INSTALLED}" in line
               for line in sane_lines), doctor.stdout
    assert not any(line.split()[0] == "FAIL" for line in sane_lines), doctor.stdout

    with_sane = run(dict(no_sane, PYTHONPATH=os.environ.get("PYTHONPATH", "")),
                    "-m", "scanlet", "doctor", "--home", str(home))
    assert any(line.split()[:2] == ["ok", "python-sane"]
               for line in with_sane.stdout.splitlines()), with_sane.stdout

    listed = run(no_sane, "-m", "scanlet", "devices", "--demo", "--home", str(home))
    assert listed.returncode == 0, listed.stderr
    assert "sane:" not in listed.stdout and NOT_INSTALLED in listed.stderr


def test_service_lists_no_devices_and_refuses_scans(no_sane: dict[str, str],
                                                    home: Path) -> None:
    service = start_service(home, env=no_sane)
    try:
        with service.client() as http:
            for _ in range(2):  # the second answer comes from the remembered reason
                devices = http.get("/v1/devices")
                assert devices.status_code == 200, devices.text
                # SANE's devices are gone; the pure-Python demo driver (--demo) still lists
                assert [d["id"] for d in devices.json()] == ["demo:scanner"]
            job = http.post("/v1/jobs", json={"device": "sane:test:0", "resolution": 75})
            assert job.status_code == 503, job.text
            problem = job.json()
            assert problem["code"] == "driver_unavailable"
            assert NOT_INSTALLED in problem["detail"]
            assert http.get("/v1/health").status_code == 200
        listed = run(no_sane, "-m", "scanlet", "devices", "--home", str(home))
        assert listed.returncode == 0, listed.stderr
        assert "sane:" not in listed.stdout
    finally:
        service.kill(signal.SIGTERM)
