"""Where the install's cache key lives: the OS key store where there is one, else a 0600 file.

The cache key encrypts the page files (scanlet.crypto) and, through a derived key, the names,
tags and metadata in the index (buffer/sealed.py). Kept in the OS key store (the ``keyring``
library: Windows Credential Manager, macOS Keychain, the Secret Service of a Linux desktop),
it is readable only through the user's login session: other local users, a copied home
folder or a backup of it do not carry it. Where there is no key store (a headless Linux
service: keyring's ``fail`` backend; any backend below keyring's recommended priority 1, such
as keyrings.alt's files), it stays in ``keys/cache.key`` (0600, as before).

An existing key file is moved into the key store: written there, read back, and only when
the read-back matches is the file deleted. A marker file (``keys/cache.key.keystore``, no
secret in it) then records that the key is in the store, so a key store that is unavailable
later (locked, its daemon not running, a different backend chosen) stops the service with a
clear error instead of making a new key that could not read the existing buffer.

``PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring`` (keyring's own setting) keeps the key
in the file, e.g. for a service started before any login session can unlock the store.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, NoKeyringError

from scanlet.config import Home
from scanlet.crypto import KEY_BYTES, load_or_create_key
from scanlet.errors import StorageError

logger = logging.getLogger(__name__)

#: The key store entry's service name; the account is the home folder's absolute path.
SERVICE = "Scanlet cache key"
MARKER_SUFFIX = ".keystore"


def marker_path(home: Home) -> Path:
    """The file recording that this home's cache key is in the OS key store."""
    return home.cache_key.with_name(home.cache_key.name + MARKER_SUFFIX)


def account(home: Home) -> str:
    """This home's entry in the key store (one per home folder)."""
    return str(home.root.resolve())


def load_cache_key(home: Home, backend: KeyringBackend | None = None) -> bytes:
    """The cache key of ``home``: from the key store (``backend``, default keyring's choice)
    where it works, else from the 0600 file; made on first use (see the module doc).

    StorageError when the key is recorded as being in the key store but cannot be had.
    """
    store = backend if backend is not None else keyring.get_keyring()
    marker = marker_path(home)
    stored, usable = None, False
    if not _recommended(store):
        logger.debug("no OS key store (keyring backend %s)", type(store).__name__)
    else:
        try:
            stored = store.get_password(SERVICE, account(home))
            usable = True
        except NoKeyringError:
            pass
        except KeyringError as exc:
            logger.warning("the OS key store is unavailable (%s)", exc)

    if not usable:
        if marker.exists():
            raise StorageError(
                f"this home's cache key is kept in the OS key store ({SERVICE} / "
                f"{account(home)}), which cannot be reached now; unlock it (log in) and "
                "start again, or set PYTHON_KEYRING_BACKEND to the backend that holds it")
        return load_or_create_key(home.cache_key)

    if stored is not None:
        key = _decoded(stored)
        _finish_move(home, key)
        return key

    if marker.exists() and not home.cache_key.exists():
        raise StorageError(
            f"this home's cache key should be in the OS key store ({SERVICE} / "
            f"{account(home)}) but is not there; without it the buffer cannot be read "
            f"(delete {marker} and the cache folder to start with an empty buffer)")
    key = load_or_create_key(home.cache_key) if home.cache_key.exists() \
        else secrets.token_bytes(KEY_BYTES)
    if _put(store, home, key):
        _finish_move(home, key)
        logger.info("the cache key is kept in the OS key store (%s)", type(store).__name__)
        return key
    logger.info("the OS key store did not keep the cache key; using %s", home.cache_key)
    if home.cache_key.exists():
        return key
    return load_or_create_key(home.cache_key)


def _recommended(store: KeyringBackend) -> bool:
    """keyring's own bar for a real key store: priority 1 or more. Below it are ``fail`` and
    ``null`` (no store) and keyrings.alt's file backends: a plain file elsewhere is no better
    than keys/cache.key, and the encrypted one asks for a password on a terminal."""
    try:
        return float(store.priority) >= 1
    except Exception:  # keyring signals "not viable" with any exception
        return False


def _decoded(stored: str) -> bytes:
    try:
        key = base64.b64decode(stored, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise StorageError(f"the cache key in the OS key store ({SERVICE}) is damaged") \
            from exc
    if len(key) != KEY_BYTES:
        raise StorageError(f"the cache key in the OS key store ({SERVICE}) is damaged "
                           f"({len(key)} bytes, expected {KEY_BYTES})")
    return key


def _put(store: KeyringBackend, home: Home, key: bytes) -> bool:
    """Write ``key`` into the store and read it back; True only when it reads back equal.

    An entry that reads back different is deleted again (best effort), so the next start
    does not find a key that never encrypted anything.
    """
    encoded = base64.b64encode(key).decode("ascii")
    try:
        store.set_password(SERVICE, account(home), encoded)
        back = store.get_password(SERVICE, account(home))
        if back is None or back == encoded:
            return back is not None
        store.delete_password(SERVICE, account(home))
    except KeyringError as exc:
        logger.warning("could not put the cache key in the OS key store: %s", exc)
    return False


def _finish_move(home: Home, key: bytes) -> None:
    """The key is in the store: record that, and delete a key file holding the same key.

    A file holding a *different* key is an error rather than a guess: one of the two encrypts
    the buffer and Scanlet cannot tell which.
    """
    marker = marker_path(home)
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        marker.write_text(f"The cache key of this home is in the OS key store: service "
                          f"{SERVICE!r}, account {account(home)!r}.\n", encoding="utf-8")
    try:
        file_key = home.cache_key.read_bytes()
    except FileNotFoundError:
        return
    if file_key != key:
        raise StorageError(
            f"{home.cache_key} and the OS key store ({SERVICE} / {account(home)}) hold "
            "different cache keys; remove the one that does not belong to this buffer")
    home.cache_key.unlink()
    if os.name != "nt":
        fd = os.open(home.cache_key.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    logger.info("moved the cache key from %s into the OS key store", home.cache_key)
