"""Configuration: the per-user home folder and the INI files in it.

``home.py``      the home folder's layout and where it is (the only reader of the environment)
``values.py``    the value types: syntax, bounds and the form error messages name
``sections.py``  one pydantic model per INI section, and the file model composed of them
``settings.py``  :class:`Settings`, the flat typed view the rest of Scanlet reads
``ini.py``       reading one INI file, with the line of every section and key
``loader.py``    :func:`load_settings`: scanlet.ini, user.ini over it, then overrides
``template.py``  the ``scanlet.ini`` a new home starts with
``docs.py``      the key table of docs/configuration.md (``python -m scanlet.config.docs``)

Every key is documented in docs/configuration.md, generated from the models.
"""

from __future__ import annotations

from scanlet.config.home import (
    APP_NAME,
    IDENTITY_FILE,
    SERVICE_CONFIG,
    USER_CONFIG,
    Home,
    resolve_home,
)
from scanlet.config.loader import load_settings
from scanlet.config.sections import DEFAULT_HTTPS_PORT, DEFAULT_PORT, ScanletConfig
from scanlet.config.settings import LOOPBACK_LISTENERS, Settings, is_remote

__all__ = [
    "APP_NAME",
    "DEFAULT_HTTPS_PORT",
    "DEFAULT_PORT",
    "IDENTITY_FILE",
    "LOOPBACK_LISTENERS",
    "SERVICE_CONFIG",
    "USER_CONFIG",
    "Home",
    "ScanletConfig",
    "Settings",
    "is_remote",
    "load_settings",
    "resolve_home",
]
