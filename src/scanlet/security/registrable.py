"""The site of a web origin: its registrable domain, as browsers group origins into sites.

Per-origin limits are too fine against one attacker: every subdomain of a domain it owns is
an origin of its own, and a page can load as many of them as it likes in frames. Limits keyed
by the registrable domain ("eTLD+1": ``a.b.attacker.example`` → ``attacker.example``,
``x.github.io`` → ``x.github.io``) treat all of them as one. The Public Suffix List comes from
the ``publicsuffixlist`` package, which ships it (no download at run time); its private
section is included, so separate tenants of hosting domains stay separate sites, as browsers
keep them.
"""

from __future__ import annotations

import ipaddress
from functools import cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList


@cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def site_of(origin: str) -> str:
    """The registrable domain of a canonical origin (``scheme://host[:port]``, see
    ``origins.parse_origin``); for an IP literal, ``localhost``, a single-label name or a
    public suffix itself, the host. Scheme and port are dropped: browsers' sites ignore the
    port, and an attacker holds both schemes of its domain."""
    host = (urlsplit(origin).hostname or origin).lower()
    if _is_ip(host) or "." not in host:
        return host
    return _suffixes().privatesuffix(host) or host
