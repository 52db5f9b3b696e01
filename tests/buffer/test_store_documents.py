"""Documents: create, list, get, update (tags + metadata), delete with their pages."""

from __future__ import annotations

import pytest

from scanlet.buffer import PageStore
from scanlet.buffer.ids import is_id
from scanlet.config import Home
from scanlet.errors import DocumentNotFound, InvalidSetting
from tests.buffer.testdata import KEY, make_jpeg


def test_create_get_list(store: PageStore) -> None:
    first = store.create_document("Invoices", tags=["a", "b"], metadata={"k": [1, 2]})
    second = store.create_document()
    assert is_id(first.id) and first.id != second.id
    assert first.name == "Invoices" and first.tags == ["a", "b"]
    assert first.metadata == {"k": [1, 2]} and first.page_count == 0
    assert store.get_document(first.id) == first
    assert [d.id for d in store.list_documents()] == [first.id, second.id]


def test_unknown_document(store: PageStore) -> None:
    for call in (
        lambda: store.get_document("nope"),
        lambda: store.update_document("nope", name="x"),
        lambda: store.delete_document("nope"),
        lambda: store.list_pages("nope"),
        lambda: store.add_image("nope", make_jpeg(), "jpeg"),
        lambda: store.delete_all_pages("nope"),
    ):
        with pytest.raises(DocumentNotFound):
            call()


def test_update_fields_independently(store: PageStore) -> None:
    doc = store.create_document("old", tags=["x"], metadata={"a": 1})
    renamed = store.update_document(doc.id, name="new")
    assert (renamed.name, renamed.tags, renamed.metadata) == ("new", ["x"], {"a": 1})
    retagged = store.update_document(doc.id, tags=["y", "y", " z "])
    assert retagged.tags == ["y", "z"]  # duplicates dropped, whitespace trimmed
    remeta = store.update_document(doc.id, metadata={"b": {"c": None}})
    assert remeta.metadata == {"b": {"c": None}} and remeta.name == "new"
    assert store.update_document(doc.id) == remeta


@pytest.mark.parametrize(
    "kwargs",
    [{"tags": "notalist"}, {"tags": [1]}, {"tags": [""]}, {"metadata": {"x": object()}},
     {"metadata": {"x": float("nan")}}, {"metadata": [1]}, {"name": "x" * 501}],
)
def test_invalid_fields_refused(store: PageStore, kwargs: dict[str, object]) -> None:
    doc = store.create_document()
    with pytest.raises(InvalidSetting):
        store.update_document(doc.id, **kwargs)  # type: ignore[arg-type]


def test_delete_document_removes_pages_and_files(store: PageStore, home: Home) -> None:
    keep = store.create_document("keep")
    doomed = store.create_document("doomed")
    kept_page = store.add_image(keep.id, make_jpeg(seed=1), "jpeg")
    for seed in range(3):
        store.add_image(doomed.id, make_jpeg(seed=seed), "jpeg")
    store.render(kept_page.id, width=50)
    assert len(list(home.pages.iterdir())) == 4
    store.delete_document(doomed.id)
    assert [d.id for d in store.list_documents()] == [keep.id]
    assert [p.name for p in home.pages.iterdir()] == [f"{kept_page.id}.slc"]
    assert len(list(home.thumbnails.iterdir())) == 1
    assert store.read_original(kept_page.id) == make_jpeg(seed=1)


def test_documents_persist_across_reopen(home: Home) -> None:
    with PageStore(home, KEY) as first:
        doc = first.create_document("persist", tags=["t"], metadata={"m": "é"})
        first.add_image(doc.id, make_jpeg(), "jpeg")
    with PageStore(home, KEY) as second:
        again = second.get_document(doc.id)
        assert again == doc.model_copy(update={"page_count": 1})
