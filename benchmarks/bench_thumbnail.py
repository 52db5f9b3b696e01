"""Uncached 585x513 thumbnails of A4 300 dpi pages through the page store's render path.

    .venv/bin/python benchmarks/bench_thumbnail.py --pages 30 [--dir /var/tmp]

Target (issue): a 585x513 thumbnail of a 300 dpi A4 page, median <= 30 ms when not cached.

Pages are scanner JPEGs (SANE test backend through scanimage, 3.35 MB, see bench_export.py).
Each measured call is ``store.render(page, width=585, height=513)`` (decrypt, verify, decode,
resize, encode, encrypt and keep the rendition) on a page never rendered before, in a process
set up like ``scanlet serve``; every case has pages of its own so nothing is cached that should
not be:

1. scanned page: stored as the scan worker hands it over, through the worker's own code
   (``devices.encode.encode_page`` on the page's pixels, which also makes its preview, then
   ``devices.pipeline.PageStore.write`` and ``PageStore.add_page``);
2. imported page: ``PageStore.add_image`` (the import decodes every pixel to check the file and
   makes the preview from them);
3. scanned page the worker handed over without a preview (its encoders were behind the
   device), after the service's low-priority backfill (buffer/backfill.py) made it;
   and the same kind of page viewed before the backfill got to it (or stored by an older
   version): the store decodes the original once to make the preview, then the thumbnail;
4. reference: the codec alone on the original (``codecs.render.render``: open, ``draft``,
   resize, encode), what every uncached thumbnail cost before previews;
5. cached: the same rendition again, from the disk cache and from RAM;

and what making the preview adds to the scan worker's encoding of a page (``encode_page`` with
and without it, alternating; the worker encodes on threads beside the scan thread).

Last result: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_export import KEY, scanner_jpegs, stored_pages
from PIL import Image

from scanlet.buffer import PageStore
from scanlet.buffer.backfill import PreviewBackfill
from scanlet.codecs import render as rendering
from scanlet.config import Home
from scanlet.devices.encode import RawPage, encode_page
from scanlet.devices.pipeline import PageStore as WorkerPageStore
from scanlet.memory import reuse_page_buffers
from scanlet.models import ColorMode, Compression, Source

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


def raw_page(jpeg: Path) -> RawPage:
    """The page's pixels as the device delivers them to the worker (8-bit RGB rows)."""
    with Image.open(jpeg) as image:
        rgb = image.convert("RGB")
    return RawPage(data=rgb.tobytes(), layout="rgb8", width=rgb.width, height=rgb.height,
                   stride=rgb.width * 3, mode=ColorMode.COLOR, bit_depth=8, dpi=300.0,
                   source=Source.FLATBED)


def scanned_pages(store: PageStore, raw: RawPage, count: int) -> list[str]:
    """``count`` pages handed over through the scan worker's encode and write code."""
    writer = WorkerPageStore(incoming_dir=store.home.incoming, key=KEY, fsync=False)
    document = store.create_document("scanned").id
    return [store.add_page(document, writer.write(encode_page(raw, Compression.AUTO, 85))).id
            for _ in range(count)]


def imported_pages(store: PageStore, data: bytes, count: int) -> list[str]:
    document = store.create_document("imported").id
    return [store.add_image(document, data, "jpeg").id for _ in range(count)]


def worker_cost(raw: RawPage, runs: int) -> tuple[list[float], list[float]]:
    """Seconds of ``encode_page`` without and with the preview, alternating."""
    plain: list[float] = []
    with_preview: list[float] = []
    for _ in range(runs):
        plain.append(timed(lambda: encode_page(raw, Compression.AUTO, 85, with_preview=False)))
        with_preview.append(timed(lambda: encode_page(raw, Compression.AUTO, 85)))
    return plain, with_preview


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
        raw = raw_page(files[0])
        home = Home(tmp / "home").create()
        home.cache_key.write_bytes(KEY)  # the backfill's helper process reads the key file
        store, ids = stored_pages(home, files)
        warm, bare, backfilled = ids[0], ids[1 : args.pages + 1], ids[args.pages + 1 :]
        store.render(warm, width=BOX[0], height=BOX[1])  # imports, code paths
        size = rendering.fit_within(2480, 3507, *BOX)

        scanned = thumbnails(store, scanned_pages(store, raw, args.pages))
        imported = thumbnails(store, imported_pages(store, files[0].read_bytes(), args.pages))
        backfill = PreviewBackfill(store.home)
        for page in backfilled:
            backfill.submit(page)
        if not backfill.idle(timeout=600) or backfill.made != len(backfilled):
            raise SystemExit(f"the backfill made {backfill.made} of {len(backfilled)} previews")
        backfill.close()
        after_backfill = thumbnails(store, backfilled)
        without = thumbnails(store, bare)
        original = store.read_original(bare[0])
        codec = [timed(lambda: rendering.render(original, "jpeg", size, "jpeg", dpi=71.6))
                 for _ in bare]
        disk: list[float] = []
        for page in bare:
            store.ram_cache.clear()
            disk += thumbnails(store, [page])
        ram = thumbnails(store, bare)
        store.close()
        plain, with_preview = worker_cost(raw, args.pages)
    print(f"thumbnail {size[0]}x{size[1]} (fits {BOX[0]}x{BOX[1]}), {args.pages} pages each")
    print(describe("1. scanned page, first view", scanned, target=30))
    print(describe("2. imported page, first view", imported, target=30))
    print(describe("3. handed over without a preview, backfilled", after_backfill,
                   target=30))
    print(describe("   ... viewed before the backfill", without))
    print(describe("4. reference: codec alone on the original", codec))
    print(describe("5. cached on disk", disk))
    print(describe("   cached in RAM", ram))
    print(describe("worker: encode_page without the preview", plain))
    print(describe("worker: encode_page with the preview", with_preview))
    print(f"   ratio of medians {statistics.median(with_preview) / statistics.median(plain):.2f}")


if __name__ == "__main__":
    main()
