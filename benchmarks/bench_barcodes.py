"""Benchmark: ``scanlet.barcodes.read_barcodes`` on a page vs calling zxing-cpp directly.

Run: ``.venv/bin/python benchmarks/bench_barcodes.py [--runs 31]``.

The page is an A4 300 dpi page (2480x3508) with a QR code and a dozen lines of text, put
through the real SANE ``pnm`` backend by ``scanimage`` (as tests/scan_pnm.py does), once in
colour and once in grey. Each case times, in one process, alternating which side goes first:

- direct: ``gray = page if page.mode == "L" else page.convert("L")`` then
  ``zxingcpp.read_barcodes(gray, formats=...)`` with the same formats and default options;
- Scanlet: ``read_barcodes(page, formats=[...])``, which does that same grey conversion, the
  format lookup, the call, and builds the pydantic ``Barcode`` results.

For information it also times patch code detection on the colour page and on a scanned
Patch T sheet (zxing-cpp has no patch codes, so there is no baseline).

Both sides are timed with ``time.perf_counter`` around the whole call. The result is the ratio
of the medians (target from the issue: Scanlet / direct <= 1.1); the median of the per-run
ratios and of the per-run extra time are printed too, being less sensitive to a busy machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from scanlet.barcodes import find_patches, patch_sheet, read_barcodes

ROOT = Path(__file__).resolve().parents[1]


def _page() -> Image.Image:
    page = Image.new("RGB", (2480, 3508), "white")
    made = zxingcpp.create_barcode("https://scanlet.example/doc/42", zxingcpp.BarcodeFormat.QRCode)
    page.paste(Image.fromarray(np.asarray(made.to_image(scale=10))).convert("RGB"), (1800, 200))
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=40)
    for n in range(12):
        draw.text((150, 1200 + n * 60), f"Line {n}: the quick brown fox jumps over the lazy dog",
                  fill="black", font=font)
    return page


def _scan(page: Image.Image, workdir: Path, *, gray: bool) -> Image.Image:
    sys.path.insert(0, str(ROOT))
    from tests.scan_pnm import scan_image

    return scan_image(page, workdir, gray=gray, dpi=300)


def _time(call: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def _case(name: str, page: Image.Image, formats: list[str] | None, runs: int) -> float:
    wanted = (zxingcpp.BarcodeFormats([zxingcpp.BarcodeFormat[f] for f in formats])
              if formats else None)

    def direct() -> list[zxingcpp.Barcode]:
        gray = page if page.mode == "L" else page.convert("L")
        if wanted is None:
            return zxingcpp.read_barcodes(gray)
        return zxingcpp.read_barcodes(gray, formats=wanted)

    def ours() -> object:
        return read_barcodes(page, formats=formats)

    for _ in range(3):  # warm up both
        direct()
        ours()
    times: dict[str, list[float]] = {"direct": [], "scanlet": []}
    for run in range(runs):
        order = [("direct", direct), ("scanlet", ours)]
        if run % 2:
            order.reverse()
        for side, call in order:
            elapsed, result = _time(call)
            assert len(result) == 1, result  # type: ignore[arg-type]
            times[side].append(elapsed)
    print(f"\n{name}")
    for side, values in times.items():
        ms = [v * 1000 for v in values]
        print(f"  {side:<8} min {min(ms):7.2f}  median {statistics.median(ms):7.2f}"
              f"  max {max(ms):7.2f} ms")
    ratio = statistics.median(times["scanlet"]) / statistics.median(times["direct"])
    paired = statistics.median(s / d for s, d in zip(times["scanlet"], times["direct"],
                                                        strict=True))
    extra = statistics.median(s - d for s, d in zip(times["scanlet"], times["direct"],
                                                       strict=True))
    print(f"  ratio of medians {ratio:.3f} (target <= 1.1: {'met' if ratio <= 1.1 else 'NOT met'})"
          f"; median of paired ratios {paired:.3f}; median extra time {extra * 1000:+.2f} ms")
    return ratio


def _patches(name: str, page: Image.Image, runs: int) -> None:
    """Patch code detection alone (no baseline: zxing-cpp reads no patch codes)."""
    found = find_patches(page)
    values = []
    for _ in range(runs):
        elapsed, _ = _time(lambda: find_patches(page))
        values.append(elapsed * 1000)
    print(f"  {name:<34} min {min(values):6.2f}  median {statistics.median(values):6.2f}"
          f"  max {max(values):6.2f} ms  (found {[p.kind.value for p in found]})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()
    page = _page()
    with tempfile.TemporaryDirectory() as tmp:
        colour = _scan(page, Path(tmp) / "colour", gray=False)
        gray = _scan(page, Path(tmp) / "gray", gray=True)
        sheet = _scan(patch_sheet("T", 300), Path(tmp) / "sheet", gray=True)
    print(f"A4 300 dpi page {colour.size}, {args.runs} runs per side")
    ratios = [
        _case("colour page, formats=[QRCode]", colour, ["QRCode"], args.runs),
        _case("grey page, formats=[QRCode]", gray, ["QRCode"], args.runs),
        _case("colour page, every format", colour, None, args.runs),
    ]
    print(f"\nworst ratio {max(ratios):.3f}")
    print("\npatch code detection (find_patches), for information")
    _patches("colour page, no patch", colour, args.runs)
    _patches("grey Patch T sheet", sheet, args.runs)


if __name__ == "__main__":
    main()
