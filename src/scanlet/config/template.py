"""Values as an INI file writes them, and the ``scanlet.ini`` a new home starts with: every
key of the models, commented out, with its default (or an example where the default is
empty and an example says more)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scanlet.config.settings import keys

_HEADER = (
    "# Scanlet service configuration. Every key is documented in docs/configuration.md.\n"
    "# Values in user.ini (same folder) override these.\n"
)


def ini_value(value: Any) -> str:
    """``value`` as it is written in an INI file (``True`` -> ``true``, ``10.0`` -> ``10``,
    a tuple as a comma-separated list, None as nothing)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return ", ".join(ini_value(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{origin} -> {target}" for origin, targets in value.items()
                         for target in targets)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def service_config_template() -> str:
    """The text of a new ``scanlet.ini``."""
    parts: list[str] = []
    section = None
    for key in keys():
        if key.section != section:
            if section is not None:
                parts.append("")
            parts.append(f"[{key.section}]")
            section = key.section
        shown = key.extra("example") or ini_value(key.default)
        parts.append(f"# {key.name} = {shown}".rstrip())
    return _HEADER + "\n".join(parts) + "\n"
