"""Where the drivers' own configuration lives, decided for the rest of the program.

Today that is SANE's config folder: the demo one that ``--demo`` prepares in the home (the
``test`` and ``pnm`` backends, plus the system's backends if asked), the one an admin chose
(``[devices] sane_config_dir``), or the system's. It lives here so that nothing outside
``scanlet.devices`` needs to know a driver module (the import contracts in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

from scanlet.devices.sane_config import prepare_demo_config


def sane_config_dir(home_root: Path, configured: Path | None, *, demo: bool,
                    include_system: bool) -> Path | None:
    """The SANE config dir the workers use: the demo one (prepared now in ``home_root/sane``),
    the configured one, or None for the system's."""
    if demo:
        return prepare_demo_config(home_root / "sane", include_system=include_system)
    return configured
