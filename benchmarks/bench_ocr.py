"""Benchmark: searchable PDF of 10 A4 300 dpi text pages, Scanlet's OCR pool vs ``ocrmypdf``.

Run: ``.venv/bin/python benchmarks/bench_ocr.py [--runs 5] [--pages 10] [--jobs 2] [--sandwich]``.

The pages: Pillow renders ``--pages`` A4 pages at 300 dpi (2480x3507), each 30 lines of
seeded random English words in DejaVu Serif at 11 pt, saved as colour JPEG quality 85 (what
the scan worker stores). They are added to a real page buffer (fsync off).

- Scanlet: ``write_searchable_pdf`` on an ``OcrPool(workers=--jobs)`` created before timing
  (the service keeps one): every page is read from the buffer (decrypted), OCRed by one
  single-threaded tesseract per worker (text + text-only PDF), and the searchable PDF is
  written to a file (the exporter's image PDF with each text layer underlaid).
- ocrmypdf: ``ocrmypdf --output-type pdf --optimize 0 -l eng --jobs 2 -q in.pdf out.pdf``,
  the command a user would run, on the plain PDF export of the same pages (made once, not
  timed: ocrmypdf gets the image PDF for free). ``--output-type pdf`` because PDF/A may need
  Ghostscript (not installed) and our side writes a plain PDF too; ``--optimize 0`` because
  the optimizer wants extra tools and our side does not optimize. Its default renderer
  (fpdf2 in ocrmypdf 17) is used; ``--sandwich`` also times ``--pdf-renderer sandwich``, the
  renderer our text layer imitates.
- ocrmypdf's start-up (``ocrmypdf --version``: interpreter and imports) is timed too, and a
  second ratio excludes it, the stricter comparison.
- CPU seconds (this process and its waited-for children: the tesseracts, ocrmypdf and its
  workers) are printed too: on a shared machine wall times swing with other load, the work
  done does not.

Both outputs are checked: page count, and the share of the drawn words that pypdfium2 finds
in each page's extracted text (OCR quality must be the same, or the comparison is void).
Runs alternate between the sides; min / median / max; ratios are of medians.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFont

from scanlet.buffer import PageStore
from scanlet.codecs.export import export_pages
from scanlet.config import Home
from scanlet.crypto import KEY_BYTES
from scanlet.models import PageInfo
from scanlet.ocr import OcrPool
from scanlet.ocr.searchable import write_searchable_pdf

A4 = (2480, 3507)
DPI = 300
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
_WORDS = (
    "about after again against answer around before began being below between both bring "
    "build carry change close country cover different during early earth enough every "
    "example family father follow found friend great group important island large later "
    "learn letter light little mountain mother never number often order other paper people "
    "picture place plant point question quickly really record river second should simple "
    "something sometimes special started state still story study surface through together "
    "toward travel under until usually village water weather which without world would "
    "writing yesterday harbour invoice ledger scanner document service market window garden"
)
VOCABULARY = _WORDS.split()


def make_page(seed: int) -> tuple[bytes, list[str]]:
    """An A4 300 dpi JPEG of 30 lines of words (a letter-like page), and the words drawn."""
    rng = random.Random(seed)
    image = Image.new("RGB", A4, "white")
    draw = ImageDraw.Draw(image)
    face = (ImageFont.truetype(str(FONT), 46) if FONT.exists()
            else ImageFont.load_default(size=46))
    words: list[str] = []
    y = 250
    while y < A4[1] - 300:
        line: list[str] = []
        while True:
            word = rng.choice(VOCABULARY)
            if draw.textlength(" ".join([*line, word]), font=face) > A4[0] - 500:
                break
            line.append(word)
        draw.text((250, y), " ".join(line), font=face, fill="black")
        words += line
        y += 100
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, dpi=(DPI, DPI))
    return out.getvalue(), words


def recall(pdf_path: Path, pages: list[list[str]]) -> float:
    """Share of the drawn words found (as whole words) in each page's extracted text."""
    pdf = pdfium.PdfDocument(str(pdf_path))
    try:
        assert len(pdf) == len(pages), (len(pdf), len(pages))
        found = total = 0
        for index, words in enumerate(pages):
            page = pdf[index]
            textpage = page.get_textpage()
            extracted = textpage.get_text_range().split()
            textpage.close()
            page.close()
            remaining: dict[str, int] = {}
            for word in extracted:
                remaining[word] = remaining.get(word, 0) + 1
            for word in words:
                total += 1
                if remaining.get(word, 0) > 0:
                    remaining[word] -= 1
                    found += 1
        return found / total
    finally:
        pdf.close()


def _cpu() -> float:
    """CPU seconds of this process and of its waited-for children (and theirs)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of ``action``."""
    started, cpu = time.perf_counter(), _cpu()
    action()
    return time.perf_counter() - started, _cpu() - cpu


def stats(values: list[float]) -> str:
    return (f"{min(values):7.2f} s {statistics.median(values):7.2f} s "
            f"{max(values):7.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sandwich", action="store_true",
                        help="also time ocrmypdf --pdf-renderer sandwich")
    args = parser.parse_args()
    ocrmypdf = shutil.which("ocrmypdf", path=str(Path(sys.executable).parent)) or "ocrmypdf"

    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        root = Path(tmp)
        print(f"making {args.pages} A4 300 dpi text pages ...", flush=True)
        made = [make_page(seed) for seed in range(args.pages)]
        drawn = [words for _, words in made]
        with PageStore(Home(root / "home").create(), secrets.token_bytes(KEY_BYTES),
                       fsync=False) as store, OcrPool(workers=args.jobs) as pool:
            document = store.create_document("bench").id
            infos: list[PageInfo] = [store.add_image(document, data, "jpeg", dpi=DPI)
                                     for data, _ in made]
            source = root / "images.pdf"
            with open(source, "wb") as fh:
                export_pages(store, [i.id for i in infos], "pdf", fh)

            def read(info: PageInfo) -> bytes:
                return store.read_original(info.id, cache=False)

            def scanlet() -> None:
                with open(root / "scanlet.pdf", "wb") as fh:
                    write_searchable_pdf(pool, infos, read, fh, lang="eng")

            def ocrmypdf_run(name: str, *extra: str) -> Callable[[], None]:
                def run() -> None:
                    subprocess.run(
                        [ocrmypdf, "--output-type", "pdf", "--optimize", "0", "-l", "eng",
                         "--jobs", str(args.jobs), "-q", *extra, str(source),
                         str(root / name)], check=True)
                return run

            sides: dict[str, Callable[[], None]] = {
                "scanlet": scanlet,
                "ocrmypdf": ocrmypdf_run("ocrmypdf.pdf"),
            }
            if args.sandwich:
                sides["ocrmypdf sandwich"] = ocrmypdf_run("sandwich.pdf", "--pdf-renderer",
                                                          "sandwich")
            sides["ocrmypdf --version"] = lambda: subprocess.run(
                [ocrmypdf, "--version"], check=True, capture_output=True)
            times: dict[str, list[float]] = {name: [] for name in sides}
            cpu: dict[str, list[float]] = {name: [] for name in sides}
            for run in range(args.runs):
                for name, action in sides.items():
                    wall, used = timed(action)
                    times[name].append(wall)
                    cpu[name].append(used)
                print(f"run {run + 1}: " + ", ".join(
                    f"{n} {t[-1]:.2f} s ({cpu[n][-1]:.1f} s CPU)" for n, t in times.items()),
                    flush=True)

            print(f"\n{args.pages} pages, --jobs {args.jobs}, {args.runs} runs"
                  "                 min     median        max")
            for name, values in times.items():
                print(f"{name:28s} {stats(values)}   CPU median "
                      f"{statistics.median(cpu[name]):6.1f} s")
            ours = statistics.median(times["scanlet"])
            theirs = statistics.median(times["ocrmypdf"])
            startup = statistics.median(times["ocrmypdf --version"])
            print(f"ratio scanlet / ocrmypdf:                      {ours / theirs:.2f}")
            print(f"ratio scanlet / (ocrmypdf - its start-up):     {ours / (theirs - startup):.2f}")
            if args.sandwich:
                sandwich = statistics.median(times["ocrmypdf sandwich"])
                print(f"ratio scanlet / ocrmypdf sandwich:             {ours / sandwich:.2f}")
            cpu_ratio = statistics.median(cpu["scanlet"]) / statistics.median(cpu["ocrmypdf"])
            print(f"CPU ratio scanlet / ocrmypdf:                  {cpu_ratio:.2f}")
            outputs = {"scanlet": "scanlet.pdf", "ocrmypdf": "ocrmypdf.pdf"}
            if args.sandwich:
                outputs["ocrmypdf sandwich"] = "sandwich.pdf"
            for name, file in outputs.items():
                path = root / file
                print(f"{name:28s} words found {recall(path, drawn):6.1%}, "
                      f"{path.stat().st_size / 1e6:.2f} MB")
            print(f"input JPEG pages total {sum(len(d) for d, _ in made) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
