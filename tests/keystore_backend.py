"""A stand-in for the OS key store, behind keyring's own backend contract.

The real stores (Windows Credential Manager, macOS Keychain, the Secret Service of a Linux
desktop) need those systems; this backend keeps its entries in a JSON file instead, so the
same code path runs here, in-process (``FileKeyring(path)``) or in a service subprocess
(``PYTHON_KEYRING_BACKEND=tests.keystore_backend.FileKeyring`` with the file named by
``SCANLET_TEST_KEYRING``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError

ENV = "SCANLET_TEST_KEYRING"


class FileKeyring(KeyringBackend):
    """Entries ``{"service\\0account": secret}`` in one JSON file."""

    @properties.classproperty
    def priority(cls) -> float:
        return 1

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.path = path if path is not None else Path(os.environ[ENV])

    def entries(self) -> dict[str, str]:
        try:
            return dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self.entries()
        entries[f"{service}\0{username}"] = password
        self.path.write_text(json.dumps(entries))

    def delete_password(self, service: str, username: str) -> None:
        entries = self.entries()
        if entries.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError(username)
        self.path.write_text(json.dumps(entries))
