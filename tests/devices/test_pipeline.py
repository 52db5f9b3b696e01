"""Unit tests of page encoding and the bounded, ordered page pipeline (no device involved)."""

from __future__ import annotations

import hashlib
import io
import secrets
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from scanlet.buffer import PageStore as BufferStore
from scanlet.config import Home
from scanlet.crypto import read_encrypted
from scanlet.devices.driver import DeliveredImage
from scanlet.devices.encode import RawPage, encode_page
from scanlet.devices.pipeline import PagePipeline, PageStore
from scanlet.errors import StorageError
from scanlet.models import ColorMode, Compression, ScannedPage, Source

pytestmark = pytest.mark.timeout(30)


def _raw(image: Image.Image, mode: ColorMode, depth: int = 8, **kw: object) -> RawPage:
    layout = {"RGB": "rgb8", "L": "gray8"}[image.mode]
    stride = image.width * (3 if image.mode == "RGB" else 1)
    return RawPage(data=bytearray(image.tobytes()), layout=layout,  # type: ignore[arg-type]
                   width=image.width, height=image.height, stride=stride, mode=mode,
                   bit_depth=depth, dpi=200.0, source=Source.FEEDER, **kw)  # type: ignore


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_encoding_rules() -> None:
    colour = Image.radial_gradient("L").convert("RGB").resize((300, 200))
    jpeg = encode_page(_raw(colour, ColorMode.COLOR), Compression.AUTO, 90)
    assert (jpeg.format, jpeg.width, jpeg.height) == ("jpeg", 300, 200)
    assert _open(jpeg.data).info["dpi"] == (200, 200)

    lossless = encode_page(_raw(colour, ColorMode.COLOR), Compression.LOSSLESS, 90)
    assert lossless.format == "png"
    assert _open(lossless.data).tobytes() == colour.tobytes()

    grey = encode_page(_raw(colour, ColorMode.GRAY), Compression.JPEG, 90)  # converted
    assert grey.format == "jpeg" and _open(grey.data).mode == "L"

    bw = encode_page(_raw(colour.convert("L"), ColorMode.BW, 1), Compression.JPEG, 90)
    image = _open(bw.data)
    assert (bw.format, image.mode, bw.bit_depth) == ("png", "1", 1)  # never JPEG


def test_sane_one_bit_layout_means_black_is_one() -> None:
    # 16 pixels a line: first byte all black (bits set), second byte all white
    raw = RawPage(data=bytes([0xFF, 0x00]) * 4, layout="bw1", width=16, height=4, stride=2,
                  mode=ColorMode.BW, bit_depth=1, dpi=300.0, source=Source.FLATBED)
    image = _open(encode_page(raw, Compression.AUTO, 85).data)
    assert image.getpixel((0, 0)) == 0 and image.getpixel((15, 3)) == 255


def test_pipeline_is_ordered_bounded_and_stores_encrypted_files(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    emitted: list[ScannedPage] = []
    alive = 0
    peak = 0
    lock = threading.Lock()

    def release() -> None:
        nonlocal alive
        with lock:
            alive -= 1

    pipe = PagePipeline(PageStore(tmp_path, key, fsync=False), emitted.append,
                        compression=Compression.AUTO, jpeg_quality=80, depth=2, encoders=2)
    for i in range(8):
        pipe.wait_for_room()
        with lock:
            alive += 1  # the page being "scanned" counts
            peak = max(peak, alive)
        shade = Image.new("RGB", (400 + i, 300), (i * 30, 0, 0))
        pipe.frame(_raw(shade, ColorMode.COLOR, release=release))
    assert pipe.finish() == 8
    assert peak <= 2
    assert [p.width for p in emitted] == [400 + i for i in range(8)]  # scan order
    for i, page in enumerate(emitted):
        image = _open(read_encrypted(Path(page.path), key))
        assert image.size == (400 + i, 300)
        assert abs(image.getpixel((5, 5))[0] - i * 30) < 8  # type: ignore[index]


def test_storage_failure_stops_after_the_pages_already_stored(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    emitted: list[ScannedPage] = []

    def emit(page: ScannedPage) -> None:
        emitted.append(page)
        if len(emitted) == 2:  # the disk "goes away" after two pages
            _remove_all(incoming)

    pipe = PagePipeline(PageStore(incoming, secrets.token_bytes(32), fsync=False), emit,
                        compression=Compression.AUTO, jpeg_quality=80, depth=1, encoders=1)
    with pytest.raises(StorageError):
        for _ in range(5):
            pipe.wait_for_room()
            pipe.frame(_raw(Image.new("RGB", (64, 64)), ColorMode.COLOR))
            time.sleep(0.05)
        pipe.finish()
    with pytest.raises(StorageError):
        pipe.finish()
    assert len(emitted) == 2


def _remove_all(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()


def test_a_slow_disk_holds_the_scan_back(tmp_path: Path) -> None:
    emitted: list[ScannedPage] = []
    four_submitted = threading.Event()

    def slow_emit(page: ScannedPage) -> None:
        if not emitted:  # the disk stalls on the first page until four are waiting
            assert four_submitted.wait(30)  # a guard against a hang only
        time.sleep(0.03)
        emitted.append(page)

    pipe = PagePipeline(PageStore(tmp_path, secrets.token_bytes(32), fsync=False), slow_emit,
                        compression=Compression.AUTO, jpeg_quality=80, depth=2, encoders=2)
    backlog = []
    for i in range(10):
        pipe.wait_for_room()
        pipe.frame(_raw(Image.new("RGB", (32, 32)), ColorMode.COLOR))
        backlog.append(i + 1 - pipe.emitted)
        if i == 3:
            four_submitted.set()
    assert pipe.finish() == 10
    # Pages submitted but not yet written queue up (four behind the stalled disk, however
    # fast this machine submits) and never exceed 2 * depth.
    assert max(backlog) == 4


def _page_image(i: int) -> Image.Image:
    """A page large enough to get a preview (long side >= 1720 px)."""
    return Image.new("RGB", (1800, 1300), (i * 20, 90, 200 - i * 20))


def test_every_page_gets_its_preview_when_the_device_is_the_bottleneck(
        tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    emitted: list[ScannedPage] = []
    pipe = PagePipeline(PageStore(tmp_path, key, fsync=False), emitted.append,
                        compression=Compression.AUTO, jpeg_quality=80, depth=2, encoders=2)
    for i in range(4):
        pipe.wait_for_room()
        pipe.frame(_raw(_page_image(i), ColorMode.COLOR))
        while pipe.emitted < i + 1:  # a slow device: the encoders always catch up
            time.sleep(0.01)
    assert pipe.finish() == 4 and pipe.previews_skipped == 0
    for i, page in enumerate(emitted):
        assert page.preview_path is not None
        preview = _open(read_encrypted(Path(page.preview_path), key))
        assert preview.size == (900, 650)
        red = preview.getpixel((450, 325))[0]  # type: ignore[index]
        assert abs(red - i * 20) < 6


def test_previews_are_left_to_the_service_when_the_encoders_are_behind(
        tmp_path: Path) -> None:
    emitted: list[ScannedPage] = []
    pipe = PagePipeline(PageStore(tmp_path, secrets.token_bytes(32), fsync=False),
                        emitted.append, compression=Compression.AUTO, jpeg_quality=80,
                        depth=1, encoders=1)
    for i in range(6):  # a device faster than the encoder: the scan waits for room
        pipe.wait_for_room()
        pipe.frame(_raw(_page_image(i), ColorMode.COLOR))
    assert pipe.finish() == 6
    with_preview = [p.preview_path is not None for p in emitted]
    assert with_preview[0]  # nothing was waiting before the first page
    assert pipe.previews_skipped == with_preview.count(False) >= 1
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(
        Path(p).name for page in emitted for p in (page.path, page.preview_path) if p)


def _jpeg(size: tuple[int, int], dpi: int) -> bytes:
    out = io.BytesIO()
    Image.radial_gradient("L").convert("RGB").resize(size).save(out, "JPEG", quality=70,
                                                                 dpi=(dpi, dpi))
    return out.getvalue()


def test_a_delivered_image_is_stored_as_delivered_in_scan_order(tmp_path: Path) -> None:
    """An image the device encoded (eSCL's JPEG) is neither decoded nor re-encoded: the
    stored file decrypts to the very bytes delivered, between raw frames in scan order; no
    preview is made for it (the service backfills those); the buffer accepts it."""
    home = Home(tmp_path / "home").create()
    key = secrets.token_bytes(32)
    delivered = _jpeg((320, 240), 150)
    emitted: list[ScannedPage] = []
    pipe = PagePipeline(PageStore(home.incoming, key, fsync=False), emitted.append,
                        compression=Compression.AUTO, jpeg_quality=90, depth=2)
    pipe.wait_for_room()
    pipe.frame(_raw(_page_image(0), ColorMode.COLOR))
    pipe.wait_for_room()
    pipe.encoded(DeliveredImage(data=delivered, format="jpeg", width=320, height=240,
                                dpi=150.0, bit_depth=8, mode=ColorMode.COLOR,
                                source=Source.FLATBED))
    pipe.wait_for_room()
    pipe.frame(_raw(_page_image(2), ColorMode.COLOR))
    assert pipe.finish() == 3
    assert [p.source for p in emitted] == [Source.FEEDER, Source.FLATBED, Source.FEEDER]
    page = emitted[1]
    assert read_encrypted(Path(page.path), key) == delivered
    assert page.sha256 == hashlib.sha256(delivered).hexdigest()
    assert (page.format, page.width, page.height, page.dpi, page.bytes) == (
        "jpeg", 320, 240, 150.0, len(delivered))
    assert page.preview_path is None
    with BufferStore(home, key) as buffer:
        document = buffer.create_document().id
        infos = [buffer.add_page(document, p) for p in emitted]
        assert buffer.read_original(infos[1].id) == delivered
        assert (infos[1].width, infos[1].height) == (320, 240)
