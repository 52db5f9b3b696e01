"""The memory bounds of imports (issue 14, item 3): decoded bytes per page, inflated PDF
content per page, the worker doing all decoding, and the budget all imports share."""

from __future__ import annotations

import asyncio
import io
import sys
import threading
import zlib
from pathlib import Path

import pikepdf
import psutil
import pytest
from PIL import Image

from scanlet.buffer import PageStore
from scanlet.codecs.render import preview_of_image
from scanlet.config import Home
from scanlet.errors import ImportsBusy
from scanlet.importing import (
    DecodeGate,
    DecodeLimits,
    PdfLimits,
    import_file,
    pdf,
    pdf_worker,
)
from scanlet.importing.budget import WORKER_BASE_BYTES, work_bytes
from scanlet.importing.errors import ImportTooLarge
from tests.importing.hostile import zero_png
from tests.importing.makers import save

MB = 2**20


def _limits(max_decoded: int) -> DecodeLimits:
    return DecodeLimits(max_decoded_bytes=max_decoded)


def test_decoded_bytes_count_bit_depth_and_channels() -> None:
    assert work_bytes(100, 100, "L") == 10_000
    assert work_bytes(100, 100, "I;16") == 20_000
    assert work_bytes(100, 100, "RGB") == 40_000  # Pillow keeps RGB in 4 bytes a pixel
    assert work_bytes(100, 100, "RGBA") > work_bytes(100, 100, "RGB")  # composited on white


@pytest.mark.parametrize(("depth", "colour_type", "allowed"), [
    (8, 0, True),     # 1000 x 1000 grey: 1 MB decoded
    (16, 0, False),   # the same pixels in 16 bits: 2 MB
    (8, 2, False),    # RGB: 4 MB
    (8, 4, False),    # grey + alpha: converted, far more
])
def test_the_cap_counts_decoded_bytes_not_pixels(store: PageStore, document: str, depth: int,
                                                 colour_type: int, allowed: bool) -> None:
    data = zero_png(1000, 1000, depth, colour_type)
    limits = _limits(3 * MB // 2)
    if allowed:
        assert len(import_file(store, document, data, decode=limits)) == 1
        return
    with pytest.raises(ImportTooLarge) as caught:
        import_file(store, document, data, decode=limits)
    assert caught.value.detail["limit"] == "decoded_bytes"
    assert caught.value.detail["maximum"] == 3 * MB // 2
    assert store.list_pages(document) == []


def test_a_rendered_pdf_page_counts_its_decoded_bytes(store: PageStore, document: str) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))  # A4: 1654 x 2339 px at 200 dpi, ~46 MB at 12 B/px
    data = save(pdf)
    with pytest.raises(ImportTooLarge) as caught:
        import_file(store, document, data, decode=_limits(40 * MB))
    assert caught.value.detail["limit"] == "decoded_bytes"
    assert len(import_file(store, document, data, dpi=100, decode=_limits(40 * MB))) == 1


def _content_pdf(megabytes: int) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    stream = pdf.make_stream(b"")
    stream.write(zlib.compress(b" " * (megabytes * MB), 9), filter=pikepdf.Name.FlateDecode)
    pdf.pages[0].obj.Contents = stream
    return save(pdf, compress_streams=False)


def test_inflated_content_is_measured_before_it_is_parsed(store: PageStore,
                                                          document: str) -> None:
    limits = PdfLimits(max_content_bytes=4 * MB)
    with pytest.raises(ImportTooLarge) as caught:
        import_file(store, document, _content_pdf(5), pdf_limits=limits)
    assert caught.value.detail["limit"] == "content_bytes"
    assert len(import_file(store, document, _content_pdf(3), pdf_limits=limits)) == 1


def test_images_are_decoded_in_a_worker_under_the_memory_limit(
        store: PageStore, document: str, home: Home) -> None:
    """The worker, not this process, decodes: its address space is limited, and a page this
    process never saw arrives with its preview."""
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        me = psutil.Process()
        while not stop.is_set():
            for child in me.children():
                try:
                    if "scanlet.importing.pdf_worker" in " ".join(child.cmdline()):
                        seen.append(child.rlimit(psutil.RLIMIT_AS)[0])
                except psutil.Error:
                    pass
            stop.wait(0.01)

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        [page] = import_file(store, document, zero_png(3000, 3000, 8, 0),
                             decode=_limits(64 * MB))
    finally:
        stop.set()
        thread.join()
    assert seen and set(seen) <= {-1, WORKER_BASE_BYTES + 64 * MB}  # -1: before set_limits
    assert WORKER_BASE_BYTES + 64 * MB in seen
    assert list(home.thumbnails.glob(f"{page.id}.*"))  # the worker's preview, kept


def test_the_gate_bounds_memory_and_concurrency() -> None:
    gate = DecodeGate(DecodeLimits(budget_bytes=100, max_running=2, wait_seconds=0.2))
    assert gate.try_acquire(60)
    assert not gate.try_acquire(50)  # over the budget
    assert gate.try_acquire(40)
    with pytest.raises(ImportsBusy) as caught, gate.reserve(1):  # no slot left
        pass
    assert caught.value.http_status == 429 and caught.value.detail["retry_after"] >= 1
    gate.release(60)

    async def admitted() -> bool:
        async with gate.areserve(60):
            return gate.in_use() == (100, 2)

    assert asyncio.run(admitted())
    gate.release(40)
    assert gate.in_use() == (0, 0)


def test_a_waiting_import_starts_when_room_is_freed() -> None:
    gate = DecodeGate(DecodeLimits(budget_bytes=100, max_running=1, wait_seconds=30))
    assert gate.try_acquire(100)
    started = threading.Event()

    def wait_for_room() -> None:
        with gate.reserve(100):
            started.set()

    thread = threading.Thread(target=wait_for_room)
    thread.start()
    assert not started.wait(0.2)
    gate.release(100)
    assert started.wait(10)
    thread.join()
    assert gate.in_use() == (0, 0)


@pytest.mark.parametrize("mode", ["1", "I;16"])
def test_banded_previews_equal_the_stores(mode: str) -> None:
    """The worker makes bilevel and 16-bit previews band by band (no full-size 8-bit copy);
    they are the very pixels codecs.render makes from the whole page."""
    noise = Image.effect_noise((2501, 3333), 60).convert("L")
    image = noise.convert("1") if mode == "1" else noise.convert("I").point(
        lambda v: v * 257).convert("I;16")
    banded, whole = pdf_worker._preview(image), preview_of_image(image)
    assert banded is not None and whole is not None
    with Image.open(io.BytesIO(banded)) as a, Image.open(io.BytesIO(whole)) as b:
        assert (a.size, a.mode, a.tobytes()) == (b.size, b.mode, b.tobytes())


@pytest.mark.parametrize(("said", "code"), [
    ("OpenBLAS error: Memory allocation still failed after 10 retries, giving up.",
     "import_too_large"),
    ("something else broke", "import_failed"),
])
def test_a_worker_that_exits_for_want_of_memory_is_413(tmp_path: Path, said: str,
                                                        code: str) -> None:
    """Some C libraries exit(1) when an allocation fails under RLIMIT_AS instead of raising:
    that is the file's size (413), not a fault of the service (500)."""
    worker = pdf._Worker([sys.executable, "-c", f"import sys; print({said!r}, "
                          "file=sys.stderr); sys.exit(1)"], tmp_path / "worker.log")
    try:
        assert worker.events.get(timeout=30) is None  # ended without a word on stdout
        assert pdf._exit_error(worker).code == code
    finally:
        worker.close()
