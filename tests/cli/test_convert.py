"""``scanlet convert``: files in, files out, checked with qpdf, pypdfium2 and Pillow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pikepdf
import pypdfium2
from PIL import Image

from tests.core.pages import sheet


def convert(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanlet", "convert", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_convert_with_ocr_pdfa_and_blank_removal(tmp_path: Path) -> None:
    inputs = [sheet(tmp_path / "a.png", "Alpha invoice"), sheet(tmp_path / "b.png"),
              sheet(tmp_path / "c.png", "Gamma report")]
    out = tmp_path / "out.pdf"
    done = convert(*inputs, "-o", out, "--ocr", "--pdfa", "--drop-blank")
    assert done.returncode == 0, done.stderr
    subprocess.run(["qpdf", "--check", str(out)], check=True, capture_output=True)
    document = pypdfium2.PdfDocument(str(out))
    texts = [document[i].get_textpage().get_text_range() for i in range(len(document))]
    document.close()
    assert len(texts) == 2 and "Alpha" in texts[0] and "Gamma" in texts[1]
    with pikepdf.open(out) as pdf, pdf.open_metadata() as meta:
        assert meta.pdfa_status == "2B"


def test_convert_splits_on_barcodes_into_several_files(tmp_path: Path) -> None:
    inputs = [sheet(tmp_path / "1.png", "First"), sheet(tmp_path / "2.png", qr="NEXT"),
              sheet(tmp_path / "3.png", "Second"), sheet(tmp_path / "4.png", "Second again")]
    out = tmp_path / "batch.tif"
    done = convert(*inputs, "-o", out, "--split-on", "barcode", "--split-value", "NEXT")
    assert done.returncode == 0, done.stderr
    frames = []
    for name in ("batch-1.tif", "batch-2.tif"):
        with Image.open(tmp_path / name) as image:
            frames.append(image.n_frames)
    assert frames == [1, 2] and not out.exists()


def test_convert_refuses_bad_input(tmp_path: Path) -> None:
    bogus = tmp_path / "x.pdf"
    bogus.write_text("not a pdf")
    done = convert(bogus, "-o", tmp_path / "o.pdf")
    assert done.returncode != 0 and "import_unsupported_format" in done.stderr
    assert not (tmp_path / "o.pdf").exists()
    done = convert(sheet(tmp_path / "p.png", "x"), "-o", tmp_path / "o.jpg", "--ocr")
    assert done.returncode == 2 and "pdf" in done.stderr
