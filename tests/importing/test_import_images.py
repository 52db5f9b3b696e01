"""Importing image files: what is kept as is, what is converted (and that it is lossless)."""

from __future__ import annotations

import io
import resource
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, TiffImagePlugin

from scanlet.buffer import PageStore
from scanlet.errors import DocumentNotFound, InvalidSetting
from scanlet.importing import import_file
from scanlet.importing.errors import ImportInvalid, ImportTooLarge, ImportUnsupportedFormat
from scanlet.models import ColorMode
from tests.importing.makers import (
    decoded,
    encode,
    pixels,
    png_header_only,
    png_rgb16,
    sample_image,
    tiff,
)

# -- kept as they are ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_jpeg_is_stored_byte_for_byte(store: PageStore, document: str, mode: str) -> None:
    data = encode(sample_image(mode=mode), "JPEG", quality=80, dpi=(150, 150))
    [page] = import_file(store, document, data)
    assert store.read_original(page.id) == data
    assert (page.format, page.width, page.height, page.dpi) == ("jpeg", 240, 320, 150.0)
    assert page.mode == (ColorMode.COLOR if mode == "RGB" else ColorMode.GRAY)


@pytest.mark.parametrize("mode", ["1", "L", "RGB", "I;16"])
def test_png_in_a_kept_layout_is_stored_byte_for_byte(store: PageStore, document: str,
                                                      mode: str) -> None:
    data = encode(sample_image(mode=mode), "PNG", dpi=(600, 600))
    [page] = import_file(store, document, data)
    assert store.read_original(page.id) == data
    assert (page.format, page.dpi) == ("png", 600.0)


def test_a_path_is_read_like_bytes(store: PageStore, document: str, tmp_path: Path) -> None:
    data = encode(sample_image(), "JPEG")
    path = tmp_path / "named-anything.pdf"  # the name is irrelevant
    path.write_bytes(data)
    [page] = import_file(store, document, path)
    assert store.read_original(page.id) == data


# -- converted, without loss ------------------------------------------------------------


def test_palette_png_becomes_rgb_png_with_the_same_pixels(store: PageStore,
                                                          document: str) -> None:
    source = sample_image().quantize(64)
    [page] = import_file(store, document, encode(source, "PNG"))
    stored = decoded(store.read_original(page.id))
    assert (page.format, stored.mode) == ("png", "RGB")
    assert np.array_equal(pixels(stored), pixels(source.convert("RGB")))


def test_grey_palette_becomes_grey(store: PageStore, document: str) -> None:
    source = sample_image(mode="L").quantize(16)
    palette = source.getpalette() or []
    assert all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3))
    [page] = import_file(store, document, encode(source, "PNG"))
    stored = decoded(store.read_original(page.id))
    assert (stored.mode, page.mode) == ("L", ColorMode.GRAY)
    assert np.array_equal(pixels(stored), pixels(source.convert("L")))


@pytest.mark.parametrize(("mode", "expected"), [("RGBA", "RGB"), ("LA", "L")])
def test_transparency_is_composited_on_white(store: PageStore, document: str, mode: str,
                                             expected: str) -> None:
    source = sample_image(mode="RGB" if mode == "RGBA" else "L").convert(mode)
    alpha = np.zeros((320, 240), np.uint8)
    alpha[:, 120:] = 255  # left half fully transparent, right half opaque
    source.putalpha(Image.fromarray(alpha))
    [page] = import_file(store, document, encode(source, "PNG"))
    stored = pixels(decoded(store.read_original(page.id)))
    assert decoded(store.read_original(page.id)).mode == expected
    assert (stored[:, :120] == 255).all()
    assert np.array_equal(stored[:, 120:], pixels(source.convert(expected))[:, 120:])


def test_16_bit_colour_png_becomes_8_bit(store: PageStore, document: str) -> None:
    data = png_rgb16(sample_image())
    assert decoded(data).mode == "RGB"  # what Pillow makes of it: 8 bits per channel
    [page] = import_file(store, document, data)
    stored = decoded(store.read_original(page.id))
    assert store.read_original(page.id) != data
    assert (stored.mode, page.bit_depth) == ("RGB", 8)
    assert np.array_equal(pixels(stored), pixels(sample_image()))


def test_cmyk_jpeg_becomes_rgb_png(store: PageStore, document: str) -> None:
    data = encode(sample_image().convert("CMYK"), "JPEG", quality=95)
    [page] = import_file(store, document, data)
    assert (page.format, page.mode) == ("png", ColorMode.COLOR)
    assert np.array_equal(pixels(decoded(store.read_original(page.id))),
                          pixels(decoded(data).convert("RGB")))


@pytest.mark.parametrize(("mode", "options"), [
    ("RGB", {}), ("P", {}), ("1", {}), ("L", {}), ("RGBA", {}),
])
def test_bmp_becomes_png_with_the_same_pixels(store: PageStore, document: str, mode: str,
                                              options: dict[str, object]) -> None:
    source = sample_image().convert(mode) if mode != "P" else sample_image().quantize(32)
    data = encode(source, "BMP", **options)
    [page] = import_file(store, document, data)
    original = decoded(data)
    expected = original.convert("RGB") if original.mode not in ("1", "L") else original
    assert page.format == "png"
    assert np.array_equal(pixels(decoded(store.read_original(page.id))), pixels(expected))


@pytest.mark.parametrize("lossless", [True, False])
def test_webp_becomes_png_of_the_decoded_pixels(store: PageStore, document: str,
                                                lossless: bool) -> None:
    data = encode(sample_image(), "WEBP", lossless=lossless, quality=70)
    [page] = import_file(store, document, data)
    assert page.format == "png"
    assert np.array_equal(pixels(decoded(store.read_original(page.id))), pixels(decoded(data)))


def test_animated_webp_imports_every_frame(store: PageStore, document: str) -> None:
    frames = [sample_image(seed=i) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:], lossless=True)
    pages = import_file(store, document, out.getvalue())
    assert len(pages) == 3
    for page, frame in zip(pages, frames, strict=True):
        assert np.array_equal(pixels(decoded(store.read_original(page.id))), pixels(frame))


# -- TIFF ---------------------------------------------------------------------------------------


def _frames_of(data: bytes) -> list[Image.Image]:
    image = Image.open(io.BytesIO(data))
    frames = []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        frames.append(image.copy())
    return frames


def test_tiff_every_frame_in_order_lossless_with_dpi(store: PageStore, document: str) -> None:
    frames = [sample_image(seed=0), sample_image(mode="L", seed=1),
              sample_image(mode="1", seed=2), sample_image(mode="I;16", seed=3),
              sample_image(seed=4).convert("CMYK")]
    data = tiff(frames, compression="tiff_lzw", dpi=(150, 150))
    seen: list[tuple[int, int]] = []
    pages = import_file(store, document, data, progress=lambda done, total: seen.append(
        (done, total)))
    assert seen == [(i, 5) for i in range(1, 6)]
    assert [p.index for p in pages] == [0, 1, 2, 3, 4]
    assert [p.mode for p in pages] == [ColorMode.COLOR, ColorMode.GRAY, ColorMode.BW,
                                       ColorMode.GRAY, ColorMode.COLOR]
    assert [p.bit_depth for p in pages] == [8, 8, 1, 16, 8]
    assert all(p.format == "png" and p.dpi == 150.0 for p in pages)
    for page, frame in zip(pages, _frames_of(data), strict=True):
        expected = frame.convert("RGB") if frame.mode == "CMYK" else frame
        assert np.array_equal(pixels(decoded(store.read_original(page.id))), pixels(expected))


def test_tiff_group4_frames_become_1_bit_pngs(store: PageStore, document: str) -> None:
    frames = [sample_image(mode="1", seed=i) for i in range(3)]
    pages = import_file(store, document, tiff(frames, compression="group4", dpi=(300, 300)))
    assert [(p.bit_depth, p.mode, p.dpi) for p in pages] == [(1, ColorMode.BW, 300.0)] * 3
    for page, frame in zip(pages, frames, strict=True):
        stored = decoded(store.read_original(page.id))
        assert stored.mode == "1"
        assert np.array_equal(pixels(stored), pixels(frame))


def test_jpeg_compressed_tiff_frames_are_stored_as_their_decoded_pixels(
        store: PageStore, document: str) -> None:
    data = tiff([sample_image(seed=i) for i in range(2)], compression="jpeg", quality=75)
    pages = import_file(store, document, data)
    assert [p.format for p in pages] == ["png", "png"]
    for page, frame in zip(pages, _frames_of(data), strict=True):
        assert np.array_equal(pixels(decoded(store.read_original(page.id))), pixels(frame))


def test_tiff_with_damaged_last_frame_adds_nothing(store: PageStore, document: str) -> None:
    data = bytearray(tiff([sample_image(seed=i) for i in range(3)], compression="tiff_lzw"))
    image = Image.open(io.BytesIO(bytes(data)))
    assert isinstance(image, TiffImagePlugin.TiffImageFile)
    image.seek(2)
    start, length = image.tag_v2[273][0], sum(image.tag_v2[279])
    data[start + length // 4:start + length] = b"\xff" * (length - length // 4)
    stored_before_failure: list[int] = []

    def progress(done: int, total: int) -> None:
        stored_before_failure.append(len(store.list_pages(document)))

    with pytest.raises(ImportInvalid) as caught:
        import_file(store, document, bytes(data), progress=progress)
    assert caught.value.detail["frame"] == 2
    assert stored_before_failure == [1, 2]  # pages were added, then removed again
    assert store.list_pages(document) == []


def test_frame_count_cap(store: PageStore, document: str) -> None:
    data = tiff([sample_image(16, 16, seed=i) for i in range(4)])
    with pytest.raises(ImportTooLarge) as caught:
        import_file(store, document, data, max_frames=3)
    assert (caught.value.detail["limit"], caught.value.http_status) == ("frames", 413)
    assert len(import_file(store, document, data, max_frames=4)) == 4


# -- refused -----------------------------------------------------------------------------------


def test_truncated_png_is_invalid_and_adds_nothing(store: PageStore, document: str) -> None:
    data = encode(sample_image(), "PNG")
    with pytest.raises(ImportInvalid) as caught:
        import_file(store, document, data[: len(data) // 2])
    assert (caught.value.code, caught.value.http_status) == ("import_invalid", 422)
    assert store.list_pages(document) == []


def test_truncated_bmp_is_invalid(store: PageStore, document: str) -> None:
    data = encode(sample_image(), "BMP")
    with pytest.raises(ImportInvalid):
        import_file(store, document, data[: len(data) // 2])


def test_png_bomb_is_refused_413_without_decoding(store: PageStore, document: str) -> None:
    bomb = png_header_only(60000, 60000)  # 10.8 GB of RGB if decoded
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImportTooLarge) as caught:
        import_file(store, document, bomb)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert (caught.value.code, caught.value.http_status) == ("import_too_large", 413)
    assert caught.value.detail["limit"] == "pixels"
    assert grown_kib < 100 * 1024
    assert store.list_pages(document) == []


@pytest.mark.parametrize("warnings_are_errors", [True, False])
def test_size_between_pillow_warning_and_error_is_refused(
        store: PageStore, document: str, monkeypatch: pytest.MonkeyPatch,
        warnings_are_errors: bool) -> None:
    """1x-2x the cap: Pillow only warns; where warnings are not errors the cap still holds."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    data = encode(sample_image(400, 300), "PNG")  # 120,000 pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error" if warnings_are_errors else "ignore")
        with pytest.raises(ImportTooLarge):
            import_file(store, document, data)
    assert store.list_pages(document) == []


def test_later_tiff_frame_over_the_pixel_cap_is_refused(store: PageStore,
                                                        document: str) -> None:
    data = tiff([sample_image(100, 100), sample_image(300, 300)])
    with pytest.raises(ImportTooLarge) as caught:
        import_file(store, document, data, max_pixels=50_000)
    assert caught.value.detail["frame"] == 1
    assert store.list_pages(document) == []


def test_file_over_max_bytes_is_refused_before_reading(store: PageStore, document: str,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    data = encode(sample_image(), "JPEG")
    path.write_bytes(data)
    with pytest.raises(ImportTooLarge) as caught:
        import_file(store, document, path, max_bytes=len(data) - 1)
    assert caught.value.detail == {"limit": "bytes", "maximum": len(data) - 1}
    assert len(import_file(store, document, path, max_bytes=len(data))) == 1


def test_empty_and_random_files(store: PageStore, document: str) -> None:
    with pytest.raises(ImportInvalid) as empty:
        import_file(store, document, b"")
    assert empty.value.code == "import_invalid"
    with pytest.raises(ImportUnsupportedFormat):
        import_file(store, document, bytes(range(256)) * 8)
    assert store.list_pages(document) == []


def test_jpeg_header_with_garbage_body_is_invalid(store: PageStore, document: str) -> None:
    data = encode(sample_image(), "JPEG")
    with pytest.raises(ImportInvalid):
        import_file(store, document, data[:200] + b"\x00" * 50)


def test_progress_that_raises_rolls_the_import_back(store: PageStore, document: str) -> None:
    class Stop(Exception):
        pass

    def progress(done: int, total: int) -> None:
        if done == 2:
            raise Stop

    with pytest.raises(Stop):
        import_file(store, document, tiff([sample_image(seed=i) for i in range(3)]),
                    progress=progress)
    assert store.list_pages(document) == []


def test_pages_already_in_the_document_are_kept_on_failure(store: PageStore,
                                                           document: str) -> None:
    [first] = import_file(store, document, encode(sample_image(), "JPEG"))
    with pytest.raises(ImportInvalid):
        import_file(store, document, encode(sample_image(), "PNG")[:500])
    assert [p.id for p in store.list_pages(document)] == [first.id]


def test_unknown_document_and_bad_dpi(store: PageStore, document: str) -> None:
    with pytest.raises(DocumentNotFound):
        import_file(store, "nope", encode(sample_image(), "JPEG"))
    for dpi in (0.0, -5.0, float("nan"), 5000.0):
        with pytest.raises(InvalidSetting) as caught:
            import_file(store, document, encode(sample_image(), "JPEG"), dpi=dpi)
        assert caught.value.detail["field"] == "dpi"
