"""The ``source`` of ``/api/storage/documents/{uid}/pages`` and ``/api/process/*``: a page URL.

Clients pass the ``url`` that ``next-page-info`` gave them,
``<base>/api/device/scanners/jobs/<jobuid>/next-page?page=<page id>``. Scanlet never fetches
it (no server-side request to a URL a caller chose): the URL is parsed, it must point at this
service itself, and its ``page`` query parameter names the buffer page. The job uid in the
path is not needed to find the page (a page outlives its job in the buffer).

"This service itself" means: scheme http or https, no user name or password, a port this
service listens on (the listener the request came through, or any other bound listener), and
a host that is a loopback address, ``localhost``, a host a listener is bound to, or the host
the request itself was sent to (already checked by the access middleware). Anything else is
refused with 400 (code -2113).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from fastapi import Request

from scanlet.compat.passwords import DocumentPasswords, sent_password
from scanlet.core.runtime import Runtime
from scanlet.errors import InvalidSetting
from scanlet.models import PageInfo

#: The path of a page URL: ``.../api/device/scanners/jobs/<jobuid>/next-page``.
_PAGE_PATH = re.compile(r"(?:^|/)api/device/scanners/jobs/[^/]+/next-page/?$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: The password of the source page's document (defined by the reference's .NET client).
SOURCE_PASSWORD_HEADER = "DWT-SOURCE-PASSWORD"
MAX_URL_CHARS = 4096


@dataclass(frozen=True)
class Here:
    """Where this service answers: the request's own host and port, and the bound
    listeners' hosts and ports."""

    host: str
    port: int
    listener_hosts: frozenset[str] = frozenset()
    listener_ports: frozenset[int] = frozenset()

    @classmethod
    def of(cls, host: str | None, port: int | None, listeners: Iterable[tuple[str, int]] = (),
           scheme: str = "http") -> Here:
        """From the request's host and port (``request.url``) and ``(host, port)`` pairs of
        the bound listeners."""
        pairs = list(listeners)
        return cls(host=_norm_host(host or ""),
                   port=port if port is not None else _DEFAULT_PORTS.get(scheme, 80),
                   listener_hosts=frozenset(_norm_host(h) for h, _ in pairs),
                   listener_ports=frozenset(p for _, p in pairs))

    def ports(self) -> frozenset[int]:
        return self.listener_ports | {self.port}

    def hosts_ok(self, host: str) -> bool:
        if host in ("localhost", self.host) or host in self.listener_hosts:
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def _norm_host(host: str) -> str:
    return host.strip().strip("[]").lower().rstrip(".")


def _refuse(message: str) -> InvalidSetting:
    return InvalidSetting(message, field="source")


def page_id_of(source: object, here: Here) -> str:
    """The buffer page id named by the page URL ``source``; InvalidSetting (400, -2113) for
    anything that is not a page URL of this service. Whether the page exists is the
    caller's check (404, -1040)."""
    if not isinstance(source, str) or not source.strip():
        raise _refuse("source must be the page URL from next-page-info")
    if len(source) > MAX_URL_CHARS:
        raise _refuse(f"source is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(source.strip())
        port = parts.port
    except ValueError as exc:
        raise _refuse(f"source is not a valid URL: {exc}") from None
    if parts.scheme not in _DEFAULT_PORTS:
        raise _refuse("source must be an http or https URL of this service")
    if parts.username is not None or parts.password is not None:
        raise _refuse("source must not carry a user name or password")
    host = _norm_host(parts.hostname or "")
    if not host or not here.hosts_ok(host):
        raise _refuse(f"source must be a page URL of this service; Scanlet does not fetch "
                      f"other hosts ({host or 'no host'})")
    if (port if port is not None else _DEFAULT_PORTS[parts.scheme]) not in here.ports():
        raise _refuse("source must be a page URL of this service (its port is not one "
                      "Scanlet listens on)")
    if not _PAGE_PATH.search(parts.path):
        raise _refuse("source must be a next-page URL: "
                      ".../api/device/scanners/jobs/<jobuid>/next-page?page=<page id>")
    pages = parse_qs(parts.query).get("page", [])
    if len(pages) != 1 or not pages[0].strip():
        raise _refuse("source must name one page: ...?page=<page id>")
    return pages[0].strip()


def here_of(request: Request, rt: Runtime) -> Here:
    """Where this service answers, for the request at hand."""
    url = request.url
    listeners = [(lis.host, lis.port) for lis in rt.listeners]
    server = request.scope.get("server")
    if isinstance(server, (tuple, list)) and len(server) == 2 and isinstance(server[1], int):
        listeners.append((str(server[0]), server[1]))
    return Here.of(url.hostname, url.port, listeners, scheme=url.scheme)


def source_page(request: Request, rt: Runtime, passwords: DocumentPasswords,
                source: object) -> PageInfo:
    """The buffer page a ``source`` page URL names: 400 (-2113) for a URL that is not one of
    this service's page URLs, 404 (-1040) for an unknown page, and 403 (-1043) when the
    page's document is password-protected and the request does not send that password
    (``DWT-SOURCE-PASSWORD``, else ``DWT-DOC-PASSWORD`` / ``X-DICS-DOC-PASSWORD``).
    Blocking (database, scrypt): call from a worker thread."""
    page = rt.store.get_page(page_id_of(source, here_of(request, rt)))
    sent = request.headers.get(SOURCE_PASSWORD_HEADER) or sent_password(request.headers)
    passwords.verify(page.document_id, sent)
    return page
