"""The preview backfill's helper process (see backfill.py): page ids in, one answer each out.

JSON lines (the worker-process kit, :mod:`scanlet.childproc`): stdin, the handshake
``{"key": <cache key, hex>}`` on the first line, then ``{"page": <id>}`` per page; stdout,
``{"ev": "ok", "page": <id>}`` or ``{"ev": "skip", "page": <id>, "code": <error code>}`` per
page; stderr, log records as JSON lines that the service re-logs. Ends at EOF. Runs at the
lowest CPU priority, set first thing. The service, which holds the key already, hands it
over, so the helper neither asks the OS key store (a D-Bus round trip, maybe an unlock
prompt) nor imports keyring.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from scanlet.buffer.store import PageStore
from scanlet.childproc import LINE_LIMIT, claim_stdout, dumps_line, parse_line, read_hello
from scanlet.childproc.logs import setup_child_logging
from scanlet.config import Home
from scanlet.crypto import KEY_BYTES
from scanlet.errors import ScanletError

log = logging.getLogger(__name__)
_LOWEST = 19


def lower_priority() -> None:
    """Nice 19 on POSIX, the idle priority class on Windows."""
    if hasattr(os, "nice"):
        try:
            os.nice(_LOWEST)
        except OSError as exc:
            log.debug("keeping normal priority: %s", exc)
    elif sys.platform == "win32":  # pragma: no cover - Windows only
        import ctypes

        idle_priority_class = 0x40
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        kernel32.SetPriorityClass(kernel32.GetCurrentProcess(), idle_priority_class)


def main(argv: list[str] | None = None) -> int:
    lower_priority()
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name if __spec__ else ''}")
    parser.add_argument("--home", required=True)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    setup_child_logging(args.log_level)
    out = claim_stdout()
    home = Home(Path(args.home))
    hello = read_hello(sys.stdin.buffer) or {}
    try:
        key = bytes.fromhex(str(hello.get("key", "")))
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        log.error("no cache key in the handshake")
        return 2
    store = PageStore(home, key, ram_cache_bytes=0, fsync=False)
    try:
        for line in iter(lambda: sys.stdin.buffer.readline(LINE_LIMIT), b""):
            page_id = str(parse_line(line).get("page") or "")
            if not page_id:
                continue
            answer: dict[str, str] = {"ev": "ok", "page": page_id}
            try:
                store.ensure_preview(page_id)
            except ScanletError as exc:  # deleted or damaged meanwhile
                answer = {"ev": "skip", "page": page_id, "code": exc.code}
            out.write(dumps_line(answer))
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
