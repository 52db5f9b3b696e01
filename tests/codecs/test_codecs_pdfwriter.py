"""The streaming PDF writer's syntax, checked by parsing its output with pikepdf and qpdf."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest

from scanlet.codecs.pdfwriter import Name, PdfWriter, Ref, serialize
from tests.buffer.testdata import NonSeekable
from tests.codecs.test_export_pdf import qpdf_check


@pytest.mark.parametrize(("value", "expected"), [
    (None, b"null"), (True, b"true"), (3, b"3"), (0.5, b"0.5"), (-0.0, b"0"),
    (595.27559, b"595.27559"), (1e-9, b"0"), (Name("A B#"), b"/A#20B#23"),
    (Ref(7), b"7 0 R"), ("a(b)\\", b"(a\\(b\\)\\\\)"), ("é", b"<FEFF00E9>"),
    (b"\x00\xff", b"<00FF>"), ([1, Name("X")], b"[1 /X]"), ({"K": -1}, b"<< /K -1 >>"),
])
def test_serialize(value: object, expected: bytes) -> None:
    assert serialize(value) == expected  # type: ignore[arg-type]


def test_refuses_what_pdf_cannot_hold() -> None:
    with pytest.raises(ValueError, match="finite"):
        serialize(float("nan"))
    with pytest.raises(TypeError):
        serialize(object())  # type: ignore[arg-type]


def test_objects_in_any_order(tmp_path: Path) -> None:
    sink = NonSeekable()
    writer = PdfWriter(sink.sink)
    pages = writer.reserve()
    text = "Grüße (1)"
    page = writer.add({"Type": Name("Page"), "Parent": pages, "MediaBox": [0, 0, 100.5, 50]})
    writer.add({"Type": Name("Pages"), "Kids": [page], "Count": 1}, pages)
    stream = writer.add_stream({"Filter": Name("FlateDecode")}, b"x\x9c\x03\x00\x00\x00\x00\x01")
    root = writer.add({"Type": Name("Catalog"), "Pages": pages, "Extra": stream})
    info = writer.add({"Title": text})
    writer.close(root, info, b"0123456789abcdef")
    data = bytes(sink.buffer)
    qpdf_check(data, tmp_path)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 1 and float(pdf.pages[0].mediabox[2]) == 100.5
        assert str(pdf.docinfo.Title) == text
        assert bytes(pdf.trailer.ID[0]) == b"0123456789abcdef"
        assert pdf.Root.Extra.read_bytes() == b""


def test_reserved_objects_must_be_written() -> None:
    writer = PdfWriter(io.BytesIO())
    root = writer.add({"Type": Name("Catalog")})
    writer.reserve()
    with pytest.raises(ValueError, match="never written"):
        writer.close(root)
    with pytest.raises(ValueError, match="written already"):
        writer.add(1, root)
