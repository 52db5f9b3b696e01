"""The installed package's declared dependencies: python-sane only where SANE exists, and
nothing under src/ importing a distribution that only the test extra brings (img2pdf, psutil).

Read from the installed metadata (what pip resolves), not from pyproject.toml's text.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement

SRC = Path(__file__).resolve().parent.parent / "src" / "scanlet"


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


def test_src_imports_only_runtime_dependencies() -> None:
    """Every third-party module src/ imports (lazy imports too) comes from a distribution the
    plain install declares; img2pdf, used by tests and benchmarks only, is in the test extra."""
    runtime = required("linux")
    assert "img2pdf" not in runtime and "img2pdf" in required("linux", "test")
    owners = importlib.metadata.packages_distributions()
    wrong: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                if top == "scanlet" or top in sys.stdlib_module_names:
                    continue
                dists = {_name(d) for d in owners.get(top, [top])}
                if not dists & runtime:
                    wrong.setdefault(top, set()).add(str(path.relative_to(SRC)))
    assert not wrong, f"imported by src/ but not a runtime dependency: {wrong}"
