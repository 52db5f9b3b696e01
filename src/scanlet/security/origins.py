"""Web origins in their one canonical form, so that allow-lists compare exact strings.

A browser sends ``Origin`` as ``scheme://host[:port]`` with a lower-case host and without
the default port; anything else (paths, user info, ``null``, other schemes) is not an origin
Scanlet will ever allow. Look-alike hosts fail because nothing is matched by prefix or suffix.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from scanlet.errors import InvalidSetting

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _valid_host(host: str) -> bool:
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return host.endswith("]")
    if not host or len(host) > 253 or host.endswith("."):
        return False
    return all(_HOST_LABEL.match(label) for label in host.split("."))


def parse_origin(value: str) -> str | None:
    """The canonical form of a serialized origin, or None if it is not a usable origin."""
    value = value.strip()
    if not value or value == "null" or len(value) > 300 or any(ord(c) < 33 for c in value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or parts.username is not None or parts.password is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{ipaddress.IPv6Address(host).compressed}]" if _is_ipv6(host) else ""
    if not _valid_host(host):
        return None
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _is_ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def own_origins(scheme: str, port: int, names: tuple[str, ...] = LOOPBACK_NAMES) -> set[str]:
    """The origins of Scanlet's own pages on one listener."""
    suffix = "" if port == _DEFAULT_PORTS[scheme] else f":{port}"
    return {f"{scheme}://{name}{suffix}" for name in names}


def require_origin(raw: str) -> str:
    """:func:`parse_origin` for an origin a user or admin typed: InvalidSetting (``field``
    origin) when it is none."""
    origin = parse_origin(raw)
    if origin is None:
        raise InvalidSetting(f"{raw[:100]!r} is not a web origin like https://app.example.com",
                             field="origin")
    return origin
