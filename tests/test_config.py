"""Home folder resolution and layout, INI parsing and its errors, the single-instance lock."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from scanlet.config import Home, load_settings, resolve_home
from scanlet.errors import AlreadyRunning, ConfigError
from scanlet.service.instance import InstanceLock, read_instance


def test_home_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCANLET_HOME", str(tmp_path / "env"))
    assert resolve_home(tmp_path / "flag").root == tmp_path / "flag"
    assert resolve_home().root == tmp_path / "env"
    monkeypatch.delenv("SCANLET_HOME")
    assert resolve_home().root.name == "scanlet"


def test_home_layout_is_private(tmp_path: Path) -> None:
    home = Home(tmp_path / "h").create()
    for folder in ("cache", "cert", "dump", "log", "upload", "keys"):
        mode = stat.S_IMODE((home.root / folder).stat().st_mode)
        assert mode == 0o700, folder
    assert home.service_config.exists() and home.identity.exists()
    install_id = home.identity.read_text()
    Home(home.root).create()
    assert home.identity.read_text() == install_id  # generated once


def test_user_config_overrides_service_config(tmp_path: Path) -> None:
    home = Home(tmp_path / "h").create()
    home.service_config.write_text("[server]\nport = 19000\n[buffer]\nram_cache_mb = 64\n")
    home.user_config.write_text("[server]\nport = 19001\n")
    settings = load_settings(home)
    assert (settings.port, settings.ram_cache_mb) == (19001, 64)
    assert load_settings(home, port=0).port == 0


@pytest.mark.parametrize(("text", "key", "expected"), [
    ("[server]\nport = eighty\n", "port", "integer 0-65535"),
    ("[server]\nhost = 0.0.0.0\n", "host", "loopback"),
    ("[buffer]\nfsync = maybe\n", "fsync", "true or false"),
    ("[devices]\nworker_idle_timeout = -1\n", "worker_idle_timeout", "number > 0"),
    ("[server]\nprot = 1\n", "prot", "unknown key"),
    ("[devices]\ndrivers = sane, escl\n", "drivers", "unknown driver 'escl'"),
])
def test_bad_values_name_file_key_and_form(tmp_path: Path, text: str, key: str,
                                           expected: str) -> None:
    home = Home(tmp_path / "h").create()
    home.user_config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(home)
    message = str(caught.value)
    assert str(home.user_config) in message and key in message and expected in message


def test_device_drivers_key(tmp_path: Path) -> None:
    home = Home(tmp_path / "h").create()
    assert load_settings(home).device_drivers == ()  # every driver made for this system
    home.user_config.write_text("[devices]\ndrivers = SANE, demo,sane\n")
    assert load_settings(home).device_drivers == ("sane", "demo")
    home.user_config.write_text("[devices]\ndrivers =\n")
    assert load_settings(home).device_drivers == ()


def test_instance_lock_is_exclusive_and_names_the_holder(tmp_path: Path) -> None:
    lock_path = tmp_path / "port.lock"
    assert read_instance(lock_path) is None
    with InstanceLock(lock_path) as lock:
        lock.update(host="127.0.0.1", http_port=18622)
        info = read_instance(lock_path)
        assert info is not None and info.url == "http://127.0.0.1:18622"
        with pytest.raises(AlreadyRunning) as caught:
            InstanceLock(lock_path).acquire()
        assert "18622" in str(caught.value) and caught.value.detail["http_port"] == 18622
    assert read_instance(lock_path) is None
