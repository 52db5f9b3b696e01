"""Multi-page TIFF export, checked with Pillow: frames, compression, dpi, lossless pixels."""

from __future__ import annotations

import io
from datetime import datetime

import numpy as np
import pytest
from PIL import Image, TiffImagePlugin

from scanlet.buffer import PageStore
from scanlet.codecs import tiff as tiff_module
from scanlet.codecs.export import export_pages
from scanlet.codecs.options import DocumentMetadata, ExportOptions, TiffCompression
from scanlet.codecs.tiff import frame_bound
from scanlet.errors import ExportError, InvalidSetting
from scanlet.models import PageInfo
from tests.buffer.testdata import NonSeekable, decoded, make_jpeg, make_png

PREDICTOR = 317


def frames(data: bytes) -> list[tuple[Image.Image, dict[str, object]]]:
    image = Image.open(io.BytesIO(data))
    assert isinstance(image, TiffImagePlugin.TiffImageFile)
    result = []
    for index in range(image.n_frames):
        image.seek(index)
        image.load()
        info = {"dpi": image.info.get("dpi"), "compression": image.info.get("compression"),
                "predictor": image.tag_v2.get(PREDICTOR)}
        result.append((image.copy(), info))
    return result


@pytest.fixture
def mixed(store: PageStore, document: str) -> list[PageInfo]:
    return [
        store.add_image(document, make_jpeg(120, 90), "jpeg", dpi=300),
        store.add_image(document, make_png(200, 100, mode="1"), "png", dpi=200),
        store.add_image(document, make_png(90, 60, mode="L"), "png", dpi=150),
        store.add_image(document, make_png(64, 48, mode="I;16"), "png", dpi=600),
        store.add_image(document, make_png(50, 40, mode="RGB"), "png", dpi=75),
    ]


def test_frames_compression_dpi_and_pixels(store: PageStore, mixed: list[PageInfo]) -> None:
    out = io.BytesIO()
    assert export_pages(store, [p.id for p in mixed], "tiff", out) == "image/tiff"
    got = frames(out.getvalue())
    assert len(got) == len(mixed)
    expected_compression = ["tiff_lzw", "group4", "tiff_lzw", "tiff_lzw", "tiff_lzw"]
    for (frame, info), page, compression in zip(got, mixed, expected_compression, strict=True):
        assert info["compression"] == compression
        assert info["dpi"] == pytest.approx((page.dpi, page.dpi))
        if compression == "tiff_lzw":
            assert info["predictor"] == 2
        original = decoded(store.read_original(page.id))
        assert frame.mode == original.mode and frame.size == original.size
        assert np.array_equal(np.asarray(frame), np.asarray(original)), page.mode


def test_non_seekable_destination(store: PageStore, mixed: list[PageInfo]) -> None:
    sink = NonSeekable()
    export_pages(store, [mixed[1].id, mixed[0].id], "tiff", sink.sink)
    got = frames(bytes(sink.buffer))
    assert [f.size for f, _ in got] == [(200, 100), (120, 90)]


def test_size_limit_is_refused_before_writing_past_it(
    store: PageStore, mixed: list[PageInfo], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.BytesIO()
    one = io.BytesIO()
    export_pages(store, [mixed[0].id], "tiff", one)
    limit = len(one.getvalue()) + frame_bound(mixed[0]) + 1
    monkeypatch.setattr(tiff_module, "SIZE_LIMIT", limit)
    with pytest.raises(ExportError, match="4 GiB") as caught:
        export_pages(store, [mixed[0].id, mixed[0].id, mixed[0].id], "tiff", out)
    assert caught.value.detail["page_index"] in (1, 2)


def test_frame_bound_covers_real_frames(mixed: list[PageInfo]) -> None:
    a4 = mixed[0].model_copy(update={"width": 2480, "height": 3507})
    assert frame_bound(a4) > 2480 * 3507 * 3
    bw = mixed[1].model_copy(update={"width": 2480, "height": 3507})
    assert frame_bound(bw) < 2480 * 3507 // 4


@pytest.mark.parametrize(("compression", "expected"), [
    (TiffCompression.LZW, "tiff_lzw"),
    (TiffCompression.DEFLATE, "tiff_adobe_deflate"),
    (TiffCompression.NONE, "raw"),
])
def test_lossless_compressions_round_trip(store: PageStore, mixed: list[PageInfo],
                                          compression: TiffCompression, expected: str) -> None:
    out = io.BytesIO()
    export_pages(store, [p.id for p in mixed], "tiff", out,
                 options=ExportOptions(tiff_compression=compression))
    got = frames(out.getvalue())
    assert [info["compression"] for _, info in got] == [expected] * len(mixed)
    for (frame, info), page in zip(got, mixed, strict=True):
        original = decoded(store.read_original(page.id))
        assert frame.mode == original.mode
        assert np.array_equal(np.asarray(frame), np.asarray(original)), page.mode
        assert info["dpi"] == pytest.approx((page.dpi, page.dpi))
        # The predictor helps 8/16-bit samples; libtiff has none for 1-bit ones.
        wants_predictor = compression != TiffCompression.NONE and page.mode != "bw"
        assert info["predictor"] == (2 if wants_predictor else None)


def test_group4_only_for_black_and_white(store: PageStore, mixed: list[PageInfo]) -> None:
    bilevel = [store.add_image(mixed[0].document_id, make_png(97, 61, mode="1", seed=s),
                               "png", dpi=300) for s in range(2)]
    out = io.BytesIO()
    export_pages(store, [p.id for p in bilevel], "tiff", out,
                 options=ExportOptions(tiff_compression=TiffCompression.G4))
    for (frame, info), page in zip(frames(out.getvalue()), bilevel, strict=True):
        assert info["compression"] == "group4"
        assert np.array_equal(np.asarray(frame),
                              np.asarray(decoded(store.read_original(page.id))))
    refused = io.BytesIO()
    with pytest.raises(InvalidSetting, match="page 2 is gray"):
        export_pages(store, [bilevel[0].id, mixed[2].id], "tiff", refused,
                     options=ExportOptions(tiff_compression=TiffCompression.G4))
    assert refused.getvalue() == b""


def test_jpeg_compression(store: PageStore, mixed: list[PageInfo]) -> None:
    def export(quality: int) -> bytes:
        out = io.BytesIO()
        export_pages(store, [p.id for p in mixed], "tiff", out,
                     options=ExportOptions(tiff_compression=TiffCompression.JPEG,
                                           quality=quality))
        return out.getvalue()

    got = frames(export(90))
    assert [info["compression"] for _, info in got] == \
        ["jpeg", "group4", "jpeg", "jpeg", "jpeg"]
    for (frame, _), page in zip(got, mixed, strict=True):
        original = decoded(store.read_original(page.id))
        if page.bit_depth == 16:
            assert frame.mode == "L"  # JPEG holds 8 bits
            original = Image.fromarray((np.asarray(original) >> 8).astype(np.uint8))
        error = np.abs(np.asarray(frame, dtype=float) - np.asarray(original, dtype=float))
        assert error.mean() < 12, page.mode  # lossy, but the same picture
    assert len(export(30)) < len(export(95))


def test_metadata_in_the_first_frame(store: PageStore, mixed: list[PageInfo]) -> None:
    meta = DocumentMetadata(title="Lease", author="Ann Lee", subject="Flat 3",
                            keywords=["rent", "ünïcode"],
                            creation_date=datetime(2023, 5, 6, 7, 8, 9))
    out = io.BytesIO()
    export_pages(store, [mixed[0].id, mixed[1].id], "tiff", out,
                 options=ExportOptions(metadata=meta))
    with Image.open(io.BytesIO(out.getvalue())) as image:
        assert isinstance(image, TiffImagePlugin.TiffImageFile)
        tags = image.tag_v2
        assert (tags[269], tags[315], tags[270]) == ("Lease", "Ann Lee", "Flat 3")
        assert tags[306] == "2023:05:06 07:08:09"
        assert tags[305].startswith("Scanlet")
        xmp = bytes(tags[700]).decode("utf-8")
        assert "<rdf:li>ünïcode</rdf:li>" in xmp and "image/tiff" in xmp
        image.seek(1)
        assert 269 not in image.tag_v2
