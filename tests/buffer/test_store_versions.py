"""Page versions: an edit stores a new version, the previous ones stay until undone or the
page is deleted; files on disk always match the index, also after a crash mid-edit."""

from __future__ import annotations

import pytest

from scanlet.buffer import PageStore
from scanlet.buffer.ids import new_id
from scanlet.config import Home
from scanlet.crypto import write_encrypted
from scanlet.errors import InvalidSetting, PageNotFound
from tests.buffer.testdata import KEY, decoded, make_jpeg, make_png


def page_files(home: Home) -> set[str]:
    return {p.name for p in home.pages.iterdir()}


def test_edit_then_undo_restores_the_original_bytes(store: PageStore, home: Home) -> None:
    doc = store.create_document("d")
    original = make_jpeg(120, 160, seed=1)
    page = store.add_image(doc.id, original, "jpeg", dpi=300)
    before = page_files(home)
    rotated = make_png(160, 120, mode="L", seed=2)
    edited = store.replace_image(page.id, rotated, "png", dpi=150)
    assert (edited.version, edited.format, edited.width, edited.height, edited.dpi) == \
        (1, "png", 160, 120, 150)
    assert edited.index == page.index and edited.id == page.id
    assert store.read_original(page.id) == rotated
    assert store.get_page(page.id).version == 1
    assert len(page_files(home)) == len(before) + 1
    undone = store.undo_edit(page.id)
    assert (undone.version, undone.format, undone.width, undone.dpi) == (0, "jpeg", 120, 300)
    assert store.read_original(page.id) == original
    assert page_files(home) == before  # the edited file is gone
    with pytest.raises(InvalidSetting):
        store.undo_edit(page.id)


def test_undo_to_original_drops_every_edit(store: PageStore, home: Home) -> None:
    doc = store.create_document()
    original = make_png(64, 64, seed=3)
    page = store.add_image(doc.id, original, "png", dpi=300)
    before = page_files(home)
    for seed in (4, 5, 6):
        store.replace_image(page.id, make_png(64, 64, seed=seed), "png", dpi=300)
    assert store.get_page(page.id).version == 3
    store.undo_edit(page.id)
    assert store.get_page(page.id).version == 2
    assert store.read_original(page.id) == make_png(64, 64, seed=5)
    restored = store.undo_edit(page.id, to_original=True)
    assert restored.version == 0 and store.read_original(page.id) == original
    assert page_files(home) == before


def test_renditions_follow_the_current_version(store: PageStore) -> None:
    doc = store.create_document()
    page = store.add_image(doc.id, make_jpeg(200, 300, seed=1), "jpeg")
    first = store.render(page.id, width=50, height=50)
    store.replace_image(page.id, make_jpeg(300, 200, seed=2), "jpeg", dpi=300)
    second = store.render(page.id, width=50, height=50)
    assert first.etag != second.etag
    assert decoded(second.data).size == (50, 33)
    store.undo_edit(page.id)
    assert store.render(page.id, width=50, height=50).etag == first.etag


def test_deleting_an_edited_page_deletes_every_version(store: PageStore, home: Home) -> None:
    doc = store.create_document()
    keep = store.add_image(doc.id, make_png(32, 32, seed=1), "png")
    page = store.add_image(doc.id, make_png(32, 32, seed=2), "png")
    only_keep = page_files(home) - {f"{page.id}.slc"}
    store.replace_image(page.id, make_png(32, 32, seed=3), "png", dpi=300)
    store.replace_image(page.id, make_png(32, 32, seed=4), "png", dpi=300)
    store.delete_pages([page.id])
    assert page_files(home) == only_keep
    assert store.get_page(keep.id).version == 0
    with pytest.raises(PageNotFound):
        store.replace_image(page.id, make_png(8, 8), "png", dpi=300)
    other = store.add_image(doc.id, make_png(32, 32, seed=5), "png")
    store.replace_image(other.id, make_png(32, 32, seed=6), "png", dpi=300)
    store.delete_document(doc.id)
    assert page_files(home) == set()


def test_bad_edits_change_nothing(store: PageStore, home: Home) -> None:
    doc = store.create_document()
    page = store.add_image(doc.id, make_png(32, 32, seed=1), "png")
    before = page_files(home)
    with pytest.raises(InvalidSetting):
        store.replace_image(page.id, b"not an image", "png", dpi=300)
    with pytest.raises(InvalidSetting):
        store.replace_image(page.id, make_png(8, 8), "png", dpi=0)
    assert page_files(home) == before and store.get_page(page.id).version == 0


def test_recovery_keeps_versions_and_removes_uncommitted_edits(home: Home) -> None:
    with PageStore(home, KEY) as store:
        doc = store.create_document()
        page = store.add_image(doc.id, make_png(32, 32, seed=1), "png")
        store.replace_image(page.id, make_png(32, 32, seed=2), "png", dpi=300)
        edited = store.read_original(page.id)
        kept = page_files(home)
    # an edit whose file was written but whose row never committed (crash in between)
    stray = home.pages / f"{new_id()}.slc"
    write_encrypted(stray, KEY, make_png(32, 32, seed=9))
    with PageStore(home, KEY) as store:
        report = store.recover()
        assert report.orphan_files_removed == 1 and not stray.exists()
        assert page_files(home) == kept
        assert store.read_original(page.id) == edited
        store.undo_edit(page.id)
        assert store.read_original(page.id) == make_png(32, 32, seed=1)


def test_recovery_forgets_versions_whose_files_are_lost(home: Home) -> None:
    with PageStore(home, KEY) as store:
        doc = store.create_document()
        page = store.add_image(doc.id, make_png(32, 32, seed=1), "png")
        store.replace_image(page.id, make_png(32, 32, seed=2), "png", dpi=300)
    (home.pages / f"{page.id}.slc").unlink()  # the original's file
    with PageStore(home, KEY) as store:
        store.recover()
        assert store.read_original(page.id) == make_png(32, 32, seed=2)
        with pytest.raises(InvalidSetting):
            store.undo_edit(page.id)


def test_pages_move_between_documents_with_their_versions(store: PageStore) -> None:
    first = store.create_document("a")
    second = store.create_document("b")
    pages = [store.add_image(first.id, make_png(16, 16, seed=i), "png") for i in range(4)]
    store.replace_image(pages[2].id, make_png(16, 16, seed=9), "png", dpi=300)
    store.add_image(second.id, make_png(16, 16, seed=7), "png")
    moved = store.transfer_pages([pages[2].id, pages[0].id], second.id)
    assert [p.index for p in moved] == [0, 1, 2]
    assert [p.id for p in moved][1:] == [pages[2].id, pages[0].id]
    assert [p.id for p in store.list_pages(first.id)] == [pages[1].id, pages[3].id]
    assert [p.index for p in store.list_pages(first.id)] == [0, 1]
    store.undo_edit(pages[2].id)
    assert store.read_original(pages[2].id) == make_png(16, 16, seed=2)
    with pytest.raises(PageNotFound):
        store.transfer_pages(["nope", pages[1].id], second.id)
    assert len(store.list_pages(first.id)) == 2
