"""Scanned test pages, made once per session: drawn here, then put through the real SANE ``pnm``
backend by ``scanimage`` (tests/scan_pnm.py) as a scanner would deliver them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from scanlet.barcodes.read import Box
from tests.barcodes.pages import SAMPLES, Page, Sample, barcode_pages
from tests.scan_pnm import scan_image


@dataclass
class Scanned:
    """A drawn page, where its symbols went, and the page as scanned."""

    page: Page
    image: Image.Image

    @property
    def boxes(self) -> dict[str, Box]:
        return self.page.boxes


class Scanner:
    """Scans pages through the pnm backend, each in a folder of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0

    def __call__(self, image: Image.Image, *, gray: bool = True, dpi: int = 150) -> Image.Image:
        self.count += 1
        return scan_image(image, self.root / f"scan{self.count}", gray=gray, dpi=dpi)


@pytest.fixture(scope="session")
def scanner(tmp_path_factory: pytest.TempPathFactory) -> Scanner:
    return Scanner(tmp_path_factory.mktemp("pnm"))


@pytest.fixture(scope="session")
def grid_scans(scanner: Scanner) -> list[Scanned]:
    """Every sample format on A4 pages at 150 dpi, scanned in grey."""
    return [Scanned(page, scanner(page.image, gray=True, dpi=150))
            for page in barcode_pages(SAMPLES)]


@pytest.fixture(scope="session")
def sample_scans(grid_scans: list[Scanned]) -> dict[str, tuple[Sample, Scanned]]:
    """Sample format → (sample, the scanned page holding it)."""
    found = {}
    for scanned in grid_scans:
        for sample in SAMPLES:
            if sample.format in scanned.boxes:
                found[sample.format] = (sample, scanned)
    return found
