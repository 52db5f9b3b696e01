"""Measure the buffer and export costs the design cares about (not a test; run by hand).

    .venv/bin/python benchmarks/bench_buffer.py [--pages 200] [--dir /var/tmp]

Prints, for A4 300 dpi colour JPEG pages: add_page per page (durable, fsync on), thumbnail
render (cold, disk-cached, RAM-cached), and for exporting ``--pages`` pages: wall time and
peak RSS of a fresh process doing only the export (PDF, and img2pdf all-in-memory for
comparison; TIFF on 20 pages). The page picture is a noisy scan-like pattern whose JPEG is
close to the 3.35 MB scanimage produces (performance-facts.md).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from scanlet.buffer import PageStore
from scanlet.config import Home
from scanlet.crypto import KEY_BYTES, write_encrypted
from scanlet.models import ColorMode, ScannedPage, Source

KEY = bytes(range(KEY_BYTES))
A4 = (2480, 3507)


def scan_like_jpeg(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    height, width = A4[1], A4[0]
    rows = (200 + 30 * np.sin(np.arange(height) / 150.0))[:, None]
    cols = (np.cos(np.arange(width) / 170.0))[None, :]
    base = (rows * (0.9 + 0.1 * cols)).astype(np.float32)
    rgb = np.repeat(base[..., None], 3, axis=2)
    for _ in range(120):  # text-like dark bars
        top, left = rng.integers(0, height - 40), rng.integers(0, width - 900)
        rgb[top : top + 28, left : left + rng.integers(100, 900)] = 30
    rgb += rng.normal(0, 19, rgb.shape).astype(np.float32)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, dpi=(300, 300))
    return out.getvalue()


def timed(samples: list[float], func: object) -> object:
    start = time.perf_counter()
    result = func()  # type: ignore[operator]
    samples.append(time.perf_counter() - start)
    return result


def summary(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"min {ms[0]:.1f} / median {statistics.median(ms):.1f} / max {ms[-1]:.1f} ms"


def measure_adds_and_renders(root: Path, pages: int) -> list[str]:
    home = Home(root / "home").create()
    data = scan_like_jpeg()
    print(f"A4 JPEG page: {len(data) / 1e6:.2f} MB")
    store = PageStore(home, KEY)
    doc = store.create_document().id
    adds: list[float] = []
    ids: list[str] = []
    for n in range(pages):
        path = home.incoming / f"p{n}.enc"
        write_encrypted(path, KEY, data)  # the worker's part, not timed
        handover = ScannedPage(path=str(path), format="jpeg", width=A4[0], height=A4[1],
                               dpi=300, bit_depth=8, mode=ColorMode.COLOR, bytes=len(data),
                               source=Source.FEEDER)
        ids.append(timed(adds, lambda h=handover: store.add_page(doc, h)).id)  # type: ignore[attr-defined]
    print(f"add_page (fsync on), {pages} pages: {summary(adds)}")
    cold: list[float] = []
    disk: list[float] = []
    ram: list[float] = []
    for page_id in ids[:20]:
        store.ram_cache.clear()
        timed(cold, lambda p=page_id: store.render(p, width=585, height=513))
        store.ram_cache.clear()
        timed(disk, lambda p=page_id: store.render(p, width=585, height=513))
        timed(ram, lambda p=page_id: store.render(p, width=585, height=513))
    print(f"render 585x513 thumbnail, cold (decrypt + draft + resize + encode + cache): "
          f"{summary(cold)}")
    print(f"render, thumbnail cached on disk: {summary(disk)}")
    print(f"render, thumbnail cached in RAM: {summary(ram)}")
    store.close()
    return ids


CHILD = """
import io, json, sys, time
from pathlib import Path
from scanlet.buffer import PageStore
from scanlet.config import Home
from scanlet.codecs.export import export_pages
root, fmt, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
store = PageStore(Home(root / "home"), bytes(range(32)), ram_cache_bytes=256 * 2**20)
doc = store.list_documents()[0].id
ids = [p.id for p in store.list_pages(doc)][:count]
def hwm():
    # VmHWM: peak RSS of this address space (ru_maxrss would include the parent's, as Linux
    # carries it across fork/exec).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
before = hwm()
start = time.perf_counter()
with open(root / f"out.{fmt}", "wb") as out:
    if fmt == "img2pdf":
        import img2pdf
        out.write(img2pdf.convert([store.read_original(i, cache=False) for i in ids]))
    else:
        export_pages(store, ids, fmt, out, workdir=root)
elapsed = time.perf_counter() - start
peak = hwm()
print(json.dumps({"seconds": elapsed, "rss_before_mb": before, "peak_mb": peak,
                  "size_mb": (root / f"out.{fmt}").stat().st_size / 1e6}))
"""


def measure_export(root: Path, fmt: str, count: int) -> None:
    result = subprocess.run([sys.executable, "-c", CHILD, str(root), fmt, str(count)],
                            capture_output=True, text=True, check=True)
    data = json.loads(result.stdout)
    print(f"export {count} A4 pages as {fmt}: {data['seconds']:.2f} s, peak RSS "
          f"{data['peak_mb']:.0f} MB (process before export {data['rss_before_mb']:.0f} MB), "
          f"output {data['size_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--dir", default=None, help="where to put the scratch home")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        root = Path(scratch)
        measure_adds_and_renders(root, args.pages)
        measure_export(root, "pdf", args.pages)
        measure_export(root, "img2pdf", args.pages)
        measure_export(root, "tiff", min(20, args.pages))
    print(f"(this process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}"
          " MB)")


if __name__ == "__main__":
    main()
