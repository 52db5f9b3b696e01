"""Uncached 585x513 thumbnails of A4 300 dpi JPEG pages through the page store's render path.

    .venv/bin/python benchmarks/bench_thumbnail.py --pages 30 [--dir /var/tmp]

Target (issue): a 585x513 thumbnail of a 300 dpi A4 page, median <= 30 ms when not cached.

Pages are scanner JPEGs (SANE test backend through scanimage, 3.35 MB, see bench_export.py)
stored in a real ``PageStore`` as the scan worker hands them over; each call is
``store.render(page, width=585, height=513)`` (decrypt, verify, decode, resize, encode,
encrypt and keep the rendition), in a process set up like ``scanlet serve``. Measured, each on
pages of its own so nothing is cached that should not be:

1. first view: the page was never rendered; the store makes its preview (codecs/render.py)
   from the original, then the thumbnail from the preview;
2. not cached, preview kept: the page's preview exists (made by an earlier request of another
   size, as a viewer's 200 px strip does while a job runs), the 585x513 rendition is in
   neither the RAM nor the disk cache;
3. reference: the codec alone on the original (``codecs.render.render``: open, ``draft``,
   resize, encode), what every uncached thumbnail cost before previews;
4. cached: the same rendition again, from the disk cache and from RAM.

Last result (2026-11-24, benchmarks/README.md): not cached with the preview kept, median
16.1 ms (target met); first view 58.6 ms (not met: the preview is not yet made when a page is
stored); the codec alone on the original 50.9 ms.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_export import scanner_jpegs, stored_pages

from scanlet.buffer import PageStore
from scanlet.codecs import render as rendering
from scanlet.config import Home
from scanlet.memory import reuse_page_buffers

BOX = (585, 513)


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def thumbnails(store: PageStore, pages: list[str]) -> list[float]:
    """Seconds of ``store.render`` of each page fitted into BOX."""
    return [timed(functools.partial(store.render, page, width=BOX[0], height=BOX[1]))
            for page in pages]


def describe(name: str, seconds: list[float], target: float | None = None) -> str:
    ms = [s * 1000 for s in seconds]
    line = (f"{name:<44} min {min(ms):6.1f}  median {statistics.median(ms):6.1f}  "
            f"max {max(ms):6.1f} ms")
    if target is not None:
        verdict = "met" if statistics.median(ms) <= target else "NOT met"
        line += f"  (target <= {target:g} ms: {verdict})"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30, help="pages per measurement")
    parser.add_argument("--dir", default=None, help="scratch folder (default: system temp)")
    args = parser.parse_args()
    reuse_page_buffers()  # as scanlet serve does
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        tmp = Path(scratch)
        files, origin = scanner_jpegs(tmp / "jpegs", 2 * args.pages + 1)
        print(f"A4 300 dpi pages from {origin}, {files[0].stat().st_size / 1e6:.2f} MB each")
        store, ids = stored_pages(Home(tmp / "home").create(), files)
        warm, first, kept = ids[0], ids[1 : args.pages + 1], ids[args.pages + 1 :]
        store.render(warm, width=BOX[0], height=BOX[1])  # imports, code paths
        size = rendering.fit_within(2480, 3507, *BOX)

        first_view = thumbnails(store, first)
        for page in kept:
            store.render(page, width=200, height=200)
        store.ram_cache.clear()
        uncached = thumbnails(store, kept)
        original = store.read_original(kept[0])
        codec = [timed(lambda: rendering.render(original, "jpeg", size, "jpeg", dpi=71.6))
                 for _ in kept]
        disk: list[float] = []
        for page in kept:
            store.ram_cache.clear()
            disk += thumbnails(store, [page])
        ram = thumbnails(store, kept)
        store.close()
    print(f"thumbnail {size[0]}x{size[1]} (fits {BOX[0]}x{BOX[1]}), {args.pages} pages each")
    print(describe("1. first view (makes the preview)", first_view))
    print(describe("2. not cached, preview kept", uncached, target=30))
    print(describe("3. reference: codec alone on the original", codec))
    print(describe("4. cached on disk", disk))
    print(describe("   cached in RAM", ram))


if __name__ == "__main__":
    main()
