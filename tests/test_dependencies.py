"""The installed package's declared dependencies: python-sane only where SANE exists, nothing
under src/ importing a distribution that only the test extra brings (img2pdf, psutil), and the
test extra bringing everything tests/ and benchmarks/ import.

Read from the installed metadata (what pip resolves), not from pyproject.toml's text.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _name(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def required(sys_platform: str, *extras: str) -> set[str]:
    """Distributions ``pip install scanlet[extras]`` brings on ``sys_platform``."""
    names = set()
    for text in importlib.metadata.requires("scanlet") or []:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is None or any(
                marker.evaluate({"sys_platform": sys_platform, "extra": extra})
                for extra in ("", *extras)):
            names.add(_name(requirement.name))
    return names


def test_python_sane_only_where_sane_exists() -> None:
    assert "python-sane" in required("linux")
    assert "python-sane" not in required("win32")
    assert "python-sane" not in required("darwin")
    assert "python-sane" in required("darwin", "sane")
    assert "pillow" in required("win32")  # the rest is everywhere


def third_party_imports(root: Path, local: set[str]) -> dict[str, set[str]]:
    """Top-level module -> files under ``root`` importing it (lazy imports too), leaving out
    the standard library and ``local`` modules."""
    found: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                if top not in local and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def undeclared(imports: dict[str, set[str]], declared: set[str]) -> dict[str, set[str]]:
    """The imports whose distribution is not in ``declared``."""
    owners = importlib.metadata.packages_distributions()
    return {top: files for top, files in imports.items()
            if not {_name(d) for d in owners.get(top, [top])} & declared}


def test_src_imports_only_runtime_dependencies() -> None:
    """Every third-party module src/ imports comes from a distribution the plain install
    declares; img2pdf, used by tests and benchmarks only, is in the test extra."""
    runtime = required("linux")
    assert "img2pdf" not in runtime and "img2pdf" in required("linux", "test")
    wrong = undeclared(third_party_imports(ROOT / "src", {"scanlet"}), runtime)
    assert not wrong, f"imported by src/ but not a runtime dependency: {wrong}"


def test_test_extra_covers_tests_and_benchmarks() -> None:
    """``pip install -e .[test]`` (scripts/install) brings everything the suite and the
    benchmarks import, not only by luck through another package's dependencies."""
    local = {"scanlet", "tests", "benchmarks"} | {
        path.stem for folder in ("tests", "benchmarks") for path in (ROOT / folder).rglob("*.py")}
    declared = required("linux", "test")
    for folder in ("tests", "benchmarks"):
        wrong = undeclared(third_party_imports(ROOT / folder, local), declared)
        assert not wrong, f"imported by {folder}/ but not declared: {wrong}"
