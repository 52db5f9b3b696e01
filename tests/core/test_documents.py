"""``scanlet.core.documents``: the one document split behind the API and the CLI, on a real
page buffer with pages imported from PNG files (blank detection and barcodes run for real)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scanlet.barcodes.separation import SeparationRule
from scanlet.buffer import PageStore
from scanlet.config import Home
from scanlet.core.documents import group_pages, split_document
from scanlet.errors import DocumentNotFound
from scanlet.importing import import_file
from tests.buffer.testdata import KEY
from tests.core.pages import sheet, stack


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PageStore]:
    with PageStore(Home(tmp_path / "home").create(), KEY) as page_store:
        yield page_store


def fill(store: PageStore, files: list[Path], name: str = "batch") -> str:
    document = store.create_document(name, tags=["inbox"], metadata={"client": "42"})
    for path in files:
        import_file(store, document.id, path)
    return document.id


BLANK = SeparationRule(kind="blank")


def test_group_pages_on_blank_sheets(store: PageStore, tmp_path: Path) -> None:
    pages = store.list_pages(fill(store, stack(tmp_path)))
    ids = [p.id for p in pages]
    groups = group_pages(store, pages, BLANK)
    assert [[p.id for p in g] for g in groups] == [[ids[0]], [ids[2], ids[3]], [ids[5]]]
    kept = group_pages(store, pages, BLANK.model_copy(update={"keep_separators": True}))
    assert [[p.id for p in g] for g in kept] == [[ids[0]], ids[1:4], ids[4:]]
    assert group_pages(store, pages, None) == [pages]


def test_group_pages_on_a_barcode(store: PageStore, tmp_path: Path) -> None:
    files = [sheet(tmp_path / "a.png", "First"), sheet(tmp_path / "b.png", qr="NEXT"),
             sheet(tmp_path / "c.png", "Second"), sheet(tmp_path / "d.png", qr="OTHER")]
    pages = store.list_pages(fill(store, files))
    groups = group_pages(store, pages, SeparationRule(kind="barcode", value="NEXT"))
    assert [[p.id for p in g] for g in groups] == [[pages[0].id],
                                                   [pages[2].id, pages[3].id]]


def test_split_document_applies_the_groups_to_the_buffer(store: PageStore,
                                                         tmp_path: Path) -> None:
    source = fill(store, stack(tmp_path))
    pages = store.list_pages(source)
    made = split_document(store, source, BLANK, name_prefix="Part")
    assert [d.name for d in made] == ["Part 1", "Part 2", "Part 3"]
    assert [d.page_count for d in made] == [1, 2, 1]
    assert all(d.tags == ["inbox"] and d.metadata == {"client": "42"} for d in made)
    assert [p.id for p in store.list_pages(made[1].id)] == [pages[2].id, pages[3].id]
    with pytest.raises(DocumentNotFound):
        store.get_document(source)
    remaining = {p.id for d in made for p in store.list_pages(d.id)}
    assert pages[1].id not in remaining and pages[4].id not in remaining  # separators gone
    assert {d.id for d in store.list_documents()} == {d.id for d in made}


def test_split_names_after_the_source_without_a_prefix(store: PageStore,
                                                       tmp_path: Path) -> None:
    source = fill(store, stack(tmp_path), name="Scans")
    made = split_document(store, source, BLANK.model_copy(update={"keep_separators": True}))
    assert [(d.name, d.page_count) for d in made] == [("Scans 1", 1), ("Scans 2", 3),
                                                      ("Scans 3", 2)]
