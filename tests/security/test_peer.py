"""security/peer.py on real loopback sockets: the owner is read from the kernel, and anything
short of "this service's user" is foreign (fail closed)."""

from __future__ import annotations

import os
import socket
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanlet.security import peer
from scanlet.security.peer import PEER_STATE, Peer, decide_peer, same_user

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net")


@pytest.fixture
def connection() -> Iterator[tuple[socket.socket, socket.socket]]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        with client, accepted:
            yield client, accepted


@linux
def test_the_owner_of_a_live_connection_is_this_user(
        connection: tuple[socket.socket, socket.socket]) -> None:
    _, accepted = connection
    found = decide_peer(accepted.getpeername(), accepted.getsockname())
    assert found == Peer("127.0.0.1", os.getuid())
    assert same_user({"state": {PEER_STATE: found}})


@linux
def test_a_connection_gone_before_it_is_looked_up_is_foreign() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        with accepted:
            client_address, server_address = accepted.getpeername(), accepted.getsockname()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()  # an RST: the client socket leaves /proc/net/tcp at once
            found = decide_peer(client_address, server_address)
    assert found.uid is None
    assert not same_user({"state": {PEER_STATE: found}})


def test_without_proc_net_every_peer_is_foreign(
        connection: tuple[socket.socket, socket.socket], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """As on macOS and Windows: no lookup, so no connection is this user's."""
    monkeypatch.setattr(peer, "PROC_NET", tmp_path)  # an empty /proc/net: nothing to read
    _, accepted = connection
    found = decide_peer(accepted.getpeername(), accepted.getsockname())
    assert found.uid is None and not peer.lookup_available()
    assert not same_user({"state": {PEER_STATE: found}})


def test_no_record_and_non_loopback_peers_are_foreign() -> None:
    assert not same_user({})
    assert not same_user({"state": {PEER_STATE: "uid 0"}})
    assert decide_peer(("192.0.2.7", 40000), ("192.0.2.1", 18622)) == Peer("192.0.2.7", None)
    assert decide_peer(None, ("127.0.0.1", 18622)).uid is None
