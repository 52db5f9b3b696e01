"""Which URLs Scanlet may upload to, and which address to connect to (SSRF defence).

Scanlet's HTTP client is outside the browser's same-origin policy and Local Network Access, so
"upload to URL X" would otherwise let any page reach the intranet, cloud metadata or other
loopback services. :func:`check_target` decides, before any byte is sent:

* A web page (principal kind ``site``) uploads only to its own origin, or to targets an admin
  listed for that origin (:attr:`UploadRules.allowed_targets`, an exact canonical origin or a
  URL prefix that ends on a path boundary). API keys and Scanlet's own pages are trusted
  clients: any target that passes the address rules.
* TLS only: ``https`` and ``ftps`` (explicit TLS, ``AUTH TLS`` on port 21 as
  :class:`ftplib.FTP_TLS` does; ``ftps``/``ftp`` only when :attr:`UploadRules.allow_ftp`).
  Plain ``http``/``ftp`` only for the loopback development targets an admin enabled
  (:attr:`UploadRules.allow_loopback_targets`), and only on exactly their port.
* No user info in the URL (credentials go in headers); only standard host forms: a DNS name,
  a dotted quad or a bracketed IPv6 address (``2130706433``, ``0x7f.1`` or ``127.1`` are refused,
  since resolvers would read them as 127.0.0.1).
* The host is resolved once; every address of the answer must be acceptable (a DNS answer
  mixing public and private addresses is refused), and the client connects to the returned
  :attr:`CheckedTarget.address` only, with :attr:`CheckedTarget.server_hostname` for SNI and
  certificate checks. Refused: loopback (except enabled development targets), private, ULA and
  CGNAT ranges (unless :attr:`UploadRules.allow_private`), link-local, cloud metadata,
  unspecified, multicast, broadcast and reserved addresses, also inside IPv4-mapped, 6to4,
  Teredo and NAT64 IPv6 forms.

The client that uses the result (later) must not follow redirects and must never forward
browser cookies. Errors and logs name a target as ``scheme://host:port/path`` only: a query
string may carry presigned credentials.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from scanlet.errors import UploadTargetRefused

__all__ = [
    "CheckedTarget",
    "Requester",
    "Resolver",
    "UploadRules",
    "check_target",
    "default_resolve",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

DEFAULT_PORTS = {"https": 443, "ftps": 21, "http": 80, "ftp": 21}
TLS_SCHEMES = frozenset({"https", "ftps"})
FTP_SCHEMES = frozenset({"ftp", "ftps"})

# Instance metadata services: AWS/GCP/Azure/OpenStack/DigitalOcean (169.254.169.254), AWS ECS task
# metadata (169.254.170.2), AWS IPv6 IMDS (fd00:ec2::254), Alibaba (100.100.100.200), Oracle
# (192.0.0.192). Never allowed, not even with allow_private.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200",
              "192.0.0.192")
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_DOTTED_QUAD = re.compile(r"^[0-9]+(\.[0-9]+){3}$")
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_MAX_URL = 8192


class Requester(Protocol):
    """Who asks for the upload: :class:`scanlet.security.policy.Principal` fits."""

    @property
    def kind(self) -> str: ...  # "site" | "key" | "self" (anything else is refused)

    @property
    def origin(self) -> str | None: ...


@dataclass(frozen=True)
class CheckedTarget:
    """A target that passed the policy: connect to ``address`` (pinned), never re-resolve."""

    scheme: str
    host: str  # lower case; IPv6 without brackets
    port: int
    path: str  # at least "/"
    address: str  # the one checked IP address to connect to
    server_hostname: str | None  # for TLS SNI and certificate checks; None for plain schemes
    query: str = field(default="", repr=False)  # may hold presigned credentials: never log it

    @property
    def tls(self) -> bool:
        return self.scheme in TLS_SCHEMES

    @property
    def origin(self) -> str:
        return _origin(self.scheme, self.host, self.port)

    @property
    def request_target(self) -> str:
        """Path and query, as sent in the request line."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def safe_url(self) -> str:
        """``scheme://host:port/path``: the form to show in messages and logs."""
        return _safe(self.scheme, self.host, self.port, self.path)


@dataclass(frozen=True)
class _Pattern:
    """An admin-configured target: a canonical origin, optionally narrowed to a path prefix."""

    origin: str
    prefix: str  # "" (whole origin) or a path without its trailing "/"

    def matches(self, origin: str, path: str) -> bool:
        if origin != self.origin:
            return False
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")


@dataclass(frozen=True)
class UploadRules:
    """The admin's upload settings (the config layer builds this later).

    ``allowed_targets`` maps a requesting web origin to extra target origins or URL prefixes,
    e.g. ``{"https://app.example.com": ("https://files.example.com",
    "https://bucket.s3.amazonaws.com/scans/")}``. ``allow_loopback_targets`` lists development
    targets such as ``"http://127.0.0.1:8080"``: only these loopback origins are reachable, and
    plain ``http``/``ftp`` is accepted only for them. Invalid entries raise :class:`ValueError`.
    """

    allowed_targets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    allow_private: bool = False
    allow_loopback_targets: tuple[str, ...] = ()
    allow_ftp: bool = True
    _allowed: dict[str, tuple[_Pattern, ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )
    _loopback: tuple[_Pattern, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        allowed: dict[str, tuple[_Pattern, ...]] = {}
        for requester, targets in self.allowed_targets.items():
            pattern = _pattern(requester, "allowed_targets key")
            if pattern.prefix or pattern.origin.split(":", 1)[0] not in ("http", "https"):
                raise ValueError(f"allowed_targets key {requester!r} is not a web origin")
            if isinstance(targets, str):
                raise ValueError(f"allowed_targets[{requester!r}] must be a list of URLs")
            patterns = tuple(_pattern(t, f"allowed_targets[{requester!r}]") for t in targets)
            allowed[pattern.origin] = allowed.get(pattern.origin, ()) + patterns
        loopback = []
        for entry in self.allow_loopback_targets:
            pattern = _pattern(entry, "allow_loopback_targets")
            host = urlsplit(pattern.origin).hostname or ""
            if host != "localhost" and not _is_loopback_literal(host):
                raise ValueError(
                    f"allow_loopback_targets entry {entry!r} is not a loopback address "
                    "(use 127.0.0.1, [::1] or localhost)"
                )
            loopback.append(pattern)
        object.__setattr__(self, "_allowed", allowed)
        object.__setattr__(self, "_loopback", tuple(loopback))

    def allowed_for(self, origin: str) -> tuple[_Pattern, ...]:
        return self._allowed.get(origin, ())

    def is_dev_target(self, origin: str, path: str) -> bool:
        return any(p.matches(origin, path) for p in self._loopback)


def default_resolve(host: str, port: int) -> list[str]:
    """The host's addresses (unique, in the resolver's order) via ``getaddrinfo``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UploadTargetRefused(
            f"Cannot resolve the upload host {host!r}: {exc}", reason="resolve", host=host
        ) from exc
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def check_target(
    url: str,
    *,
    requester: Requester,
    rules: UploadRules,
    resolve: Resolver = default_resolve,
) -> CheckedTarget:
    """Check ``url`` for ``requester`` under ``rules``; raise :class:`UploadTargetRefused`."""
    scheme, host, port, path, query, literal = _parse(url)
    safe = _safe(scheme, host, port, path)
    origin = _origin(scheme, host, port)

    def refuse(reason: str, why: str, **detail: str) -> UploadTargetRefused:
        return UploadTargetRefused(
            f"Upload to {safe} refused: {why}", reason=reason, target=safe, **detail
        )

    dev = rules.is_dev_target(origin, path)
    if scheme in FTP_SCHEMES and not rules.allow_ftp:
        raise refuse("scheme", "FTP uploads are turned off")
    if scheme not in TLS_SCHEMES and not dev:
        raise refuse(
            "scheme",
            f"plain {scheme} is allowed only for loopback development targets an admin "
            "enabled; use https or ftps",
        )

    if requester.kind == "site":
        own = requester.origin
        if own is None or not (
            origin == own or any(p.matches(origin, path) for p in rules.allowed_for(own))
        ):
            raise refuse("origin", "a web page may upload only to its own origin or to "
                         "targets an admin allowed for it")
    elif requester.kind not in ("key", "self"):
        raise refuse("origin", "this client may not upload")

    if literal is not None:
        addresses = [literal]
    else:
        try:
            answer = resolve(host, port)
        except UploadTargetRefused as exc:
            raise refuse("resolve", f"cannot resolve {host!r}") from exc
        except (OSError, UnicodeError) as exc:
            raise refuse("resolve", f"cannot resolve {host!r}: {exc}") from exc
        addresses = []
        for item in answer:
            try:
                addresses.append(_ip(item))
            except ValueError:
                raise refuse("resolve", f"the resolver answered a non-address {item!r}") from None
        if not addresses:
            raise refuse("resolve", f"{host!r} has no address")

    for ip in addresses:
        problem = _address_problem(ip, rules, dev)
        if problem is not None:
            raise refuse("address", f"{host!r} is (or resolves to) {problem} address {ip}",
                         address=str(ip), category=problem)

    return CheckedTarget(
        scheme=scheme,
        host=host,
        port=port,
        path=path,
        address=str(addresses[0]),
        server_hostname=host if scheme in TLS_SCHEMES else None,
        query=query,
    )


def _address_problem(ip: IPAddress, rules: UploadRules, dev: bool) -> str | None:
    """Why ``ip`` may not be connected to (a category word), or None if it may."""
    if dev:
        # A development target is reachable only on loopback, whatever its name resolves to.
        return None if ip.is_loopback else "a non-loopback (for a development target)"
    for candidate in (ip, *_embedded_ipv4(ip)):
        problem = _single_problem(candidate, rules)
        if problem is not None:
            return problem
    return None


def _single_problem(ip: IPAddress, rules: UploadRules) -> str | None:
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata"
    if ip.is_unspecified:
        return "an unspecified"
    if ip.is_loopback:
        return "a loopback"
    if ip.is_link_local:
        return "a link-local"
    if ip.is_multicast:
        return "a multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address("255.255.255.255"):
        return "a broadcast"
    if ip.is_reserved:
        return "a reserved"
    if not ip.is_global:  # private, ULA, CGNAT, documentation, benchmarking, ...
        return None if rules.allow_private else "a private"
    return None


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses that an IPv6 address carries (mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _ip(text: str) -> IPAddress:
    """An address from a resolver answer; a zone (``fe80::1%eth0``) is kept out but stays
    link-local, hence refused."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def _parse(url: str) -> tuple[str, str, int, str, str, IPAddress | None]:
    """(scheme, host, port, path, query, IP literal or None) of an absolute URL."""

    def bad(why: str) -> UploadTargetRefused:
        # Never echo the URL: its query may carry credentials.
        return UploadTargetRefused(f"Upload target refused: {why}", reason="url")

    if not isinstance(url, str) or not url or len(url) > _MAX_URL:
        raise bad("not a URL (empty or too long)")
    if any(ord(c) < 33 or ord(c) == 127 or c == "\\" for c in url):
        raise bad("the URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port_given = parts.port
    except ValueError:
        raise bad("the URL is malformed (bad host or port)") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UploadTargetRefused(
            "Upload target refused: only https and ftps URLs are accepted", reason="scheme"
        )
    if "@" in parts.netloc:
        raise UploadTargetRefused(
            "Upload target refused: the URL carries user info; send credentials in headers",
            reason="credentials",
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise bad("the URL has no host")
    if port_given == 0:
        raise bad("port 0")
    port = port_given if port_given is not None else DEFAULT_PORTS[scheme]
    path = parts.path or "/"
    if not path.startswith("/"):
        raise bad("the URL path is not absolute")

    literal: IPAddress | None = None
    if parts.netloc.startswith("["):
        if "%" in host:
            raise bad("IPv6 zone identifiers are not accepted")
        try:
            literal = ipaddress.IPv6Address(host)
        except ValueError:
            raise bad("the bracketed host is not an IPv6 address") from None
        host = literal.compressed
    elif _DOTTED_QUAD.match(host):
        try:
            literal = ipaddress.IPv4Address(host)  # refuses leading zeros (octal) and > 255
        except ValueError:
            raise bad("the host is not a standard dotted-quad IPv4 address") from None
    else:
        _check_name(host, bad)
    return scheme, host, port, path, parts.query, literal


def _check_name(host: str, bad: Callable[[str], UploadTargetRefused]) -> None:
    if not host.isascii():
        raise bad("the host name is not ASCII; use its punycode (xn--) form")
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise bad("the host is not a valid DNS name")
    # Integer, hex, octal and short forms (2130706433, 0x7f.1, 127.1, 0x7f000001): resolvers
    # read these as IPv4 addresses, so they are only accepted as dotted quads.
    if _NUMERIC_LABEL.match(labels[-1]) or _inet_aton_accepts(host):
        raise bad("non-standard IPv4 forms are not accepted; write a dotted quad")


def _inet_aton_accepts(host: str) -> bool:
    try:
        socket.inet_aton(host)  # local parsing only, no lookup
    except OSError:
        return False
    return True


def _is_loopback_literal(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(scheme: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    if port == DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{shown}"
    return f"{scheme}://{shown}:{port}"


def _safe(scheme: str, host: str, port: int, path: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}{path}"


def _pattern(entry: str, where: str) -> _Pattern:
    """An admin entry (origin or URL prefix) in canonical form; ValueError if unusable."""
    if not isinstance(entry, str):
        raise ValueError(f"{where}: {entry!r} is not a URL")
    try:
        scheme, host, port, path, query, _literal = _parse(entry.strip())
    except UploadTargetRefused as exc:
        raise ValueError(f"{where}: {entry!r} is not a usable URL ({exc.message})") from None
    if query or "#" in entry:
        raise ValueError(f"{where}: {entry!r} must not have a query or fragment")
    return _Pattern(_origin(scheme, host, port), path.rstrip("/"))
