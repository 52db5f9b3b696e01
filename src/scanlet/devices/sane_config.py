"""Scanlet's own SANE configuration folder (for ``SANE_CONFIG_DIR``).

The package ships ``sane_config/``: a ``dll.conf`` enabling the ``test`` and ``pnm`` virtual
backends and a ``test.conf`` with ``geometry_max 432.0`` (Debian's default of 200 mm cannot
scan A4). :func:`prepare_demo_config` writes the effective folder the scan workers use.

With ``include_system`` the system's enabled backends are appended to ``dll.conf`` and every
other file of the system folder (backend configs, ``dll.d/``) is linked in, so real scanners
stay visible next to the virtual ones. This does not use SANE's trailing-separator feature
(``SANE_CONFIG_DIR=dir:``), which appends ``.`` (the current directory) as well as
``/etc/sane.d`` to the search path and only reads the first ``dll.conf`` found; a
self-contained folder keeps the lookup explicit. Tests pass ``include_system=False``: the
network backends of a stock system spend seconds probing on every listing.
"""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

SYSTEM_CONFIG_DIR = Path("/etc/sane.d")
_PACKAGE_FILES = ("dll.conf", "test.conf")


def enabled_backends(dll_conf: Path) -> list[str]:
    """Backend names enabled in a ``dll.conf`` (comments and blank lines skipped)."""
    names: list[str] = []
    try:
        text = dll_conf.read_text(encoding="latin-1")
    except OSError:
        return names
    for line in text.splitlines():
        name = line.split("#", 1)[0].strip()
        if name and name != "dll":
            names.append(name)
    return names


def prepare_demo_config(target_dir: Path, include_system: bool,
                        system_dir: Path = SYSTEM_CONFIG_DIR) -> Path:
    """Write the effective SANE config folder into ``target_dir`` and return it.

    The returned path is meant for ``SANE_CONFIG_DIR`` (``DeviceOptions.sane_config_dir``).
    Our files and the links are rewritten on every call, so edits to the system config show
    up at the next start; other files already in ``target_dir`` (a backend config the user put
    there) are left alone and take precedence over the system's.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    for stale in target_dir.iterdir():
        if stale.is_symlink() or stale.name in _PACKAGE_FILES:
            stale.unlink()
    shipped = resources.files("scanlet.devices") / "sane_config"
    for name in _PACKAGE_FILES:
        (target_dir / name).write_bytes((shipped / name).read_bytes())
    if include_system and system_dir.is_dir():
        _link_system(target_dir, system_dir)
    return target_dir


def _link_system(target_dir: Path, system_dir: Path) -> None:
    ours = enabled_backends(target_dir / "dll.conf")
    extra = [b for b in enabled_backends(system_dir / "dll.conf") if b not in ours]
    if extra:
        with (target_dir / "dll.conf").open("a", encoding="latin-1") as fh:
            fh.write(f"\n# Enabled in {system_dir / 'dll.conf'}:\n")
            fh.writelines(f"{name}\n" for name in extra)
    for entry in system_dir.iterdir():
        link = target_dir / entry.name
        if entry.name in _PACKAGE_FILES or link.exists():
            continue
        try:
            os.symlink(entry, link)
        except OSError as exc:
            log.warning("cannot link %s into %s: %s", entry, target_dir, exc)
    log.info("SANE config %s: test, pnm and %d system backends", target_dir, len(extra))
