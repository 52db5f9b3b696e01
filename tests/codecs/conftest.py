"""Fixtures for the codec tests: a real page store to export from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scanlet.buffer import PageStore
from scanlet.config import Home
from tests.buffer.testdata import A4_300, KEY, make_jpeg


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").create()


@pytest.fixture
def store(home: Home) -> Iterator[PageStore]:
    with PageStore(home, KEY, fsync=False) as page_store:
        yield page_store


@pytest.fixture
def document(store: PageStore) -> str:
    return store.create_document("export").id


@pytest.fixture(scope="session")
def a4_jpeg() -> bytes:
    """An A4 300 dpi colour JPEG (2480 x 3507)."""
    return make_jpeg(*A4_300, dpi=300)
