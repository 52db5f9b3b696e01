"""Pages: adding (handover and import), order, move, reorder, delete, tags, encryption."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from PIL import Image

from scanlet.buffer import DEFAULT_DPI, PageStore
from scanlet.config import Home
from scanlet.crypto import MAGIC, read_encrypted, write_encrypted
from scanlet.errors import InvalidSetting, PageCorrupt, PageNotFound, StorageError
from scanlet.models import ColorMode, PageInfo, Source
from tests.buffer.testdata import KEY, OTHER_KEY, ScanFactory, make_jpeg, make_png


def ids(pages: list[PageInfo]) -> list[str]:
    return [p.id for p in pages]


def filled(store: PageStore, count: int) -> tuple[str, list[str]]:
    doc = store.create_document()
    return doc.id, [store.add_image(doc.id, make_jpeg(seed=i), "jpeg").id for i in range(count)]


# -- adding -----------------------------------------------------------------------------------


def test_add_page_takes_ownership(store: PageStore, home: Home, scanned: ScanFactory) -> None:
    doc = store.create_document()
    data = make_jpeg(seed=3)
    handover = scanned(data, dpi=200.0)
    page = store.add_page(doc.id, handover, job_id="job1")
    assert not Path(handover.path).exists()  # moved, not copied
    stored = home.pages / f"{page.id}.slc"
    assert stored.exists()
    assert (page.index, page.width, page.height, page.dpi) == (0, 120, 160, 200.0)
    assert (page.format, page.mode, page.bit_depth, page.bytes) == ("jpeg", "color", 8, len(data))
    assert page.source == Source.FEEDER and page.job_id == "job1"
    assert store.read_original(page.id) == data
    assert store.get_document(doc.id).page_count == 1


def test_files_are_encrypted_and_private(store: PageStore, home: Home,
                                         scanned: ScanFactory) -> None:
    doc = store.create_document()
    store.add_page(doc.id, scanned())
    store.add_image(doc.id, make_png(), "png")
    files = list(home.pages.iterdir())
    assert len(files) == 2
    for path in files:
        blob = path.read_bytes()
        assert blob.startswith(MAGIC)
        assert b"\xff\xd8\xff" not in blob[:64] and b"PNG" not in blob[:64]
        assert b"JFIF" not in blob and b"IHDR" not in blob
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.database.stat().st_mode) == 0o600


def test_pages_append_in_order(store: PageStore, scanned: ScanFactory) -> None:
    doc = store.create_document()
    added = [store.add_page(doc.id, scanned()) for _ in range(4)]
    listed = store.list_pages(doc.id)
    assert ids(listed) == ids(added)
    assert [p.index for p in listed] == [0, 1, 2, 3]


def test_wrong_key_handover_is_refused_and_left_in_place(store: PageStore,
                                                         scanned: ScanFactory) -> None:
    doc = store.create_document()
    handover = scanned(key=OTHER_KEY)
    with pytest.raises(PageCorrupt):
        store.add_page(doc.id, handover)
    assert Path(handover.path).exists()
    assert store.list_pages(doc.id) == []


def test_handover_to_unknown_document_leaves_file(store: PageStore,
                                                  scanned: ScanFactory) -> None:
    handover = scanned()
    with pytest.raises(Exception, match="no document"):
        store.add_page("missing", handover)
    assert Path(handover.path).exists()


def test_handover_outside_incoming_refused(store: PageStore, tmp_path: Path) -> None:
    doc = store.create_document()
    outside = tmp_path / "elsewhere.enc"
    write_encrypted(outside, KEY, make_jpeg())
    from scanlet.models import ScannedPage

    page = ScannedPage(path=str(outside), format="jpeg", width=120, height=160, dpi=300,
                       bit_depth=8, mode=ColorMode.COLOR, bytes=1, source=Source.FLATBED)
    with pytest.raises(StorageError, match="not a file in"):
        store.add_page(doc.id, page)
    assert outside.exists()


def test_handover_with_wrong_format_is_corrupt(store: PageStore, scanned: ScanFactory) -> None:
    doc = store.create_document()
    with pytest.raises(PageCorrupt):
        store.add_page(doc.id, scanned(make_png(), fmt="jpeg"))


def test_handover_values_come_from_the_file(store: PageStore, scanned: ScanFactory) -> None:
    doc = store.create_document()
    handover = scanned(make_png(mode="1"), fmt="png", mode=ColorMode.COLOR)
    page = store.add_page(doc.id, handover)
    assert (page.mode, page.bit_depth, page.format) == ("bw", 1, "png")


def test_failed_commit_moves_file_back(store: PageStore, scanned: ScanFactory,
                                       monkeypatch: pytest.MonkeyPatch, home: Home) -> None:
    doc = store.create_document()
    handover = scanned()

    def boom(*args: object, **kwargs: object) -> None:
        raise StorageError("disk full")

    monkeypatch.setattr("scanlet.buffer.index.insert_page", boom)
    with pytest.raises(StorageError, match="disk full"):
        store.add_page(doc.id, handover)
    assert Path(handover.path).exists()
    assert list(home.pages.iterdir()) == []
    assert store.list_pages(doc.id) == []


@pytest.mark.parametrize(("mode", "expected"), [
    ("RGB", ("color", 8)), ("L", ("gray", 8)), ("1", ("bw", 1)), ("I;16", ("gray", 16)),
])
def test_add_image_png_modes(store: PageStore, mode: str, expected: tuple[str, int]) -> None:
    doc = store.create_document()
    page = store.add_image(doc.id, make_png(mode=mode, dpi=150), "png", source=Source.FLATBED)
    assert (page.mode, page.bit_depth, page.dpi) == (*expected, pytest.approx(150, abs=0.01))
    assert page.source == Source.FLATBED


def test_add_image_dpi_defaults(store: PageStore) -> None:
    doc = store.create_document()
    assert store.add_image(doc.id, make_jpeg(dpi=None), "jpeg").dpi == DEFAULT_DPI
    assert store.add_image(doc.id, make_jpeg(dpi=None), "jpeg", dpi=600).dpi == 600
    assert store.add_image(doc.id, make_jpeg(mode="L", dpi=200), "jpeg").mode == "gray"


def _png_header_only(width: int, height: int) -> bytes:
    import struct
    import zlib

    png = make_png(4, 4)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    patched = struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return png[:8] + patched + png[8 + 25:]


@pytest.mark.parametrize(("data", "fmt", "message"), [
    (b"not an image", "jpeg", "not a readable"),
    (make_png(), "jpeg", "not a readable"),
    (make_jpeg(), "png", "not a readable"),
    (make_jpeg()[:400], "jpeg", "not a readable"),
    (make_jpeg()[:1500], "jpeg", "truncated"),
    (make_png()[:3000], "png", "truncated"),
    (_png_header_only(50_000, 50_000), "png", "too large|bomb"),
    (_png_header_only(12_000, 9_000), "png", "too large|bomb"),
    (make_jpeg(), "gif", "unsupported"),
])
def test_add_image_refuses(store: PageStore, data: bytes, fmt: str, message: str) -> None:
    doc = store.create_document()
    with pytest.raises(InvalidSetting, match=message):
        store.add_image(doc.id, data, fmt)  # type: ignore[arg-type]
    assert store.list_pages(doc.id) == []


def test_add_image_refuses_alpha_and_palette(store: PageStore) -> None:
    doc = store.create_document()
    for mode in ("RGBA", "P", "LA"):
        out = io.BytesIO()
        Image.new(mode, (8, 8)).save(out, "PNG")
        with pytest.raises(InvalidSetting, match="not supported"):
            store.add_image(doc.id, out.getvalue(), "png")
    out = io.BytesIO()
    Image.new("CMYK", (8, 8)).save(out, "JPEG")
    with pytest.raises(InvalidSetting, match="not supported"):
        store.add_image(doc.id, out.getvalue(), "jpeg")


def test_add_image_validates_arguments(store: PageStore) -> None:
    doc = store.create_document()
    with pytest.raises(InvalidSetting):
        store.add_image(doc.id, make_jpeg(), "jpeg", dpi=0)
    with pytest.raises(InvalidSetting):
        store.add_image(doc.id, make_jpeg(), "jpeg", source="tray")  # type: ignore[arg-type]


# -- reading ----------------------------------------------------------------------------------


def test_wrong_key_reads_are_corrupt(home: Home) -> None:
    with PageStore(home, KEY) as store:
        doc = store.create_document()
        page = store.add_image(doc.id, make_jpeg(), "jpeg")
    with PageStore(home, OTHER_KEY) as wrong:
        # The index's sealed fields (tags, metadata) refuse the key before any file is read.
        for read in (wrong.get_page, wrong.read_original):
            with pytest.raises(StorageError, match="integrity check"):
                read(page.id)
        with pytest.raises(StorageError, match="integrity check"):
            wrong.get_document(doc.id)
    with pytest.raises(PageCorrupt):  # and the page file itself refuses it
        read_encrypted(home.cache / "pages" / f"{page.id}.slc", OTHER_KEY)


def test_damaged_or_swapped_file_is_corrupt(home: Home) -> None:
    with PageStore(home, KEY, ram_cache_bytes=0) as store:
        _doc, (first, second) = filled(store, 2)
        path = home.pages / f"{first}.slc"
        blob = bytearray(path.read_bytes())
        blob[-5] ^= 1
        path.write_bytes(bytes(blob))
        with pytest.raises(PageCorrupt):
            store.read_original(first)
        # A valid file of another page under this page's name fails the digest check.
        path.write_bytes((home.pages / f"{second}.slc").read_bytes())
        with pytest.raises(PageCorrupt, match="does not match"):
            store.read_original(first)


def test_unknown_page(store: PageStore) -> None:
    for call in (lambda: store.get_page("x"), lambda: store.read_original("x"),
                 lambda: store.render("x"), lambda: store.update_page("x", tags=[])):
        with pytest.raises(PageNotFound):
            call()


def test_page_tags_and_metadata(store: PageStore) -> None:
    _, (page_id,) = filled(store, 1)
    updated = store.update_page(page_id, tags=["front"], metadata={"ocr": {"lang": "eng"}})
    assert updated.tags == ["front"] and updated.metadata == {"ocr": {"lang": "eng"}}
    assert store.update_page(page_id, tags=[]).metadata == {"ocr": {"lang": "eng"}}
    assert store.get_page(page_id).tags == []
    with pytest.raises(InvalidSetting):
        store.update_page(page_id, metadata={"x": {1, 2}})


# -- ordering ---------------------------------------------------------------------------------


def test_move_selection_keeps_document_order(store: PageStore) -> None:
    doc, p = filled(store, 6)
    result = store.move_pages(doc, [p[4], p[1]], 0)
    assert ids(result) == [p[1], p[4], p[0], p[2], p[3], p[5]]
    assert [x.index for x in result] == list(range(6))
    assert ids(store.list_pages(doc)) == ids(result)
    result = store.move_pages(doc, [p[1]], 5)
    assert ids(result) == [p[4], p[0], p[2], p[3], p[5], p[1]]


def test_move_errors(store: PageStore) -> None:
    doc, p = filled(store, 3)
    _other, q = filled(store, 1)
    with pytest.raises(InvalidSetting):
        store.move_pages(doc, [p[0]], 3)  # past the end (max 2)
    with pytest.raises(InvalidSetting):
        store.move_pages(doc, [p[0]], -1)
    with pytest.raises(InvalidSetting):
        store.move_pages(doc, [], 0)
    with pytest.raises(InvalidSetting):
        store.move_pages(doc, [p[0], p[0]], 0)
    with pytest.raises(InvalidSetting, match="not in document"):
        store.move_pages(doc, [q[0]], 0)
    with pytest.raises(PageNotFound):
        store.move_pages(doc, ["nope"], 0)
    assert ids(store.list_pages(doc)) == p


def test_reorder(store: PageStore) -> None:
    doc, p = filled(store, 4)
    new = [p[3], p[0], p[2], p[1]]
    assert ids(store.reorder(doc, new)) == new
    assert [x.index for x in store.list_pages(doc)] == [0, 1, 2, 3]
    for bad in ([p[0], p[1], p[2]], [*p, p[0]], [p[0], p[0], p[1], p[2]], [*p[:3], "x"]):
        with pytest.raises(InvalidSetting):
            store.reorder(doc, bad)
    assert ids(store.list_pages(doc)) == new


def test_delete_selection_compacts_positions(store: PageStore, home: Home) -> None:
    doc, p = filled(store, 5)
    other, q = filled(store, 2)
    assert store.delete_pages([p[1], p[3], q[0], p[1]]) == 3
    assert ids(store.list_pages(doc)) == [p[0], p[2], p[4]]
    assert [x.index for x in store.list_pages(doc)] == [0, 1, 2]
    assert ids(store.list_pages(other)) == [q[1]]
    assert sorted(f.name for f in home.pages.iterdir()) == sorted(
        f"{i}.slc" for i in (p[0], p[2], p[4], q[1]))
    assert store.delete_pages([]) == 0


def test_delete_is_all_or_nothing(store: PageStore) -> None:
    doc, p = filled(store, 3)
    with pytest.raises(PageNotFound) as caught:
        store.delete_pages([p[0], "ghost"])
    assert caught.value.detail["page_ids"] == ["ghost"]
    assert ids(store.list_pages(doc)) == p


def test_delete_all_pages(store: PageStore, home: Home) -> None:
    doc, _p = filled(store, 3)
    other, q = filled(store, 2)
    assert store.delete_all_pages(doc) == 3
    assert store.list_pages(doc) == [] and ids(store.list_pages(other)) == q
    assert store.delete_all_pages() == 2
    assert list(home.pages.iterdir()) == []
    assert len(store.list_documents()) == 2  # documents are kept
    page = store.add_image(doc, make_jpeg(), "jpeg")
    assert page.index == 0


def test_closed_store_refuses(home: Home) -> None:
    store = PageStore(home, KEY)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        store.list_documents()


def test_bad_key_length(home: Home) -> None:
    with pytest.raises(StorageError, match="32 bytes"):
        PageStore(home, b"short")


# -- copying ----------------------------------------------------------------------------------


def test_copy_page_into_another_document(store: PageStore) -> None:
    source_doc, (first, second) = filled(store, 2)
    store.update_page(second, tags=["invoice"], metadata={"n": 7})
    target, existing = filled(store, 2)

    copy = store.copy_page(second, target, to_index=1)
    assert copy.id != second and copy.document_id == target and copy.index == 1
    assert ids(store.list_pages(target)) == [existing[0], copy.id, existing[1]]
    assert ids(store.list_pages(source_doc)) == [first, second]  # the original stays
    assert store.read_original(copy.id) == store.read_original(second)
    assert (copy.tags, copy.metadata, copy.version) == (["invoice"], {"n": 7}, 0)
    appended = store.copy_page(first, target)
    assert ids(store.list_pages(target))[-1] == appended.id
    # Deleting the original leaves the copy readable (its own file).
    store.delete_pages([second])
    assert store.read_original(copy.id)


def test_copy_page_errors(store: PageStore) -> None:
    doc, (page,) = filled(store, 1)
    with pytest.raises(InvalidSetting):
        store.copy_page(page, doc, to_index=5)
    with pytest.raises(PageNotFound):
        store.copy_page("nope", doc)
    assert ids(store.list_pages(doc)) == [page]  # nothing was added
