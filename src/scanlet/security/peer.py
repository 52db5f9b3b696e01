"""Which local user opened a connection (Linux), to tell the user's browser from programs of
other users on a shared computer.

Headers such as ``Origin`` and ``Sec-Fetch-Site`` cannot be forged by web pages but can be by
any local program. Where Scanlet trusts them without a token (its own pages, consent
decisions, keyless compatibility calls), it also needs the kernel's word on who owns the
client end of the connection: on Linux ``/proc/net/tcp`` and ``tcp6`` list every socket with
its owner's uid.

The answer is decided once, when the connection is accepted (service/connections.py puts a
:class:`Peer` into the connection's ASGI scope state), never when a request runs: a client
that sends its request and resets the connection at once is gone from those tables by then.
Everything that is not a positive "this service's user" is foreign (fail closed): no record,
a connection that was gone before it was accepted, a non-loopback client, and every platform
without ``/proc/net`` (macOS, Windows), where the features that need the check are off
(docs/security.md, known limits).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROC_NET = Path("/proc/net")
#: The key of a connection's :class:`Peer` in the ASGI scope's ``state``.
PEER_STATE = "scanlet.peer"


@dataclass(frozen=True)
class Peer:
    """The other end of one accepted connection, as decided when it was accepted."""

    address: str  # the client's IP address ("" when the transport had none)
    uid: int | None  # the OS user owning the client socket; None: unknown

    @property
    def key(self) -> str:
        """What per-peer limits count by: the OS user when known, else the address."""
        return f"uid:{self.uid}" if self.uid is not None else f"address:{self.address}"

    @property
    def is_service_user(self) -> bool:
        """Whether the kernel said this service's own user opened the connection."""
        return self.uid is not None and self.uid == os.getuid()


def lookup_available() -> bool:
    """Whether this platform can tell who opened a loopback connection (Linux /proc/net)."""
    return sys.platform.startswith("linux") and (PROC_NET / "tcp").exists()


def _encode(host: str, port: int) -> tuple[str, str]:
    """An address as /proc/net/tcp prints it (32-bit words in host byte order), v4 and v6."""
    address = ipaddress.ip_address(host)
    if isinstance(address, ipaddress.IPv4Address):
        v4 = f"{struct.unpack('=I', address.packed)[0]:08X}:{port:04X}"
        mapped = ipaddress.IPv6Address(f"::ffff:{host}")
        return v4, _encode_v6(mapped, port)
    if address.ipv4_mapped is not None:
        return _encode(str(address.ipv4_mapped), port)[0], _encode_v6(address, port)
    return "", _encode_v6(address, port)


def _encode_v6(address: ipaddress.IPv6Address, port: int) -> str:
    words = struct.unpack("=4I", address.packed)
    return "".join(f"{w:08X}" for w in words) + f":{port:04X}"


def connection_uid(client: tuple[str, int], server: tuple[str, int]) -> int | None:
    """The uid owning the client end of a loopback TCP connection, or None if unknown."""
    if not lookup_available():
        return None
    try:
        client_v4, client_v6 = _encode(*client)
        server_v4, server_v6 = _encode(*server)
    except ValueError:
        return None
    for name, local, remote in (("tcp", client_v4, server_v4), ("tcp6", client_v6, server_v6)):
        if not local:
            continue
        try:
            with open(PROC_NET / name, encoding="ascii") as fh:
                next(fh, None)
                for line in fh:
                    fields = line.split()
                    if len(fields) > 7 and fields[1] == local and fields[2] == remote:
                        return int(fields[7])
        except (OSError, ValueError):
            continue
    return None


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


def decide_peer(client: tuple[str, int] | None, server: tuple[str, int | None] | None) -> Peer:
    """Who opened a just-accepted connection (the uid only for loopback clients on Linux)."""
    if client is None:  # no peer address: the connection was reset before it was accepted
        log.info("a connection was gone before its peer could be read; treated as foreign")
        return Peer("", None)
    host = str(client[0])
    if server is None or server[1] is None or not _is_loopback(host):
        return Peer(host, None)
    uid = connection_uid((host, int(client[1])), (str(server[0]), int(server[1])))
    if uid is None and lookup_available():
        log.info("the connection from %s:%s was gone before its owner could be read; "
                 "treated as a foreign client", host, client[1])
    return Peer(host, uid)


def peer_of(scope: Mapping[str, Any]) -> Peer | None:
    """The Peer decided when the request's connection was accepted (None: no record)."""
    peer = (scope.get("state") or {}).get(PEER_STATE)
    return peer if isinstance(peer, Peer) else None


def same_user(scope: Mapping[str, Any]) -> bool:
    """True only when the connection's record says this service's user opened it."""
    peer = peer_of(scope)
    if peer is not None and peer.is_service_user:
        return True
    if peer is not None and peer.uid is not None:
        log.warning("a connection from uid %s (not this service's user) posed as Scanlet's own "
                    "page or a local program; treated as a foreign client", peer.uid)
    return False
