"""The preview backfill's helper process (see backfill.py): page ids in, one answer each out.

stdin: the cache key (hex) on the first line, then one page id per line; stdout: ``ok <id>``
or ``skip <id> <error code>`` per line. Ends at EOF. Runs at the lowest CPU priority, set
first thing. The service, which holds the key already, hands it over, so the helper neither
asks the OS key store (a D-Bus round trip, maybe an unlock prompt) nor imports keyring.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from scanlet.buffer.store import PageStore
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="preview-backfill %(levelname)s %(name)s: %(message)s")
    home = Home(Path(args.home))
    try:
        key = bytes.fromhex(sys.stdin.readline().strip())
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        log.error("no cache key on stdin")
        return 2
    store = PageStore(home, key, ram_cache_bytes=0, fsync=False)
    try:
        for line in sys.stdin:
            page_id = line.strip()
            if not page_id:
                continue
            try:
                store.ensure_preview(page_id)
                answer = f"ok {page_id}"
            except ScanletError as exc:  # deleted or damaged meanwhile
                answer = f"skip {page_id} {exc.code}"
            sys.stdout.write(answer + "\n")
            sys.stdout.flush()
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
