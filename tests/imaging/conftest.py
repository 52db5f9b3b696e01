"""Fixtures for the imaging tests: generated pages put through the real SANE ``pnm`` backend.

Scans are cached (the text pages per session, the 40-page blank-detection sets per module) and
run two at a time (``scanimage`` is a separate process).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from PIL import Image

from tests.imaging.pages import near_blank_page, skewed, sparse_text_page, text_page
from tests.scan_pnm import scan_image

#: Scans ``image`` through SANE pnm (grey by default) and returns what the scanner delivered.
Scanner = Callable[..., Image.Image]

BLANK_SET_SIZE = 20


@pytest.fixture(scope="session")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Scanner:
    root = tmp_path_factory.mktemp("scans")
    counter = itertools.count()

    def run(image: Image.Image, *, gray: bool = True, dpi: int = 300) -> Image.Image:
        return scan_image(image, root / f"scan{next(counter)}", gray=gray, dpi=dpi)

    return run


#: A page as scanned, with the resolution it was scanned at.
Scanned = tuple[Image.Image, int]


def scan_all(scan: Scanner, pages: Sequence[tuple[Callable[[], Image.Image], int]]
             ) -> list[Scanned]:
    """Generate and scan ``(make_page, dpi)`` pairs, two at a time."""
    def one(job: tuple[Callable[[], Image.Image], int]) -> Scanned:
        make, dpi = job
        return scan(make(), dpi=dpi), dpi

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, pages))


def set_dpi(index: int) -> int:
    """Pages 0 and 10 of the blank-detection sets are scanned at 300 dpi, the others at
    150 dpi: both resolutions are covered, and a noisy 300 dpi page takes scanimage about a
    second (PNG-compressing noise)."""
    return 300 if index % 10 == 0 else 150


@pytest.fixture(scope="module")  # ~115 MB of pages: freed once test_blank.py is done
def blank_pages(scan: Scanner) -> list[Scanned]:
    """20 near-blank sheets (noise, dust, hairs, punch holes, shadows, show-through)."""
    return scan_all(scan, [(partial(near_blank_page, i, set_dpi(i)), set_dpi(i))
                           for i in range(BLANK_SET_SIZE)])


@pytest.fixture(scope="module")
def sparse_pages(scan: Scanner) -> list[Scanned]:
    """20 sheets with only 2-5 lines of text and the same defects."""
    return scan_all(scan, [(partial(sparse_text_page, i, set_dpi(i)), set_dpi(i))
                           for i in range(BLANK_SET_SIZE)])


@pytest.fixture(scope="session")
def text_scan(scan: Scanner) -> Image.Image:
    """A full text page (A4, 300 dpi, DejaVu 10 pt), scanned straight."""
    return scan(text_page(seed=7))


@pytest.fixture(scope="session")
def skewed_scans(scan: Scanner) -> dict[float, Image.Image]:
    """The text page with two 5 mm registration squares, turned by known angles, scanned."""
    page = text_page(seed=11, top=420)
    marks = Image.new("L", (60, 60), 0)
    page.paste(marks, (300, 260))
    page.paste(marks, (2120, 260))
    angles = (0.0, 3.2, -3.2, 0.8)
    images = scan_all(scan, [(partial(skewed, page, a), 300) for a in angles])
    return {angle: image for angle, (image, _) in zip(angles, images, strict=True)}


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    """``image`` encoded as ``fmt`` ("jpeg" or "png")."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt.upper(), **options)
    return buffer.getvalue()
