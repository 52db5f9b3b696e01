"""Fixtures for the import tests: a real page store and a document to import into."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scanlet.buffer import PageStore
from scanlet.config import Home
from tests.buffer.testdata import KEY


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home").create()


@pytest.fixture
def store(home: Home) -> Iterator[PageStore]:
    with PageStore(home, KEY, fsync=False) as page_store:
        yield page_store


@pytest.fixture
def document(store: PageStore) -> str:
    return store.create_document("import").id
