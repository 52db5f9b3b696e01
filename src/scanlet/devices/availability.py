"""Whether the SANE driver can run on this system, and the error that says it cannot.

python-sane (the C extension ``_sane``, built against libsane) is a dependency only where SANE
exists (pyproject.toml: Linux by default, the ``sane`` extra elsewhere), so Scanlet has to
import, serve, import files, OCR and export without it. Nothing outside the SANE driver and
this check imports ``_sane``: the registry (registry.py ``load_driver``, run by the scan
worker) turns a missing library into :class:`~scanlet.errors.DriverUnavailable` ("not
available on this system: <reason>", ``detail.driver`` and ``detail.reason`` set), the device
manager then lists no devices from that driver, and ``scanlet doctor`` shows the same
reason.
"""

from __future__ import annotations

import importlib

from scanlet.errors import DriverUnavailable

#: The start of every message saying the driver cannot run here (doctor, API, CLI).
NOT_AVAILABLE = "not available on this system"


def sane_unavailable() -> str | None:
    """Why the SANE driver cannot run here (``None`` when python-sane loads).

    Loads ``_sane`` (not ``sane_init``: no backend is touched) so that an installed python-sane
    whose libsane is missing or broken is told apart from one that is not installed at all.
    """
    try:
        importlib.import_module("_sane")
    except ModuleNotFoundError as exc:
        if exc.name in ("_sane", "sane"):
            return "python-sane is not installed"
        return f"python-sane cannot be loaded: {exc}"
    except ImportError as exc:
        return f"python-sane cannot be loaded: {exc}"
    return None


def is_driver_missing(exc: DriverUnavailable) -> bool:
    """True when ``exc`` says a driver cannot run on this system (registry.load_driver), not
    that a worker could not start or the manager is closed."""
    return bool(exc.detail.get("driver")) and "reason" in exc.detail
