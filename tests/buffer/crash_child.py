"""Child process for the crash tests: adds pages like the service does, until killed.

Usage: python crash_child.py HOME DOCUMENT_ID MODE

MODE ``loop``: hand over pages forever, printing each id (flushed) after add_page returns.
MODE ``kill-after-move`` / ``kill-after-commit`` / ``kill-during-delete``: SIGKILL itself at
that exact point of one add (or delete), to prove each window of the write order is safe.
"""

from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from scanlet.buffer import PageStore, files, store
from scanlet.config import Home
from scanlet.crypto import KEY_BYTES, write_encrypted
from scanlet.models import ColorMode, ScannedPage, Source

KEY = bytes(range(KEY_BYTES))


def die(*args: object, **kwargs: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def page_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (200, 150, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def handover(home: Home, seed: int) -> ScannedPage:
    data = page_bytes(seed)
    path = home.incoming / f"page-{os.getpid()}-{seed}.enc"
    write_encrypted(path, KEY, data)
    return ScannedPage(path=str(path), format="jpeg", width=150, height=200, dpi=300, bit_depth=8,
                       mode=ColorMode.COLOR, bytes=len(data), source=Source.FEEDER)


def main() -> None:
    home, document_id, mode = Home(Path(sys.argv[1])), sys.argv[2], sys.argv[3]
    page_store = PageStore(home, KEY)
    if mode == "kill-after-move":
        store.fsync_dir = die  # runs right after the rename
    elif mode == "kill-after-commit":
        insert = page_store._insert

        def insert_then_die(*args: object, **kwargs: object) -> object:
            insert(*args, **kwargs)  # type: ignore[arg-type]  # the row is committed here
            die()

        page_store._insert = insert_then_die  # type: ignore[method-assign,assignment]
    elif mode == "kill-during-delete":
        first = page_store.list_pages(document_id)[0].id
        files.PageFiles.remove_pages = die  # type: ignore[method-assign,assignment]
        print(first, flush=True)
        page_store.delete_pages([first])
    seed = 0
    while True:
        # A stray write of an unfinished handover, as a worker killed mid-write leaves it.
        (home.incoming / f".stray-{seed}.part").write_bytes(b"half")
        page = page_store.add_page(document_id, handover(home, seed))
        print(page.id, flush=True)
        seed += 1


if __name__ == "__main__":
    main()
