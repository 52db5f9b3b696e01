"""The per-user home folder: its layout, and where it is.

The home holds ``cache/`` (page files + index), ``cert/``, ``dump/``, ``log/``, ``upload/``,
``keys/`` (the cache key, apart from the cache), ``scanlet.ini`` (service config),
``user.ini`` (user config, overrides the service config), ``service.ini`` (identity) and
``port.lock``. This is the only module that reads the environment (``SCANLET_HOME``).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from scanlet.config.template import service_config_template

APP_NAME = "scanlet"
SERVICE_CONFIG = "scanlet.ini"
USER_CONFIG = "user.ini"
IDENTITY_FILE = "service.ini"


@dataclass(frozen=True)
class Home:
    """Paths of one Scanlet home folder."""

    root: Path

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def pages(self) -> Path:
        return self.cache / "pages"

    @property
    def incoming(self) -> Path:
        return self.cache / "incoming"

    @property
    def thumbnails(self) -> Path:
        return self.cache / "thumbs"

    @property
    def database(self) -> Path:
        return self.cache / "buffer.sqlite3"

    @property
    def cert(self) -> Path:
        return self.root / "cert"

    @property
    def dump(self) -> Path:
        return self.root / "dump"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def upload(self) -> Path:
        return self.root / "upload"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def cache_key(self) -> Path:
        return self.keys / "cache.key"

    @property
    def access_db(self) -> Path:
        """Paired sites, admin-allowed sites and API keys (hashes only)."""
        return self.keys / "access.sqlite3"

    @property
    def cli_key(self) -> Path:
        """The API key of this user's CLI (0600)."""
        return self.keys / "cli.key"

    @property
    def service_config(self) -> Path:
        return self.root / SERVICE_CONFIG

    @property
    def user_config(self) -> Path:
        return self.root / USER_CONFIG

    @property
    def identity(self) -> Path:
        return self.root / IDENTITY_FILE

    @property
    def port_lock(self) -> Path:
        return self.root / "port.lock"

    def create(self) -> Home:
        """Create the folder layout (private to the user) and the identity file.

        Raises UnsafeHome when the home, ``keys/`` or ``cert/`` (or a file Scanlet trusts in
        them) belongs to another user or others can write it (``security.homecheck``).
        """
        from scanlet.security import homecheck

        homecheck.check_root(self)  # before writing anything into it
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for folder in (self.cache, self.pages, self.incoming, self.thumbnails, self.cert,
                       self.dump, self.log, self.upload, self.keys):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.identity.exists():
            self.identity.write_text(
                "# Identity of this Scanlet install; generated once, do not copy between "
                f"machines.\n[service]\ninstall_id = {secrets.token_hex(16)}\n"
            )
        if not self.service_config.exists():
            self.service_config.write_text(service_config_template())
        homecheck.check_home(self)
        return self


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Home:
    """The home folder: ``--home``, else ``$SCANLET_HOME``, else the platform's data dir."""
    if explicit:
        return Home(Path(explicit).expanduser().resolve())
    env = os.environ.get("SCANLET_HOME")
    if env:
        return Home(Path(env).expanduser().resolve())
    return Home(Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)))
