"""The import contracts of pyproject.toml (``[tool.importlinter]``) hold for the package, and
each of them breaks when a copy of the package gets one forbidden import.

``lint-imports`` reads the source statically (grimp) and never imports the package; it is run
with ``src/`` first on the path so that it checks this tree, not whatever ``scanlet`` the
virtualenv's editable install points at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

CONTRACTS = {
    "layers": "Lower layers never import higher ones",
    "drivers": "Nothing outside scanlet.devices imports a concrete driver",
    "compat": "Only the app factory imports the compatibility API",
}


def lint_imports(src: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(src), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", str(CONFIG)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def verdicts(output: str) -> dict[str, str]:
    """Contract id -> KEPT or BROKEN, from lint-imports' summary lines."""
    found: dict[str, str] = {}
    for key, name in CONTRACTS.items():
        match = re.search(rf"^{re.escape(name)} (KEPT|BROKEN)\b", output, re.MULTILINE)
        if match:
            found[key] = match.group(1)
    return found


def test_the_package_keeps_every_contract(tmp_path: Path) -> None:
    result = lint_imports(ROOT / "src", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert verdicts(result.stdout) == dict.fromkeys(CONTRACTS, "KEPT"), result.stdout


@pytest.mark.parametrize(("contract", "module", "line"), [
    # security/ sits below api/: the middleware must not reach the API's error format.
    ("layers", "security/middleware.py", "import scanlet.api.problems"),
    # a feature package next to devices/ must go through the registry, not a driver module.
    ("drivers", "jobs.py", "import scanlet.devices.sane_driver"),
    ("drivers", "core/runtime.py", "import scanlet.devices.demo.driver"),
    # service/ is above compat/ (no layer broken), but only the app factory may import it.
    ("compat", "service/serve.py", "import scanlet.compat.errors"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, contract: str, module: str,
                                                line: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "scanlet", src / "scanlet",
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = src / "scanlet" / module
    target.write_text(target.read_text() + f"\n{line}  # added by the test\n")

    result = lint_imports(src, tmp_path)

    assert result.returncode != 0, result.stdout
    expected = dict.fromkeys(CONTRACTS, "KEPT") | {contract: "BROKEN"}
    assert verdicts(result.stdout) == expected, result.stdout
    importer = "scanlet." + module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {line.split()[-1]}" in result.stdout
