"""One page through tesseract: languages, text, hOCR, errors, timeout and cancel."""

from __future__ import annotations

import io
import re
import subprocess
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pikepdf
import pytest

from scanlet.errors import InvalidSetting
from scanlet.ocr import (
    OcrCancelled,
    OcrError,
    OcrPool,
    OcrTimeout,
    OcrUnavailable,
    check_lang,
    find_tesseract,
    languages,
    run_page,
)
from tests.ocr.conftest import Freezer, ScannedText, tesseract_children
from tests.ocr.pages import encode, scanned, text_page

XHTML = "{http://www.w3.org/1999/xhtml}"


def test_languages_are_the_installed_traineddata_files() -> None:
    listing = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                             check=True).stdout
    tessdata = Path(re.search(r'"(.+?)"', listing).group(1))  # type: ignore[union-attr]
    files = sorted(p.stem for p in tessdata.glob("*.traineddata"))
    assert "osd" in files  # so leaving it out is checked
    assert languages() == [name for name in files if name not in {"osd", "equ"}]
    assert {"eng", "deu"} <= set(languages(refresh=True))


@pytest.mark.parametrize("lang", ["eng", "deu", "eng+deu", "deu+eng"])
def test_installed_languages_are_accepted(lang: str) -> None:
    assert check_lang(lang) == lang


@pytest.mark.parametrize("lang", ["xyz", "eng+xyz", "", "eng+", "+eng", "osd", "eng+osd",
                                  "-l eng", "eng --psm 0", "eng+eng", "ENG"])
def test_bad_languages_are_invalid_settings(lang: str) -> None:
    with pytest.raises(InvalidSetting) as caught:
        check_lang(lang)
    assert caught.value.code == "invalid_setting"
    assert caught.value.detail["field"] == "lang"
    assert caught.value.detail["allowed"] == languages()
    with pytest.raises(InvalidSetting):
        run_page(b"never read", lang=lang)


def test_unknown_output_is_an_invalid_setting() -> None:
    with pytest.raises(InvalidSetting) as caught:
        run_page(b"never read", outputs=["text", "docx"])  # type: ignore[list-item]
    assert caught.value.detail["field"] == "outputs"


def test_missing_tesseract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absent = str(tmp_path / "no-such-tesseract")
    for call in (lambda: find_tesseract(absent), lambda: languages(tesseract=absent),
                 lambda: run_page(b"x", tesseract=absent), lambda: OcrPool(tesseract=absent)):
        with pytest.raises(OcrUnavailable) as caught:
            call()
        assert caught.value.code == "ocr_unavailable"
        assert caught.value.http_status == 503
        assert "install" in caught.value.message.lower()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OcrUnavailable):
        find_tesseract()


def test_text_of_scanned_pages(scans: list[ScannedText]) -> None:
    for scan in scans:
        result = run_page(scan.data, dpi=300)
        assert result.hocr is None and result.pdf is None
        assert result.text is not None
        for word in [*scan.words, "quick", "brown", "fox"]:
            assert word in result.text.split(), (word, result.text)


def words_of_hocr(hocr: str) -> dict[str, tuple[int, int, int, int]]:
    root = ET.fromstring(hocr)
    found = {}
    for span in root.iter(f"{XHTML}span"):
        if span.get("class") == "ocrx_word":
            match = re.search(r"bbox (\d+) (\d+) (\d+) (\d+)", span.get("title", ""))
            assert match, span.get("title")
            x0, y0, x1, y1 = (int(v) for v in match.groups())
            found["".join(span.itertext()).strip()] = (x0, y0, x1, y1)
    return found


def test_hocr_has_word_boxes_where_words_were_drawn(scans: list[ScannedText]) -> None:
    scan = scans[1]
    result = run_page(scan.data, dpi=300, outputs=["hocr", "text"])
    assert result.hocr is not None and result.text is not None
    boxes = words_of_hocr(result.hocr)
    assert "scanlet-ocr-" not in result.hocr  # the private folder's path is not leaked
    for word in scan.words:
        assert word in boxes, boxes
        drawn = scan.page.boxes[word]
        for got, want in zip(boxes[word], drawn, strict=True):
            assert abs(got - want) <= 8, (word, boxes[word], drawn)


def test_german(tmp_path: Path) -> None:
    words = ["Größe", "Übung", "Straße"]
    image = scanned(text_page([" ".join(words)], (1100, 260)).image, tmp_path, gray=True)
    data = encode(image, "png")
    for lang in ("deu", "eng+deu"):
        text = run_page(data, lang=lang, dpi=300).text
        assert text is not None
        assert text.split() == words, (lang, text)


def test_pdf_output_is_a_text_only_page(scans: list[ScannedText]) -> None:
    scan = scans[0]
    result = run_page(scan.data, dpi=300, outputs=["pdf"])
    assert result.pdf is not None
    with pikepdf.open(io.BytesIO(result.pdf)) as pdf:
        assert len(pdf.pages) == 1
        page = pdf.pages[0]
        assert dict(page.get_images()) == {}
        width, height = scan.page.image.size
        box = [float(v) for v in page.mediabox]
        assert box[2] - box[0] == pytest.approx(width * 72 / 300, abs=0.01)
        assert box[3] - box[1] == pytest.approx(height * 72 / 300, abs=0.01)
        assert b"3 Tr" in page.Contents.read_bytes()  # invisible text


def test_not_an_image_fails_cleanly() -> None:
    with pytest.raises(OcrError) as caught:
        run_page(b"this is not an image", dpi=300)
    assert caught.value.code == "ocr_failed"
    assert "tesseract" in caught.value.message
    assert "scanlet-ocr-" not in caught.value.message  # no private path in client messages
    assert tesseract_children() == []


@pytest.mark.timeout(90)  # a timeout that waited for the frozen page would hang here
def test_timeout_kills_tesseract(dense_png: bytes) -> None:
    # Frozen as soon as it runs, so that it can never finish (0.5 s is also far too short
    # for this page unfrozen: the freezer may come too late on a busy machine).
    with Freezer(1) as freezer, pytest.raises(OcrTimeout) as caught:
        run_page(dense_png, dpi=300, timeout=0.5)
    assert caught.value.code == "ocr_timeout"
    assert freezer.gone()
    assert tesseract_children() == []


@pytest.mark.timeout(90)  # a cancel that waited for the frozen page would hang here
def test_cancel_kills_tesseract(dense_png: bytes) -> None:
    cancel = threading.Event()
    freezer = Freezer(1)

    def cancel_when_frozen() -> None:
        freezer.wait_full()  # the page can never finish now
        cancel.set()

    helper = threading.Thread(target=cancel_when_frozen)
    with freezer:
        helper.start()
        with pytest.raises(OcrCancelled) as caught:
            run_page(dense_png, dpi=300, cancel=cancel, timeout=60)
        helper.join()
        assert freezer.gone()
    assert caught.value.code == "ocr_cancelled"
    assert tesseract_children() == []
