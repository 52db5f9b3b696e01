"""``scanlet convert``: files in, files out, checked with qpdf, pypdfium2 and Pillow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2
import zxingcpp
from PIL import Image, ImageDraw


def page(path: Path, text: str = "", qr: str | None = None) -> Path:
    image = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(image)
    for line in range(8) if text else ():
        draw.text((100, 200 + 100 * line), f"{text} line {line}", fill="black", font_size=48)
    if qr:
        code = zxingcpp.create_barcode(qr, zxingcpp.BarcodeFormat.QRCode).to_image(scale=8)
        image.paste(Image.fromarray(np.asarray(code)).convert("RGB"), (400, 600))
    image.save(path, dpi=(150, 150))
    return path


def convert(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanlet", "convert", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_convert_with_ocr_pdfa_and_blank_removal(tmp_path: Path) -> None:
    inputs = [page(tmp_path / "a.png", "Alpha invoice"), page(tmp_path / "b.png"),
              page(tmp_path / "c.png", "Gamma report")]
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
    inputs = [page(tmp_path / "1.png", "First"), page(tmp_path / "2.png", qr="NEXT"),
              page(tmp_path / "3.png", "Second"), page(tmp_path / "4.png", "Second again")]
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
    done = convert(page(tmp_path / "p.png", "x"), "-o", tmp_path / "o.jpg", "--ocr")
    assert done.returncode == 2 and "pdf" in done.stderr
