"""The value types of the INI keys: how each is written, parsed and checked.

Each type is an ``Annotated`` pydantic type. A string (what an INI file holds) is parsed with
the syntax the key has always accepted; a typed value (``Settings(https=True)`` in code, or a
value already parsed from a file) goes through the same checks. Each type carries a
:class:`Form`: how a value is written, for error messages and the generated docs. A field may
name a more precise form in its own ``json_schema_extra`` (see ``sections.py``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field


@dataclass(frozen=True)
class Form:
    """How a value of a key is written (``"seconds, a number > 0"``)."""

    text: str


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _bool(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("not a truth value")


def _items(value: Any) -> Any:
    """A list written with commas and/or spaces, or an iterable given in code."""
    if isinstance(value, str):
        return tuple(item for item in value.replace(",", " ").split() if item)
    if isinstance(value, Iterable) and not isinstance(value, dict):
        return tuple(value)
    return value


def _address(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    host = value.strip()
    if host == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError("not an IP address") from None


def _origins(value: Any) -> Any:
    from scanlet.security.origins import parse_origin

    items = _items(value)
    if not isinstance(items, tuple):
        return items
    origins = []
    for item in items:
        origin = parse_origin(str(item))
        if origin is None:
            raise ValueError(f"{item!r} is not a web origin")
        if origin != str(item).rstrip("/").lower():
            raise ValueError(f"{item!r} is not in canonical form (write {origin!r})")
        origins.append(origin)
    return tuple(origins)


def _names(value: Any) -> Any:
    items = _items(value)
    if not isinstance(items, tuple):
        return items
    names = tuple(str(item).strip().lower() for item in items)
    for name in names:
        if not name or any(c in name for c in "/@?#") or name.startswith("["):
            raise ValueError(f"{name!r} is not a host name or address")
    return names


def _choice(*allowed: str, upper: bool = False) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        word = value.strip().upper() if upper else value.strip().lower()
        if word not in allowed:
            raise ValueError(f"not one of {', '.join(allowed)}")
        return word

    return check


def _path(value: Any) -> Any:
    if isinstance(value, str):
        return Path(value).expanduser() if value.strip() else None
    return value


def _upload_targets(value: Any) -> Any:
    """``ORIGIN -> TARGET`` entries, separated by commas or new lines, into origin -> targets;
    checked by the upload policy (a bad origin or target is a ValueError naming it)."""
    from scanlet.upload.policy import UploadRules

    if isinstance(value, str):
        targets: dict[str, tuple[str, ...]] = {}
        for entry in value.replace(",", "\n").splitlines():
            if not entry.strip():
                continue
            origin, arrow, target = entry.partition("->")
            origin, target = origin.strip(), target.strip()
            if not arrow or not origin or not target or " " in origin or " " in target:
                raise ValueError(f"not ORIGIN -> TARGET: {entry.strip()!r}")
            targets[origin] = (*targets.get(origin, ()), target)
        value = targets
    if isinstance(value, dict):
        value = {str(k): tuple(v) for k, v in value.items()}
        UploadRules(allowed_targets=value)
    return value


def _dev_targets(value: Any) -> Any:
    from scanlet.upload.policy import UploadRules

    entries = _items(value)
    if isinstance(entries, tuple):
        UploadRules(allow_loopback_targets=tuple(str(e) for e in entries))
    return entries


def _drivers(value: Any) -> Any:
    """Driver names, each one the registry knows (lower case, duplicates dropped)."""
    from scanlet.devices.registry import DRIVERS

    items = _items(value)
    if not isinstance(items, tuple):
        return items
    names: list[str] = []
    for item in items:
        name = str(item).strip().lower()
        if name not in DRIVERS:
            raise ValueError(f"unknown driver {name!r} (known: {', '.join(DRIVERS)})")
        if name not in names:
            names.append(name)
    return tuple(names)


Bool = Annotated[bool, BeforeValidator(_bool), Form("true or false")]
Port = Annotated[int, Field(ge=0, le=65535), Form("an integer 0-65535 (0 = any free port)")]
Seconds = Annotated[float, Field(gt=0), Form("seconds, a number > 0")]
Hours = Annotated[float, Field(gt=0), Form("hours, a number > 0")]
Positive = Annotated[int, Field(gt=0), Form("an integer > 0")]
Count = Annotated[int, Field(ge=0), Form("an integer >= 0")]
Unlimited = Annotated[int, Field(ge=0), Form("an integer >= 0 (0 = unlimited)")]
Kilobytes = Annotated[int, Field(gt=0), Form("kilobytes, an integer > 0")]
Megabytes = Annotated[int, Field(gt=0), Form("megabytes, an integer > 0")]
Days = Annotated[int, Field(gt=0), Form("days, an integer > 0")]
Quality = Annotated[int, Field(ge=1, le=100), Form("an integer 1-100")]
Address = Annotated[str, BeforeValidator(_address),
                    Form("an IP address: 127.0.0.1 or ::1 (others need allow_remote = true)")]
Names = Annotated[tuple[str, ...], BeforeValidator(_names),
                  Form("host names or addresses, separated by commas")]
Origins = Annotated[tuple[str, ...], BeforeValidator(_origins),
                    Form("origins like https://app.example.com, separated by commas")]
OptionalPath = Annotated[Path | None, BeforeValidator(_path), Form("a path")]
LogLevel = Annotated[str, BeforeValidator(_choice("DEBUG", "INFO", "WARNING", "ERROR",
                                                  upper=True)),
                     Form("DEBUG, INFO, WARNING or ERROR")]
LogFormat = Annotated[str, BeforeValidator(_choice("text", "json")), Form("text or json")]
UploadTargets = Annotated[
    dict[str, tuple[str, ...]], BeforeValidator(_upload_targets),
    Form("entries ORIGIN -> TARGET (a web origin, then an https/ftps origin or URL prefix), "
         "separated by commas or new lines")]
DevTargets = Annotated[tuple[str, ...], BeforeValidator(_dev_targets),
                       Form("loopback URLs like http://127.0.0.1:8080, separated by commas")]
Drivers = Annotated[tuple[str, ...], BeforeValidator(_drivers),
                    Form("driver names, separated by commas")]
