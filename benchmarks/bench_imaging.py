"""Benchmark: deskew and blank-page scoring per A4 300 dpi page, against baselines that any
implementation pays anyway (not a test; run by hand).

Run: ``.venv/bin/python benchmarks/bench_imaging.py [--runs 15]``.

Pages come from the imaging tests' generators (tests/imaging/pages.py: DejaVu text, noise,
dust, punch holes, shadows) and are put once through the real SANE ``pnm`` backend
(tests/scan_pnm.py), A4 at 300 dpi (2480x3508): a full text page turned by 3.2 degrees (grey,
and as colour), a near-blank sheet and a sheet with a few lines of text. Each case alternates
the baseline and the measured call in one process, ``time.perf_counter`` around each call:

- deskew (detection + bicubic rotation keeping the size) vs the rotation alone
  (``cv2.warpAffine``, bicubic, same angle): the ratio shows what detection adds;
- ``detect_skew`` alone (for information);
- ``blank_score`` on the decoded page vs an Otsu threshold of the same page
  (``cv2.threshold``: the cheapest whole-page analysis there is);
- ``check_page`` on the page's JPEG bytes (reduced-scale decode + score) vs a plain full
  decode of those bytes with Pillow: the ratio shows what judging a stored page costs beyond
  merely decoding it.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.imaging.pages import near_blank_page, skewed, sparse_text_page, text_page  # noqa: E402
from tests.scan_pnm import scan_image  # noqa: E402

from scanlet.imaging.blank import blank_score, check_page  # noqa: E402
from scanlet.imaging.deskew import deskew, detect_skew  # noqa: E402

ANGLE = 3.2


def _ms(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"{ms[0]:7.1f} {statistics.median(ms):7.1f} {ms[-1]:7.1f}"


def _time(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _pair(name: str, baseline_name: str, baseline: Callable[[], object],
          measured: Callable[[], object], runs: int) -> None:
    base: list[float] = []
    ours: list[float] = []
    for run in range(runs):
        order = ((base, baseline), (ours, measured)) if run % 2 else (
            (ours, measured), (base, baseline))
        for samples, call in order:
            samples.append(_time(call))
    ratio = statistics.median(ours) / statistics.median(base)
    print(f"  {baseline_name:<44} {_ms(base)} ms")
    print(f"  {name:<44} {_ms(ours)} ms   ratio of medians {ratio:.2f}")


def _single(name: str, call: Callable[[], object], runs: int) -> None:
    print(f"  {name:<44} {_ms([_time(call) for _ in range(runs)])} ms")


def _warp(image: Image.Image, angle: float) -> np.ndarray:
    array = np.asarray(image)
    h, w = array.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    return np.asarray(cv2.warpAffine(array, matrix, (w, h), flags=cv2.INTER_CUBIC,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=255))


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        text = scan_image(skewed(text_page(seed=7), ANGLE), work / "text", gray=True)
        blank = scan_image(near_blank_page(3), work / "blank", gray=True)
        sparse = scan_image(sparse_text_page(3), work / "sparse", gray=True)
    colour = text.convert("RGB")
    print(f"A4 300 dpi pages {text.size}, {runs} runs; min / median / max")
    found = detect_skew(text)
    print(f"detected skew {found.angle:+.2f} deg (true {ANGLE:+.2f}), "
          f"confidence {found.confidence:.2f}")

    for label, page in (("grey text page", text), ("colour text page", colour)):
        print(label)
        _pair("deskew (detect + rotate)", "rotation alone (cv2.warpAffine bicubic)",
              partial(_warp, page, -ANGLE), partial(deskew, page), runs)
        _single("detect_skew alone", partial(detect_skew, page), runs)

    for label, page in (("near-blank sheet", blank), ("sparse-text sheet", sparse)):
        print(f"{label} (score {blank_score(page, 300).score:.4f} %)")
        gray = np.asarray(page)
        _pair("blank_score(decoded page)", "Otsu threshold of the page (cv2)",
              partial(cv2.threshold, gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU),
              partial(blank_score, page, 300), runs)
        data = _jpeg(page)
        _pair("check_page(JPEG bytes)", "full JPEG decode (Pillow)",
              partial(_decode, data), partial(check_page, data, "jpeg", 300), runs)

if __name__ == "__main__":
    main()
