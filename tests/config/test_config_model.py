"""The configuration model: every key read from the INI files, unknown sections and keys and bad
values refused with the file and line, user.ini over scanlet.ini, the flat Settings view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from scanlet.config import Home, Settings, load_settings
from scanlet.config.sections import sections
from scanlet.config.settings import keys
from scanlet.devices.registry import DRIVERS
from scanlet.errors import ConfigError

#: A value for each key other than its default, as the INI file writes it and as Settings
#: holds it. Every key must be here (test_every_key_round_trips checks), so a new key is
#: tested too.
SAMPLES: dict[str, tuple[str, Any]] = {
    "host": ("::1", "::1"),
    "port": ("0", 0),
    "listen_ipv6": ("yes", True),
    "https": ("On", True),
    "https_port": ("65535", 65535),
    "allow_remote": ("1", True),  # with host ::1: still loopback, so no certificate needed
    "shutdown_grace": ("2.5", 2.5),
    "public_names": ("Scanner.Test, 10.0.0.2", ("scanner.test", "10.0.0.2")),
    "tls_cert_file": ("/x/c.pem", Path("/x/c.pem")),
    "tls_key_file": ("~/k.pem", Path("~/k.pem").expanduser()),
    "cert_check_hours": ("0.5", 0.5),
    "allowed_origins": ("https://app.example.com, http://localhost:3000",
                        ("https://app.example.com", "http://localhost:3000")),
    "pairing": ("off", False),
    "token_days": ("7", 7),
    "consent_delay_ms": ("0", 0),
    "max_body_kb": ("1", 1),
    "max_import_mb": ("2", 2),
    "max_image_megapixels": ("3", 3),
    "max_decoded_mb": ("4", 4),
    "decode_memory_mb": ("5", 5),
    "max_running_decodes": ("6", 6),
    "decode_wait_seconds": ("7.5", 7.5),
    "pair_requests_per_minute": ("0", 0),
    "max_pending_pairings": ("8", 8),
    "max_pending_pairings_per_site": ("9", 9),
    "pair_unopened_timeout": ("10", 10.0),
    "scans_per_minute": ("0", 0),
    "ocr_tasks_per_minute": ("11", 11),
    "max_running_ocr_tasks": ("12", 12),
    "upload_tasks_per_minute": ("13", 13),
    "max_running_uploads": ("14", 14),
    "header_timeout": ("15", 15.0),
    "body_timeout": ("16", 16.0),
    "max_connections_per_peer": ("0", 0),
    "sessions_per_client": ("17", 17),
    "tesseract": ("/opt/tesseract/bin/tesseract", Path("/opt/tesseract/bin/tesseract")),
    "device_drivers": ("SANE, demo, sane", ("sane", "demo")),
    "sane_config_dir": ("/etc/sane-test", Path("/etc/sane-test")),
    "demo_system_backends": ("false", False),
    "worker_idle_timeout": ("18", 18.0),
    "worker_progress_timeout": ("19", 19.0),
    "worker_start_timeout": ("20.5", 20.5),
    "list_max_age": ("21", 21.0),
    "ram_cache_mb": ("22", 22),
    "fsync": ("no", False),
    "jpeg_quality": ("100", 100),
    "log_level": ("debug", "DEBUG"),
    "log_format": ("JSON", "json"),
    "log_max_mb": ("23", 23),
    "log_backups": ("0", 0),
    "log_requests": ("0", False),
    "dump_keep": ("24", 24),
    "monitor_health_interval": ("25", 25.0),
    "monitor_hang_timeout": ("26", 26.0),
    "monitor_start_timeout": ("27", 27.0),
    "monitor_backoff_max": ("28", 28.0),
    "monitor_crash_loop_restarts": ("29", 29),
    "monitor_crash_loop_window": ("30", 30.0),
    "monitor_crash_loop_pause": ("31", 31.0),
    "upload_allowed_targets": (
        "\n  https://app.example.com -> https://files.example.com/in/\n"
        "  https://app.example.com -> https://b.example.com, http://localhost:3000 -> "
        "ftps://ftp.example.com",
        {"https://app.example.com": ("https://files.example.com/in/", "https://b.example.com"),
         "http://localhost:3000": ("ftps://ftp.example.com",)}),
    "upload_allow_private": ("true", True),
    "upload_dev_targets": ("http://127.0.0.1:8080 http://[::1]:9000",
                           ("http://127.0.0.1:8080", "http://[::1]:9000")),
    "upload_retries": ("0", 0),
    "upload_timeout": ("32", 32.0),
    "upload_max_response_kb": ("0", 0),
    "compat_twain_types": ("true", True),
}


def _home(tmp_path: Path, user: str = "", service: str | None = None) -> Home:
    home = Home(tmp_path / "h").create()
    if service is not None:
        home.service_config.write_text(service)
    home.user_config.write_text(user)
    return home


def _refused(home: Home) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(home)
    return caught.value


def test_every_key_round_trips(tmp_path: Path) -> None:
    assert {k.attr for k in keys()} == set(SAMPLES)
    text = ""
    for section in sections():
        text += f"[{section}]\n" + "".join(
            f"{k.name} = {SAMPLES[k.attr][0]}\n" for k in keys() if k.section == section)
    settings = load_settings(_home(tmp_path, text))
    defaults = Settings()
    for key in keys():
        expected = SAMPLES[key.attr][1]
        assert expected != getattr(defaults, key.attr), f"{key.dotted}: sample is the default"
        assert getattr(settings, key.attr) == expected, key.dotted


def test_user_ini_overrides_scanlet_ini(tmp_path: Path) -> None:
    home = _home(tmp_path, service=(
        "[server]\nport = 19000\n[buffer]\nram_cache_mb = 64\n[devices]\ndrivers = sane\n"),
        user="[server]\nport = 19001\n[devices]\ndrivers = demo\n")
    settings = load_settings(home)
    assert (settings.port, settings.ram_cache_mb, settings.device_drivers) == (
        19001, 64, ("demo",))
    assert load_settings(home, port=0, host=None).port == 0  # the command line wins over both
    # A bad value is reported in the file where it is, even when the other file sets the key.
    home.service_config.write_text("[server]\n\nport = 80x\n")
    refused = _refused(home)
    assert str(home.service_config) in refused.message and "line 3" in refused.message
    assert refused.detail["file"] == str(home.service_config)


def test_unknown_section_is_refused_with_file_and_line(tmp_path: Path) -> None:
    home = _home(tmp_path, "# mine\n[server]\nport = 19000\n\n[servr]\nport = 1\n")
    refused = _refused(home)
    assert f"{home.user_config}, line 5: unknown section [servr]" in refused.message
    assert "did you mean server" in refused.message
    assert (refused.detail["file"], refused.detail["line"]) == (str(home.user_config), 5)
    # An empty one too, and [DEFAULT] is no exception (configparser would copy its keys into
    # every section).
    assert _refused(_home(tmp_path, "[server]\n[ocr]\n[extras]\n")).detail["line"] == 3
    assert "[DEFAULT]" in _refused(_home(tmp_path, "[DEFAULT]\nport = 1\n")).message


@pytest.mark.parametrize(("text", "line", "key"), [
    ("[limits]\nmax_body_kb = 10\nmax_bdy_kb = 1\n", 3, "limits.max_bdy_kb"),
    # the key's own line, past a multi-line value and with ':' and capitals
    ("[upload]\nallowed_targets =\n  https://a.example.com -> https://b.example.com\n\n"
     "  retrys = 1\nRetrys: 2\n", 6, "upload.retrys"),
    # a key that exists, but in another section
    ("[server]\nport = 1\n[tls]\nport = 2\n", 4, "tls.port"),
    # an attribute name is not an INI name
    ("[tls]\ntls_cert_file = /x\n", 2, "tls.tls_cert_file"),
])
def test_unknown_key_is_refused_with_file_and_line(tmp_path: Path, text: str, line: int,
                                                   key: str) -> None:
    home = _home(tmp_path, service=text)
    refused = _refused(home)
    section, _, name = key.partition(".")
    assert f"{home.service_config}, line {line}: unknown key [{section}] {name}" in \
        refused.message
    assert (refused.detail["file"], refused.detail["line"], refused.detail["key"]) == (
        str(home.service_config), line, key)


@pytest.mark.parametrize(("text", "line", "key", "why", "form"), [
    ("[server]\nport = eighty\n", 2, "server.port", "valid integer", "integer 0-65535"),
    ("[server]\nport = 70000\n", 2, "server.port", "less than or equal to 65535",
     "integer 0-65535"),
    ("[buffer]\nfsync = maybe\n", 2, "buffer.fsync", "not a truth value", "true or false"),
    ("[devices]\n\nworker_idle_timeout = -1\n", 3, "devices.worker_idle_timeout",
     "greater than 0", "seconds, a number > 0"),
    ("[buffer]\njpeg_quality = 0\n", 2, "buffer.jpeg_quality", "greater than or equal to 1",
     "an integer 1-100"),
    ("[log]\nlevel = verbose\n", 2, "log.level", "not one of DEBUG", "DEBUG, INFO"),
    ("[security]\nallowed_origins = https://app.example.com:443\n", 2,
     "security.allowed_origins", "canonical form", "origins like"),
    ("[upload]\nallowed_targets =\n  https://a.example.com -> https://b.example.com\n  bad\n",
     2, "upload.allowed_targets", "not ORIGIN -> TARGET: 'bad'", "ORIGIN -> TARGET"),
    ("[upload]\ndev_targets = http://10.0.0.1:8080\n", 2, "upload.dev_targets", "loopback",
     "loopback URLs"),
    ("[server]\nhost = scanner.local\n", 2, "server.host", "not an IP address",
     "an IP address"),
])
def test_bad_value_names_file_line_key_and_why(tmp_path: Path, text: str, line: int, key: str,
                                               why: str, form: str) -> None:
    home = _home(tmp_path, text)
    refused = _refused(home)
    section, _, name = key.partition(".")
    assert refused.message.startswith(
        f"{home.user_config}, line {line}: [{section}] {name} = "), refused.message
    assert why in refused.message and form in refused.message
    assert refused.detail["line"] == line and refused.detail["key"] == key
    assert why in refused.detail["reason"] and form in refused.detail["expected"]


def test_syntax_errors_name_the_line(tmp_path: Path) -> None:
    refused = _refused(_home(tmp_path, "[server]\nport = 1\nport = 2\n"))
    assert "line 3" in refused.message and "port is set twice" in refused.message
    refused = _refused(_home(tmp_path, "port = 1\n"))
    assert "line 1" in refused.message and "[section]" in refused.message
    refused = _refused(_home(tmp_path, "[server]\nport = 1\nlonely\n"))
    assert refused.detail["line"] == 3 and "'lonely'" in refused.message


def test_drivers_are_checked_against_the_registry(tmp_path: Path) -> None:
    assert load_settings(_home(tmp_path)).device_drivers == ()  # every available driver
    assert load_settings(_home(tmp_path, "[devices]\ndrivers =\n")).device_drivers == ()
    refused = _refused(_home(tmp_path, "[devices]\ndrivers = sane, twain\n"))
    assert "'twain'" in refused.message and refused.detail["key"] == "devices.drivers"
    for name in DRIVERS:
        assert name in refused.message  # the known ones
    with pytest.raises(ValidationError):
        Settings(device_drivers=("twain",))
    key = next(k for k in keys() if k.attr == "device_drivers")
    for name in DRIVERS:  # the docs name every driver
        assert f"`{name}`" in (key.field.description or "")


def test_settings_is_the_flat_union_of_the_sections() -> None:
    flat = [attr for model in sections().values() for attr in model.model_fields]
    assert len(flat) == len(set(flat)) == len(Settings.model_fields)  # no name used twice
    assert set(flat) == set(Settings.model_fields)
    settings = Settings(https=True, tls_cert_file="/x/c.pem", cert_check_hours=1)
    assert (settings.https, settings.tls_cert_file, settings.cert_check_hours) == (
        True, Path("/x/c.pem"), 1.0)
    with pytest.raises(ValidationError):
        Settings.model_validate({"check_hours": 1})  # INI names only in files
    with pytest.raises(ValidationError):
        Settings(port=-1)
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]  # frozen


def test_overrides_are_checked(tmp_path: Path) -> None:
    home = _home(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings(home, port=70000)
    assert caught.value.message.startswith("--port 70000 is invalid")
    with pytest.raises(ConfigError) as caught:
        load_settings(home, host="scanner.local")
    assert caught.value.detail["key"] == "server.host"
    with pytest.raises(ConfigError, match="unknown settings"):
        load_settings(home, colour=True)


def test_a_new_scanlet_ini_lists_every_key_with_its_default(tmp_path: Path) -> None:
    home = Home(tmp_path / "h").create()
    template = home.service_config.read_text()
    for key in keys():
        assert f"\n# {key.name} =" in template, key.dotted
    # Uncommented, it is a valid file holding the defaults (and the one example).
    home.service_config.write_text(
        "\n".join(line.removeprefix("# ") if " = " in line or line.endswith(" =") else line
                  for line in template.splitlines()))
    loaded = load_settings(home)
    assert loaded.model_copy(update={"upload_allowed_targets": {}}) == Settings()
    assert loaded.upload_allowed_targets == {
        "https://app.example.com": ("https://files.example.com/incoming/",)}
