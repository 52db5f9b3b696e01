"""Loading the settings: ``scanlet.ini``, then ``user.ini`` over it, then command-line overrides.

Each file is checked on its own against :class:`~scanlet.config.sections.ScanletConfig`, so a
mistake is reported in the file (and on the line) where it is, even when the other file sets
the same key. Unknown sections and keys are errors (they are usually typos), with the closest
known name when there is one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from scanlet.config.home import Home
from scanlet.config.ini import IniFile, read_ini
from scanlet.config.sections import ScanletConfig, sections
from scanlet.config.settings import LOOPBACK_LISTENERS, Key, Settings, key_table
from scanlet.errors import ConfigError

_SEE_DOCS = "see docs/configuration.md"


def load_settings(home: Home, **overrides: Any) -> Settings:
    """Read the service config, then the user config over it, then ``overrides`` (attribute
    names; None means not given).

    Raises ConfigError naming the file, the line, the key, what is wrong and the expected form
    for any bad value, and the file and line of any unknown section or key.
    """
    values: dict[str, Any] = {}
    sources: dict[str, tuple[str, int | None]] = {}  # attribute -> (file or option, line)
    for path in (home.service_config, home.user_config):
        if path.exists():
            values.update(_file_values(read_ini(path), sources))
    given = {name: value for name, value in overrides.items() if value is not None}
    unknown = set(given) - set(Settings.model_fields)
    if unknown:
        raise ConfigError(f"unknown settings: {sorted(unknown)}")
    values.update(given)
    sources.update({name: (f"--{name.replace('_', '-')}", None) for name in given})
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        raise _override_error(exc, given) from exc
    return _checked(settings, sources.get("host", ("defaults", None)))


def _file_values(ini: IniFile, sources: dict[str, tuple[str, int | None]]) -> dict[str, Any]:
    """The typed values ``ini`` sets, by attribute name; records where each came from."""
    known_sections = sections()
    table = key_table()
    for section, line in ini.sections.items():
        if section not in known_sections:
            raise ConfigError(
                f"{ini.where(line)}: unknown section [{section}]{_close(section, known_sections)}"
                f"; the sections are {', '.join(known_sections)}; {_SEE_DOCS}",
                file=str(ini.path), line=line, section=section)
    data: dict[str, dict[str, str]] = {}
    for entry in ini.entries:
        if (entry.section, entry.name) not in table:
            names = [n for s, n in table if s == entry.section]
            raise ConfigError(
                f"{ini.where(entry.line)}: unknown key [{entry.section}] {entry.name}"
                f"{_close(entry.name, names)}; {_SEE_DOCS}",
                file=str(ini.path), line=entry.line, key=f"{entry.section}.{entry.name}")
        data.setdefault(entry.section, {})[entry.name] = entry.raw
    try:
        config = ScanletConfig.model_validate(data)
    except ValidationError as exc:
        raise _value_error(ini, exc) from exc
    values: dict[str, Any] = {}
    for entry in ini.entries:
        key = table[(entry.section, entry.name)]
        values[key.attr] = getattr(getattr(config, entry.section), key.attr)
        sources[key.attr] = (str(ini.path), entry.line)
    return values


def _value_error(ini: IniFile, exc: ValidationError) -> ConfigError:
    """The first (top-most) bad value of ``ini``, named with file, line, key, why and form."""
    table = key_table()
    entries = {(e.section, e.name): e for e in ini.entries}
    problems = []
    for error in exc.errors():
        loc = error["loc"]
        entry = entries.get((str(loc[0]), str(loc[1]))) if len(loc) >= 2 else None
        if entry is not None:
            problems.append((entry, error))
    if not problems:  # not expected: every key was checked to exist before
        return ConfigError(f"{ini.path}: invalid ({exc})", file=str(ini.path))
    problems.sort(key=lambda p: p[0].line)
    entry, error = problems[0]
    key = table[(entry.section, entry.name)]
    more = len(problems) - 1
    also = f" (and {more} more {'problem' if more == 1 else 'problems'} in this file)" \
        if more else ""
    return ConfigError(
        f"{ini.where(entry.line)}: [{entry.section}] {entry.name} = {entry.raw!r} is invalid: "
        f"{_why(error)}; expected {key.form}{also}",
        file=str(ini.path), line=entry.line, key=key.dotted, expected=key.form,
        reason=_why(error))


def _override_error(exc: ValidationError, given: dict[str, Any]) -> ConfigError:
    """A bad command-line override (``--host``, ``--port``), named as the option."""
    by_attr = {k.attr: k for k in key_table().values()}
    error = exc.errors()[0]
    attr = str(error["loc"][0]) if error["loc"] else ""
    key: Key | None = by_attr.get(attr)
    value = given.get(attr)
    option = f"--{attr.replace('_', '-')}"
    if attr == "host":
        return ConfigError(f"--host {value!r} is not an IP address", key="server.host")
    if key is None:
        return ConfigError(f"invalid settings: {exc}")
    return ConfigError(f"{option} {value!r} is invalid: {_why(error)}; expected {key.form}",
                       key=key.dotted, expected=key.form)


def _why(error: Mapping[str, Any]) -> str:
    """pydantic's message, as a clause ("input should be greater than 0")."""
    message = str(error["msg"]).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _close(name: str, known: Any) -> str:
    match = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {match[0]}?)" if match else ""


def _checked(settings: Settings, host_source: tuple[str, int | None]) -> Settings:
    """Rules between keys: listening beyond loopback needs an explicit key, HTTPS and a cert.
    ``host_source`` is where ``host`` was set: a file and line, ``--host`` or the defaults."""
    if settings.host in LOOPBACK_LISTENERS:
        return settings
    if not settings.allow_remote:
        source, line = host_source
        where = f"{source}, line {line}" if line is not None else source
        raise ConfigError(
            f"{where}: [server] host = {settings.host} is not a loopback address; "
            "listening on other addresses exposes the scanner to the network and needs "
            "[server] allow_remote = true", key="server.host", expected="127.0.0.1 or ::1",
            file=source, line=line)
    if settings.tls_cert_file is None or settings.tls_key_file is None or \
            not settings.public_names:
        raise ConfigError(
            "[server] allow_remote = true needs HTTPS with your own certificate: set [tls] "
            "cert_file and key_file, and [server] public_names to the names in that certificate",
            key="server.allow_remote")
    return settings

