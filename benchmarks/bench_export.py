"""PDF export of scanned A4 pages from the page buffer vs the img2pdf CLI on the same JPEGs.

    .venv/bin/python benchmarks/bench_export.py --pages 100 --runs 9 [--dir /var/tmp]

Target (issue): PDF export of 100 A4 300 dpi JPEG pages, median time <= 1.2 x the median of
``img2pdf`` (the CLI, ``.venv/bin/img2pdf``) converting the same JPEG files.

The pages come from the SANE ``test`` backend through ``scanimage`` (A4 300 dpi colour,
"Color pattern", about 3.35 MB each, the reference machine's baseline in
performance-facts.md), or from a noisy synthetic scan when scanimage is missing. They are
stored in a real ``PageStore`` the way the scan worker hands them over (encrypted file +
``add_page``), so the export pays what the service pays: reading, decrypting and verifying
every page. The export runs in this process, as in the running service (with the service's
malloc setting, ``scanlet.memory.reuse_page_buffers``); img2pdf runs as its CLI. Runs
alternate, both write into the same folder; the ratio is of medians. Peak RSS of each side is
measured once more in a fresh child process (``VmHWM``). One output is checked: qpdf
reads it, it has every page, and the first JPEG is embedded unchanged.

Last result (2026-11-24, benchmarks/README.md): img2pdf median 1.361 s, Scanlet 0.964 s,
ratio 0.71; peak RSS 361 MB vs 75 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from scanlet.buffer import PageStore
from scanlet.codecs.export import export_pages
from scanlet.config import Home
from scanlet.crypto import KEY_BYTES, write_encrypted
from scanlet.devices.sane_config import prepare_demo_config
from scanlet.memory import reuse_page_buffers
from scanlet.models import ColorMode, ScannedPage, Source

KEY = bytes(range(KEY_BYTES))
A4 = (2480, 3507)
ROOT = Path(__file__).resolve().parent.parent
IMG2PDF = [str(ROOT / ".venv" / "bin" / "img2pdf")]
#: One A4 300 dpi colour page from the flatbed of the SANE test backend, as performance-facts.md.
SCANIMAGE = ["scanimage", "-d", "test:0", "--source", "Flatbed", "--mode", "Color",
             "--resolution", "300", "--test-picture", "Color pattern", "-x", "210", "-y", "297",
             "--format=jpeg"]


def synthetic_jpeg(seed: int = 0) -> bytes:
    """A noisy scan-like A4 page whose JPEG is about the size scanimage's is."""
    rng = np.random.default_rng(seed)
    height, width = A4[1], A4[0]
    base = (200 + 30 * np.sin(np.arange(height) / 150.0))[:, None] * np.ones((1, width))
    rgb = np.repeat(base[..., None], 3, axis=2).astype(np.float32)
    for _ in range(120):  # text-like dark bars
        top, left = rng.integers(0, height - 40), rng.integers(0, width - 900)
        rgb[top : top + 28, left : left + rng.integers(100, 900)] = 30
    rgb += rng.normal(0, 19, rgb.shape).astype(np.float32)
    out = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB").save(
        out, "JPEG", quality=85, dpi=(300, 300))
    return out.getvalue()


def scanner_jpegs(folder: Path, count: int) -> tuple[list[Path], str]:
    """``count`` A4 300 dpi JPEG files in ``folder`` and where they came from."""
    folder.mkdir(parents=True, exist_ok=True)
    sane = prepare_demo_config(folder / "sane", include_system=False)
    env = {**os.environ, "SANE_CONFIG_DIR": str(sane)}
    first = folder / "scan.jpg"
    origin = "scanimage (SANE test backend, Color pattern)"
    try:
        subprocess.run([*SCANIMAGE, "-o", str(first)],
                       env=env, check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        first.write_bytes(synthetic_jpeg())
        origin = "synthetic noisy scan (scanimage unavailable)"
    files = []
    for n in range(count):
        path = folder / f"page-{n:03d}.jpg"
        shutil.copyfile(first, path)
        files.append(path)
    return files, origin


def stored_pages(home: Home, files: list[Path]) -> tuple[PageStore, list[str]]:
    """A page store holding ``files`` as scanned pages, handed over like the worker does."""
    store = PageStore(home, KEY, fsync=False)  # storing is not what is measured
    document = store.create_document("bench").id
    ids = []
    for n, path in enumerate(files):
        data = path.read_bytes()
        incoming = home.incoming / f"p{n}.enc"
        write_encrypted(incoming, KEY, data, fsync=False)
        with Image.open(path) as image:
            width, height = image.size
        ids.append(store.add_page(document, ScannedPage(
            path=str(incoming), format="jpeg", width=width, height=height, dpi=300,
            bit_depth=8, mode=ColorMode.COLOR, bytes=len(data), source=Source.FEEDER)).id)
    return store, ids


def timed_pair(baseline: Callable[[], object], ours: Callable[[], object],
               runs: int) -> tuple[list[float], list[float]]:
    base: list[float] = []
    mine: list[float] = []
    for _ in range(runs):
        for func, samples in ((baseline, base), (ours, mine)):
            start = time.perf_counter()
            func()
            samples.append(time.perf_counter() - start)
    return base, mine


def describe(name: str, seconds: list[float]) -> str:
    return (f"{name:<34} min {min(seconds):.3f}  median {statistics.median(seconds):.3f}  "
            f"max {max(seconds):.3f} s")


CHILD = r"""
import json, sys, time
from pathlib import Path

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

side, home, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
start = time.perf_counter()
if side == "img2pdf":
    import img2pdf
    try:
        img2pdf.main(["img2pdf", *sys.argv[4:], "-o", out])
    except SystemExit as exc:
        if exc.code:
            raise
else:
    from scanlet.memory import reuse_page_buffers
    reuse_page_buffers()
    from scanlet.buffer import PageStore
    from scanlet.codecs.export import export_pages
    from scanlet.config import Home
    store = PageStore(Home(home), bytes(range(32)))
    document = store.list_documents()[0].id
    with open(out, "wb") as fh:
        export_pages(store, [p.id for p in store.list_pages(document)], "pdf", fh)
print(json.dumps({"seconds": time.perf_counter() - start, "peak_mb": hwm(),
                  "bytes": Path(out).stat().st_size}))
"""


def peak_rss(side: str, home: Path, out: Path, files: list[Path]) -> float:
    result = subprocess.run([sys.executable, "-c", CHILD, side, str(home), str(out),
                             *map(str, files)], capture_output=True, text=True, check=True)
    return float(json.loads(result.stdout)["peak_mb"])


def check_output(path: Path, pages: int, first_page: bytes) -> None:
    """The export parses (qpdf), has every page, and embeds the first JPEG unchanged.

    ``qpdf --check`` decodes every image and takes minutes on 335 MB; the tests run it on
    exports of the same writer.
    """
    import pikepdf

    result = subprocess.run(["qpdf", "--show-npages", str(path)], check=True,
                            capture_output=True, text=True)
    assert int(result.stdout) == pages, result.stdout
    with pikepdf.open(path) as pdf:
        image = next(iter(pdf.pages[0].obj.Resources.XObject.values()))
        assert image.read_raw_bytes() == first_page, "JPEG page was not embedded as-is"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--dir", default=None, help="scratch folder (default: system temp)")
    args = parser.parse_args()
    reuse_page_buffers()  # as scanlet serve does
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        tmp = Path(scratch)
        files, origin = scanner_jpegs(tmp / "jpegs", args.pages)
        size_mb = sum(p.stat().st_size for p in files) / 1e6
        print(f"{args.pages} pages from {origin}, {size_mb / args.pages:.2f} MB each")
        home = Home(tmp / "home").create()
        store, ids = stored_pages(home, files)
        ours_out, base_out = tmp / "scanlet.pdf", tmp / "img2pdf.pdf"

        def ours() -> None:
            with open(ours_out, "wb") as fh:
                export_pages(store, ids, "pdf", fh)

        def baseline() -> None:
            subprocess.run([*IMG2PDF, *map(str, files), "-o", str(base_out)], check=True)

        ours()  # warm-up: imports, page cache
        check_output(ours_out, len(files), files[0].read_bytes())
        os.sync()  # no writeback of the set-up left to slow down the first runs
        base, mine = timed_pair(baseline, ours, args.runs)
        store.close()
        ratio = statistics.median(mine) / statistics.median(base)
        print(describe(f"img2pdf CLI, {args.pages} JPEGs", base))
        print(describe(f"Scanlet export_pages, {args.pages} p", mine))
        print(f"ratio of medians: {ratio:.2f} (target <= 1.2: "
              f"{'met' if ratio <= 1.2 else 'NOT met'})")
        print(f"output sizes: img2pdf {base_out.stat().st_size / 1e6:.1f} MB, Scanlet "
              f"{ours_out.stat().st_size / 1e6:.1f} MB")
        rss_base = peak_rss("img2pdf", home.root, base_out, files)
        rss_ours = peak_rss("scanlet", home.root, ours_out, files)
        print(f"peak RSS (fresh process): img2pdf {rss_base:.0f} MB, Scanlet {rss_ours:.0f} MB")


if __name__ == "__main__":
    main()
