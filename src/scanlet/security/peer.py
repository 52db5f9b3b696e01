"""Which local user opened a loopback connection (Linux), to tell the user's browser from
programs of other users on a shared computer.

Headers such as ``Origin`` and ``Sec-Fetch-Site`` cannot be forged by web pages but can be by
any local program. Where Scanlet trusts them without a token (its own pages, consent
decisions), it also asks the kernel who owns the client end of the connection: on Linux
``/proc/net/tcp`` and ``tcp6`` list every socket with its owner's uid. Elsewhere the answer
is "unknown" and the headers alone decide (docs/security.md, known limits).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import struct
from pathlib import Path

log = logging.getLogger(__name__)

PROC_NET = Path("/proc/net")


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
    if not (PROC_NET / "tcp").exists():
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
        except OSError:
            continue
    return None


def same_user(client: tuple[str, int] | None, server: tuple[str, int] | None) -> bool:
    """False only when the kernel says another user owns the client end of the connection."""
    if client is None or server is None:
        return True
    uid = connection_uid((str(client[0]), int(client[1])), (str(server[0]), int(server[1])))
    if uid is None or uid == os.getuid():
        return True
    log.warning("a connection from uid %s (not this service's user) posed as Scanlet's own "
                "page; treated as a foreign client", uid)
    return False
