"""Fixtures for the page buffer tests: a fresh home, a store, scan-worker style handovers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from scanlet.buffer import PageStore
from scanlet.config import Home
from scanlet.crypto import write_encrypted
from scanlet.models import ColorMode, ScannedPage, Source
from tests.buffer.testdata import KEY, ScanFactory, make_jpeg


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").create()


@pytest.fixture
def store(home: Home) -> Iterator[PageStore]:
    with PageStore(home, KEY) as page_store:
        yield page_store


@pytest.fixture
def scanned(home: Home) -> ScanFactory:
    """Writes an encrypted page into incoming/ as a scan worker does; returns its handover."""
    counter = iter(range(1_000_000))

    def factory(data: bytes | None = None, fmt: str = "jpeg", *, key: bytes = KEY,
                dpi: float = 300.0, mode: ColorMode = ColorMode.COLOR) -> ScannedPage:
        data = data if data is not None else make_jpeg(seed=next(counter) % 7)
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        path = home.incoming / f"scan-{next(counter)}.{fmt}.enc"
        write_encrypted(path, key, data)
        return ScannedPage(path=str(path), format=fmt, width=width, height=height, dpi=dpi,
                           bit_depth=8, mode=mode, bytes=len(data), source=Source.FEEDER)

    return factory
