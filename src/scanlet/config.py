"""Configuration: the per-user home folder and the INI files in it.

The home holds ``cache/`` (page files + index), ``cert/``, ``dump/``, ``log/``, ``upload/``,
``keys/`` (the cache key, apart from the cache), ``scanlet.ini`` (service config),
``user.ini`` (user config, overrides the service config), ``service.ini`` (identity) and
``port.lock``. Every key is documented in docs/configuration.md. This is the only module that
reads the environment (``SCANLET_HOME``).
"""

from __future__ import annotations

import configparser
import ipaddress
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from scanlet.errors import ConfigError

APP_NAME = "scanlet"
DEFAULT_PORT = 18622
DEFAULT_HTTPS_PORT = 18623
LOOPBACK_LISTENERS = ("127.0.0.1", "::1")
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
            self.service_config.write_text(_SERVICE_CONFIG_TEMPLATE)
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


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError


def _parse_port(raw: str) -> int:
    port = int(raw)
    if not 0 <= port <= 65535:
        raise ValueError
    return port


def _parse_positive(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError
    return value


def _parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError
    return value


def _parse_address(raw: str) -> str:
    host = raw.strip()
    if host == "localhost":
        return "127.0.0.1"
    return str(ipaddress.ip_address(host))


def _parse_origins(raw: str) -> tuple[str, ...]:
    from scanlet.security.origins import parse_origin

    origins = []
    for item in raw.replace(",", " ").split():
        origin = parse_origin(item)
        if origin is None or origin != item.rstrip("/").lower():
            raise ValueError
        origins.append(origin)
    return tuple(origins)


def _parse_names(raw: str) -> tuple[str, ...]:
    names = tuple(item.strip().lower() for item in raw.replace(",", " ").split())
    for name in names:
        if not name or any(c in name for c in "/@?#") or name.startswith("["):
            raise ValueError
    return names


class _Unknown(ValueError):
    """A value naming something that does not exist (its message says which)."""


def _parse_drivers(raw: str) -> tuple[str, ...]:
    """``[devices] drivers``: registry names (scanlet.devices.registry); empty = the default."""
    from scanlet.devices.registry import DRIVERS

    names = tuple(dict.fromkeys(item.strip().lower() for item in raw.replace(",", " ").split()))
    unknown = [name for name in names if name not in DRIVERS]
    if unknown:
        raise _Unknown(f"unknown driver {unknown[0]!r}")
    return names


def _drivers_expected() -> str:
    from scanlet.devices.registry import DRIVERS

    return ("driver names separated by commas, from: " + ", ".join(DRIVERS)
            + " (empty: every driver made for this system)")


def _parse_count(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError
    return value


def _parse_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError
    return level


def _parse_log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("text", "json"):
        raise ValueError
    return value


def _parse_quality(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 100:
        raise ValueError
    return value


def _parse_upload_targets(raw: str) -> dict[str, tuple[str, ...]]:
    """``ORIGIN -> TARGET`` entries, separated by commas or newlines, into origin -> targets."""
    from scanlet.upload.policy import UploadRules

    targets: dict[str, tuple[str, ...]] = {}
    for entry in raw.replace(",", "\n").splitlines():
        if not entry.strip():
            continue
        origin, arrow, target = entry.partition("->")
        origin, target = origin.strip(), target.strip()
        if not arrow or not origin or not target or " " in origin or " " in target:
            raise ValueError(f"not ORIGIN -> TARGET: {entry.strip()!r}")
        targets[origin] = (*targets.get(origin, ()), target)
    UploadRules(allowed_targets=targets)  # raises ValueError for a bad origin or target
    return targets


def _parse_dev_targets(raw: str) -> tuple[str, ...]:
    from scanlet.upload.policy import UploadRules

    entries = tuple(item for item in raw.replace(",", " ").split() if item)
    UploadRules(allow_loopback_targets=entries)  # raises ValueError for a non-loopback entry
    return entries


def _parse_path(raw: str) -> Path | None:
    return Path(raw).expanduser() if raw.strip() else None


@dataclass(frozen=True)
class _Key:
    section: str
    name: str
    parse: Callable[[str], Any]
    expected: str


@dataclass(frozen=True)
class Settings:
    """Typed configuration; one instance is loaded at start-up and passed down."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    listen_ipv6: bool = False
    allow_remote: bool = False
    public_names: tuple[str, ...] = ()
    https: bool = False
    https_port: int = DEFAULT_HTTPS_PORT
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    cert_check_hours: float = 6.0
    allowed_origins: tuple[str, ...] = ()
    pairing: bool = True
    token_days: int = 90
    consent_delay_ms: int = 1000
    max_body_kb: int = 1024
    max_import_mb: int = 200
    max_image_megapixels: int = 200
    max_decoded_mb: int = 256
    decode_memory_mb: int = 768
    max_running_decodes: int = 2
    decode_wait_seconds: float = 30.0
    pair_requests_per_minute: int = 5
    max_pending_pairings: int = 50
    max_pending_pairings_per_site: int = 3
    pair_unopened_timeout: float = 60.0
    scans_per_minute: int = 30
    ocr_tasks_per_minute: int = 12
    max_running_ocr_tasks: int = 2
    upload_tasks_per_minute: int = 30
    max_running_uploads: int = 2
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections_per_peer: int = 256
    sessions_per_client: int = 16
    tesseract: Path | None = None
    sane_config_dir: Path | None = None
    device_drivers: tuple[str, ...] = ()
    demo_system_backends: bool = True
    worker_idle_timeout: float = 60.0
    worker_progress_timeout: float = 60.0
    worker_start_timeout: float = 20.0
    list_max_age: float = 300.0
    ram_cache_mb: int = 256
    fsync: bool = True
    jpeg_quality: int = 85
    log_level: str = "INFO"
    log_format: str = "text"
    log_max_mb: int = 5
    log_backups: int = 5
    log_requests: bool = True
    dump_keep: int = 20
    monitor_health_interval: float = 2.0
    monitor_hang_timeout: float = 10.0
    monitor_start_timeout: float = 30.0
    monitor_backoff_max: float = 60.0
    monitor_crash_loop_restarts: int = 5
    monitor_crash_loop_window: float = 120.0
    monitor_crash_loop_pause: float = 300.0
    shutdown_grace: float = 10.0
    upload_allowed_targets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    upload_allow_private: bool = False
    upload_dev_targets: tuple[str, ...] = ()
    upload_retries: int = 3
    upload_timeout: float = 60.0
    upload_max_response_kb: int = 64
    compat_twain_types: bool = False
    extra: dict[str, str] = field(default_factory=dict)


_KEYS: dict[str, _Key] = {
    "host": _Key("server", "host", _parse_address,
                 "an IP address: 127.0.0.1 or ::1 (others need allow_remote = true)"),
    "port": _Key("server", "port", _parse_port, "an integer 0-65535 (0 = any free port)"),
    "listen_ipv6": _Key("server", "listen_ipv6", _parse_bool, "true or false"),
    "allow_remote": _Key("server", "allow_remote", _parse_bool, "true or false"),
    "public_names": _Key("server", "public_names", _parse_names,
                         "host names or addresses, separated by commas"),
    "https": _Key("server", "https", _parse_bool, "true or false"),
    "https_port": _Key("server", "https_port", _parse_port,
                       "an integer 0-65535 (0 = any free port)"),
    "tls_cert_file": _Key("tls", "cert_file", _parse_path, "a PEM certificate file path"),
    "tls_key_file": _Key("tls", "key_file", _parse_path, "a PEM private key file path"),
    "cert_check_hours": _Key("tls", "check_hours", _parse_positive, "hours, a number > 0"),
    "allowed_origins": _Key("security", "allowed_origins", _parse_origins,
                            "origins like https://app.example.com, separated by commas"),
    "pairing": _Key("security", "pairing", _parse_bool, "true or false"),
    "token_days": _Key("security", "token_days", _parse_positive_int, "days, an integer > 0"),
    "consent_delay_ms": _Key("security", "consent_delay_ms", _parse_count,
                             "milliseconds, an integer >= 0"),
    "max_body_kb": _Key("limits", "max_body_kb", _parse_positive_int,
                        "kilobytes, an integer > 0"),
    "max_import_mb": _Key("limits", "max_import_mb", _parse_positive_int,
                          "megabytes, an integer > 0"),
    "max_image_megapixels": _Key("limits", "max_image_megapixels", _parse_positive_int,
                                 "megapixels, an integer > 0"),
    "max_decoded_mb": _Key("limits", "max_decoded_mb", _parse_positive_int,
                           "megabytes, an integer > 0"),
    "decode_memory_mb": _Key("limits", "decode_memory_mb", _parse_positive_int,
                             "megabytes, an integer > 0"),
    "max_running_decodes": _Key("limits", "max_running_decodes", _parse_positive_int,
                                "an integer > 0"),
    "decode_wait_seconds": _Key("limits", "decode_wait_seconds", _parse_positive,
                                "seconds, a number > 0"),
    "pair_requests_per_minute": _Key("limits", "pair_requests_per_minute", _parse_count,
                                     "an integer >= 0 (0 = no pairing requests)"),
    "max_pending_pairings": _Key("limits", "max_pending_pairings", _parse_positive_int,
                                 "an integer > 0"),
    "max_pending_pairings_per_site": _Key("limits", "max_pending_pairings_per_site",
                                          _parse_positive_int, "an integer > 0"),
    "pair_unopened_timeout": _Key("limits", "pair_unopened_timeout", _parse_positive,
                                  "seconds, a number > 0"),
    "scans_per_minute": _Key("limits", "scans_per_minute", _parse_count,
                             "an integer >= 0 (0 = unlimited)"),
    "ocr_tasks_per_minute": _Key("limits", "ocr_tasks_per_minute", _parse_count,
                                 "an integer >= 0 (0 = unlimited)"),
    "max_running_ocr_tasks": _Key("limits", "max_running_ocr_tasks", _parse_count,
                                  "an integer >= 0 (0 = unlimited)"),
    "upload_tasks_per_minute": _Key("limits", "upload_tasks_per_minute", _parse_count,
                                    "an integer >= 0 (0 = unlimited)"),
    "max_running_uploads": _Key("limits", "max_running_uploads", _parse_count,
                                "an integer >= 0 (0 = unlimited)"),
    "header_timeout": _Key("limits", "header_timeout", _parse_positive,
                           "seconds, a number > 0"),
    "body_timeout": _Key("limits", "body_timeout", _parse_positive, "seconds, a number > 0"),
    "max_connections_per_peer": _Key("limits", "max_connections_per_peer", _parse_count,
                                     "an integer >= 0 (0 = unlimited)"),
    "sessions_per_client": _Key("limits", "sessions_per_client", _parse_positive_int,
                                "an integer > 0"),
    # Not checked here: a wrong path is an ocr_unavailable error naming it when OCR is used,
    # so a service that never OCRs still starts.
    "tesseract": _Key("ocr", "tesseract", _parse_path,
                      "the tesseract program: a path, or empty to search PATH"),
    "sane_config_dir": _Key("devices", "sane_config_dir", _parse_path, "a folder path"),
    "device_drivers": _Key("devices", "drivers", _parse_drivers, _drivers_expected()),
    "demo_system_backends": _Key("devices", "demo_system_backends", _parse_bool, "true or false"),
    "worker_idle_timeout": _Key("devices", "worker_idle_timeout", _parse_positive,
                                "seconds, a number > 0"),
    "worker_progress_timeout": _Key("devices", "worker_progress_timeout", _parse_positive,
                                    "seconds, a number > 0"),
    "worker_start_timeout": _Key("devices", "worker_start_timeout", _parse_positive,
                                 "seconds, a number > 0"),
    "list_max_age": _Key("devices", "list_max_age", _parse_positive,
                         "seconds, a number > 0"),
    "ram_cache_mb": _Key("buffer", "ram_cache_mb", _parse_positive_int,
                         "megabytes, an integer > 0"),
    "fsync": _Key("buffer", "fsync", _parse_bool, "true or false"),
    "jpeg_quality": _Key("buffer", "jpeg_quality", _parse_quality, "an integer 1-100"),
    "log_level": _Key("log", "level", _parse_level, "DEBUG, INFO, WARNING or ERROR"),
    "log_format": _Key("log", "format", _parse_log_format, "text or json"),
    "log_max_mb": _Key("log", "max_mb", _parse_positive_int, "megabytes, an integer > 0"),
    "log_backups": _Key("log", "backups", _parse_count, "an integer >= 0"),
    "log_requests": _Key("log", "requests", _parse_bool, "true or false"),
    "dump_keep": _Key("dump", "keep", _parse_positive_int, "an integer > 0"),
    "monitor_health_interval": _Key("monitor", "health_interval", _parse_positive,
                                    "seconds, a number > 0"),
    "monitor_hang_timeout": _Key("monitor", "hang_timeout", _parse_positive,
                                 "seconds, a number > 0"),
    "monitor_start_timeout": _Key("monitor", "start_timeout", _parse_positive,
                                  "seconds, a number > 0"),
    "monitor_backoff_max": _Key("monitor", "backoff_max", _parse_positive,
                                "seconds, a number > 0"),
    "monitor_crash_loop_restarts": _Key("monitor", "crash_loop_restarts", _parse_positive_int,
                                        "an integer > 0"),
    "monitor_crash_loop_window": _Key("monitor", "crash_loop_window", _parse_positive,
                                      "seconds, a number > 0"),
    "monitor_crash_loop_pause": _Key("monitor", "crash_loop_pause", _parse_positive,
                                     "seconds, a number > 0"),
    "shutdown_grace": _Key("server", "shutdown_grace", _parse_positive,
                           "seconds, a number > 0"),
    "upload_allowed_targets": _Key(
        "upload", "allowed_targets", _parse_upload_targets,
        "entries ORIGIN -> TARGET (a web origin, then an https/ftps origin or URL prefix), "
        "separated by commas or new lines"),
    "upload_allow_private": _Key("upload", "allow_private", _parse_bool, "true or false"),
    "upload_dev_targets": _Key("upload", "dev_targets", _parse_dev_targets,
                               "loopback URLs like http://127.0.0.1:8080, separated by commas"),
    "upload_retries": _Key("upload", "retries", _parse_count, "an integer >= 0"),
    "upload_timeout": _Key("upload", "timeout", _parse_positive, "seconds, a number > 0"),
    "upload_max_response_kb": _Key("upload", "max_response_kb", _parse_count,
                                   "kilobytes, an integer >= 0"),
    "compat_twain_types": _Key("compat", "twain_types", _parse_bool, "true or false"),
}


def load_settings(home: Home, **overrides: Any) -> Settings:
    """Read the service config, then the user config over it, then ``overrides``.

    Raises ConfigError naming the file, the key and the expected form for any bad value or
    unknown key.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    known = {(k.section, k.name): attr for attr, k in _KEYS.items()}
    for path in (home.service_config, home.user_config):
        if not path.exists():
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise ConfigError(f"{path}: not a valid INI file ({exc.message})", file=str(path)) \
                from exc
        for section in parser.sections():
            for name, raw in parser.items(section):
                attr = known.get((section, name))
                if attr is None:
                    raise ConfigError(
                        f"{path}: unknown key [{section}] {name}; see docs/configuration.md",
                        file=str(path), key=f"{section}.{name}",
                    )
                spec = _KEYS[attr]
                sources[attr] = str(path)
                try:
                    values[attr] = spec.parse(raw)
                except ValueError as exc:
                    why = f" ({exc})" if isinstance(exc, _Unknown) else ""
                    raise ConfigError(
                        f"{path}: [{section}] {name} = {raw!r} is invalid{why}; expected "
                        f"{spec.expected}",
                        file=str(path), key=f"{section}.{name}", expected=spec.expected,
                    ) from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    allowed = {f.name for f in fields(Settings)}
    unknown = set(values) - allowed
    if unknown:
        raise ConfigError(f"unknown settings: {sorted(unknown)}")
    if "host" in overrides and overrides["host"] is not None:
        sources["host"] = "--host"
        try:
            values["host"] = _parse_address(str(overrides["host"]))
        except ValueError as exc:
            raise ConfigError(f"--host {overrides['host']!r} is not an IP address",
                              key="server.host") from exc
    return _checked(Settings(**values), sources.get("host", "defaults"))


def _checked(settings: Settings, host_source: str) -> Settings:
    """Rules between keys: listening beyond loopback needs an explicit key, HTTPS and a cert."""
    if settings.host in LOOPBACK_LISTENERS:
        return settings
    if not settings.allow_remote:
        raise ConfigError(
            f"{host_source}: [server] host = {settings.host} is not a loopback address; "
            "listening on other addresses exposes the scanner to the network and needs "
            "[server] allow_remote = true", key="server.host", expected="127.0.0.1 or ::1",
            file=host_source)
    if settings.tls_cert_file is None or settings.tls_key_file is None or \
            not settings.public_names:
        raise ConfigError(
            "[server] allow_remote = true needs HTTPS with your own certificate: set [tls] "
            "cert_file and key_file, and [server] public_names to the names in that certificate",
            key="server.allow_remote")
    return settings


def is_remote(settings: Settings) -> bool:
    """True when the service listens beyond loopback (HTTPS only, tokens always)."""
    return settings.host not in LOOPBACK_LISTENERS


_SERVICE_CONFIG_TEMPLATE = """\
# Scanlet service configuration. Every key is documented in docs/configuration.md.
# Values in user.ini (same folder) override these.
[server]
# host = 127.0.0.1
# port = 18622
# listen_ipv6 = false
# allow_remote = false
# public_names =
# https = false
# https_port = 18623
# shutdown_grace = 10

[tls]
# cert_file =
# key_file =
# check_hours = 6

[security]
# allowed_origins =
# pairing = true
# token_days = 90
# consent_delay_ms = 1000

[limits]
# max_body_kb = 1024
# max_import_mb = 200
# max_image_megapixels = 200
# max_decoded_mb = 256
# decode_memory_mb = 768
# max_running_decodes = 2
# decode_wait_seconds = 30
# pair_requests_per_minute = 5
# max_pending_pairings = 50
# max_pending_pairings_per_site = 3
# pair_unopened_timeout = 60
# scans_per_minute = 30
# ocr_tasks_per_minute = 12
# max_running_ocr_tasks = 2
# upload_tasks_per_minute = 30
# max_running_uploads = 2
# header_timeout = 10
# body_timeout = 30
# max_connections_per_peer = 256
# sessions_per_client = 16

[ocr]
# tesseract =

[devices]
# drivers =
# sane_config_dir =
# demo_system_backends = true
# worker_idle_timeout = 60
# worker_progress_timeout = 60
# worker_start_timeout = 20
# list_max_age = 300

[buffer]
# ram_cache_mb = 256
# fsync = true
# jpeg_quality = 85

[log]
# level = INFO
# format = text
# max_mb = 5
# backups = 5
# requests = true

[dump]
# keep = 20

[monitor]
# health_interval = 2
# hang_timeout = 10
# start_timeout = 30
# backoff_max = 60
# crash_loop_restarts = 5
# crash_loop_window = 120
# crash_loop_pause = 300

[upload]
# allowed_targets = https://app.example.com -> https://files.example.com/incoming/
# allow_private = false
# dev_targets =
# retries = 3
# timeout = 60
# max_response_kb = 64

[compat]
# twain_types = false
"""
