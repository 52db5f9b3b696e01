"""Where the cache key lives (issue 14, item 12): the OS key store, else a 0600 file.

The key store here is keyring's own backend contract: ``fail`` and ``null`` are keyring's real
"no store" backends; FileKeyring (tests/keystore_backend.py) stands in for Windows Credential
Manager, the macOS Keychain or the Secret Service, which need those systems.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
from pathlib import Path

import pytest
from keyring.backends import fail, null
from keyring.compat import properties

from scanlet.config import Home
from scanlet.crypto import KEY_BYTES, load_or_create_key
from scanlet.errors import StorageError
from scanlet.keystore import SERVICE, account, load_cache_key, marker_path
from tests.conftest import start_service
from tests.keystore_backend import ENV, FileKeyring

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").create()


@pytest.fixture
def store(tmp_path: Path) -> FileKeyring:
    return FileKeyring(tmp_path / "keyring.json")


def in_store(store: FileKeyring, home: Home) -> bytes | None:
    value = store.get_password(SERVICE, account(home))
    return None if value is None else base64.b64decode(value)


class Garbling(FileKeyring):
    """A store that keeps something other than what it was given."""

    def set_password(self, service: str, username: str, password: str) -> None:
        super().set_password(service, username, password[::-1])


class Forgetful(FileKeyring):
    """A store that says yes and keeps nothing."""

    def set_password(self, service: str, username: str, password: str) -> None:
        pass


class Weak(FileKeyring):
    """A backend keyring itself ranks as not recommended (keyrings.alt's are 0.5 and 0.6)."""

    @properties.classproperty
    def priority(cls) -> float:
        return 0.5


# -- no key store: the file -------------------------------------------------------------------


def test_without_a_key_store_the_key_is_a_private_file(home: Home) -> None:
    key = load_cache_key(home, fail.Keyring())
    assert len(key) == KEY_BYTES
    assert home.cache_key.read_bytes() == key
    assert stat.S_IMODE(home.cache_key.stat().st_mode) == 0o600
    assert not marker_path(home).exists()
    assert load_cache_key(home, fail.Keyring()) == key


def test_a_store_that_keeps_nothing_leaves_the_file(home: Home, tmp_path: Path) -> None:
    """A store that accepts and forgets: the read-back catches it (and keyring's own null
    backend, which does that, is not even asked)."""
    for forgetful in (Forgetful(tmp_path / "forgets.json"), null.Keyring()):
        key = load_cache_key(home, forgetful)
        assert home.cache_key.read_bytes() == key
        assert load_cache_key(home, forgetful) == key
        assert not marker_path(home).exists()


def test_a_backend_below_recommended_priority_is_not_used(home: Home, tmp_path: Path) -> None:
    """keyrings.alt's plaintext and encrypted files rank below 1: keys/cache.key is no worse."""
    weak = Weak(tmp_path / "weak.json")
    key = load_cache_key(home, weak)
    assert home.cache_key.read_bytes() == key
    assert weak.entries() == {}


# -- a key store ------------------------------------------------------------------------------


def test_a_new_home_keeps_its_key_in_the_store(home: Home, store: FileKeyring) -> None:
    key = load_cache_key(home, store)
    assert in_store(store, home) == key
    assert not home.cache_key.exists()  # never written
    assert marker_path(home).exists() and key.hex() not in marker_path(home).read_text()
    assert load_cache_key(home, store) == key


def test_an_existing_key_file_moves_into_the_store(home: Home, store: FileKeyring) -> None:
    old = load_or_create_key(home.cache_key)
    assert load_cache_key(home, store) == old
    assert in_store(store, home) == old
    assert not home.cache_key.exists()
    assert load_cache_key(home, store) == old


def test_a_failed_read_back_keeps_the_file(home: Home, tmp_path: Path) -> None:
    old = load_or_create_key(home.cache_key)
    garbling = Garbling(tmp_path / "garbled.json")
    assert load_cache_key(home, garbling) == old
    assert home.cache_key.read_bytes() == old
    assert garbling.get_password(SERVICE, account(home)) is None  # the bad entry is removed
    assert not marker_path(home).exists()
    assert load_cache_key(home, garbling) == old


def test_an_interrupted_move_is_finished(home: Home, store: FileKeyring) -> None:
    """A crash after the store kept the key but before the file was deleted."""
    old = load_or_create_key(home.cache_key)
    store.set_password(SERVICE, account(home), base64.b64encode(old).decode())
    assert load_cache_key(home, store) == old
    assert not home.cache_key.exists()


def test_file_and_store_disagreeing_is_an_error(home: Home, store: FileKeyring) -> None:
    old = load_or_create_key(home.cache_key)
    store.set_password(SERVICE, account(home), base64.b64encode(bytes(KEY_BYTES)).decode())
    with pytest.raises(StorageError, match="different cache keys"):
        load_cache_key(home, store)
    assert home.cache_key.read_bytes() == old  # neither is thrown away


def test_unreachable_store_after_the_move_is_an_error(home: Home, store: FileKeyring,
                                                      tmp_path: Path) -> None:
    """Never a new key that could not read the buffer: the marker says where the key is."""
    load_cache_key(home, store)
    for unreachable in (fail.Keyring(), null.Keyring()):
        with pytest.raises(StorageError, match="cannot be reached"):
            load_cache_key(home, unreachable)
    with pytest.raises(StorageError, match="is not there"):
        load_cache_key(home, FileKeyring(tmp_path / "another-store.json"))
    assert not home.cache_key.exists()


def test_a_damaged_entry_is_an_error(home: Home, store: FileKeyring) -> None:
    store.set_password(SERVICE, account(home), "not base64!")
    with pytest.raises(StorageError, match="damaged"):
        load_cache_key(home, store)


def test_each_home_has_its_own_entry(tmp_path: Path, store: FileKeyring) -> None:
    first, second = Home(tmp_path / "a").create(), Home(tmp_path / "b").create()
    assert load_cache_key(first, store) != load_cache_key(second, store)


# -- the service ------------------------------------------------------------------------------


def test_the_service_keeps_its_key_in_the_store(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A real service with a key store: no key file, the buffer readable after a restart,
    and the user's text absent from the index files."""
    keyring_file = tmp_path / "keyring.json"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.keystore_backend.FileKeyring")
    monkeypatch.setenv(ENV, str(keyring_file))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    root = tmp_path / "home"
    root.mkdir()
    (root / "user.ini").write_text("[devices]\ndemo_system_backends = false\n")
    marker = "KEYSTORETEST" + os.urandom(6).hex()

    service = start_service(root)
    try:
        with service.client() as http:
            created = http.post("/v1/documents", json={
                "name": marker, "tags": [marker], "metadata": {"m": marker}}).json()
    finally:
        service.kill(signal.SIGTERM)
    assert not (root / "keys" / "cache.key").exists()
    assert list(json.loads(keyring_file.read_text())) == [f"{SERVICE}\0{root.resolve()}"]
    for path in (root / "cache").glob("buffer.sqlite3*"):
        assert marker.encode() not in path.read_bytes(), path.name

    service = start_service(root)
    try:
        with service.client() as http:
            again = http.get(f"/v1/documents/{created['id']}").json()
    finally:
        service.kill(signal.SIGTERM)
    assert (again["name"], again["tags"], again["metadata"]) == (marker, [marker], {"m": marker})
    assert not (root / "keys" / "cache.key").exists()
