"""PDF export: one page per stored page, each drawing its image, streamed to the destination.

Promises (checked by tests/codecs/test_export_pdf.py with qpdf, pikepdf and pypdfium2):

- JPEG pages are embedded as-is with ``/DCTDecode``: the stream bytes equal the stored JPEG.
- Bilevel pages are CCITT Group 4; grey, 16-bit grey and colour PNG pages are Flate with the
  PNG's own compressed data. Lossless; see codecs/pdfimages.py.
- The page size is the page's pixels divided by its dpi from the buffer's index (A4 at 300
  dpi gives 595.2 x 841.7 pt), whatever density the file's own header claims. Pages larger
  than 200 inches (the PDF limit without UserUnit) are refused (InvalidSetting, 422).
- EXIF orientation is ignored, consistently with every other view of the page.
- Info dictionary and XMP packet carry the document metadata and agree (codecs/metadata.py).
- With ``pdf_a``: PDF/A-2b (sRGB output intent, ``pdfaid`` identification; codecs/pdfa.py).

Memory and speed. Each page is read, turned into its image stream and written before the next
is read (codecs/pdfwriter.py), so peak memory is about one page whatever the page count, the
destination need not be seekable, and a JPEG page costs one copy of its bytes: exporting 100
A4 pages is as fast as img2pdf, which holds all of them in memory (benchmarks/README.md).
"""

from __future__ import annotations

import hashlib
import logging
import os
import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import BinaryIO

from scanlet.codecs import pdfa
from scanlet.codecs.metadata import Properties, info_entries, xmp_packet
from scanlet.codecs.options import DocumentMetadata
from scanlet.codecs.pages import PageReader, Progress
from scanlet.codecs.pdfimages import PdfImage, page_image
from scanlet.codecs.pdfwriter import Name, PdfValue, PdfWriter, Ref, serialize
from scanlet.errors import InvalidSetting
from scanlet.models import PageInfo

logger = logging.getLogger(__name__)

#: The largest page side in points without UserUnit (PDF 1.7, annex C; PDF/A keeps it).
MAX_SIDE_PT = 14400.0
_POINTS_PER_INCH = 72.0
_ICC_CLASSES = (b"mntr", b"scnr", b"prtr", b"spac")
_ICC_SPACES = {b"GRAY": 1, b"RGB ": 3}


def page_size_pt(info: PageInfo, width: int, height: int) -> tuple[float, float]:
    """The page size in points of ``width`` x ``height`` pixels at the page's dpi."""
    scale = _POINTS_PER_INCH / info.dpi
    size = (width * scale, height * scale)
    if max(size) > MAX_SIDE_PT:
        # The client's page, not the export, is at fault (and can be fixed): a 4xx, as for
        # WebP's side limit, not export_failed's 500.
        raise InvalidSetting(
            f"page {info.id} would be {size[0] / 72:.0f} x {size[1] / 72:.0f} inches at "
            f"{info.dpi:g} dpi, more than the 200 inches a PDF page can have; correct the "
            "page's dpi (edit op \"dpi\") or choose TIFF or PNG", field="format",
            allowed=["tiff", "png", "jpeg", "bmp"], page_id=info.id)
    return size


def _round(value: float) -> float:
    return round(value, 4)


def _usable_icc(profile: bytes | None, components: int) -> bool:
    """An embedded profile is kept when PDF (and PDF/A) can use it for this image."""
    return (profile is not None and len(profile) >= 128 and profile[36:40] == b"acsp"
            and profile[8] in (2, 4) and profile[12:16] in _ICC_CLASSES
            and _ICC_SPACES.get(profile[16:20]) == components)


class _Document:
    """The document being written: pages so far, shared ICC profiles, the writer."""

    def __init__(self, dest: BinaryIO, version: str) -> None:
        self.writer = PdfWriter(dest, version)
        self.pages_ref = self.writer.reserve()
        self.kids: list[Ref] = []
        self._profiles: dict[bytes, Ref] = {}

    def _colour_space(self, image: PdfImage) -> PdfValue:
        if not _usable_icc(image.icc, image.components):
            return image.entries["ColorSpace"]
        assert image.icc is not None
        key = hashlib.sha256(image.icc).digest()
        ref = self._profiles.get(key)
        if ref is None:
            ref = self.writer.add_stream(
                {"N": image.components, "Alternate": image.entries["ColorSpace"],
                 "Filter": Name("FlateDecode")}, zlib.compress(image.icc))
            self._profiles[key] = ref
        return [Name("ICCBased"), ref]

    def add_page(self, info: PageInfo, image: PdfImage) -> None:
        width, height = (_round(v) for v in page_size_pt(info, image.width, image.height))
        entries = {**image.entries, "ColorSpace": self._colour_space(image)}
        image_ref = self.writer.add_stream(entries, image.data)
        content = b"q %s 0 0 %s 0 0 cm /Im0 Do Q" % (serialize(width), serialize(height))
        content_ref = self.writer.add_stream({}, content)
        self.kids.append(self.writer.add({
            "Type": Name("Page"), "Parent": self.pages_ref,
            "MediaBox": [0, 0, width, height], "Contents": content_ref,
            "Resources": {"XObject": {"Im0": image_ref}},
        }))

    def close(self, props: Properties, pdf_a: bool) -> None:
        writer = self.writer
        writer.add({"Type": Name("Pages"), "Kids": self.kids, "Count": len(self.kids)},
                   self.pages_ref)
        metadata = writer.add_stream(
            {"Type": Name("Metadata"), "Subtype": Name("XML")},
            xmp_packet(props, pdfa_part=pdfa.PART if pdf_a else None))
        catalog: dict[str, PdfValue] = {"Type": Name("Catalog"), "Pages": self.pages_ref,
                                        "Metadata": metadata}
        if pdf_a:
            profile = writer.add_stream({"N": 3, "Filter": Name("FlateDecode")},
                                        zlib.compress(pdfa.srgb_profile()))
            catalog["OutputIntents"] = [writer.add(pdfa.output_intent(profile))]
        root = writer.add(catalog)
        info = writer.add(dict(info_entries(props)))
        writer.close(root, info, os.urandom(16))


def write_pdf(
    pages: Sequence[PageInfo],
    read: PageReader,
    dest: BinaryIO,
    progress: Progress,
    *,
    pdf_a: bool = False,
    metadata: DocumentMetadata | None = None,
    now: datetime | None = None,
) -> None:
    """Write ``pages`` as one PDF to ``dest`` (which need not be seekable).

    ``metadata`` fills the Info dictionary and XMP packet; ``pdf_a`` makes the file PDF/A-2b.
    """
    for info in pages:  # refuse before writing anything
        page_size_pt(info, info.width, info.height)
    # Every reader takes 1.4; 16-bit images need 1.5.
    version = "1.5" if any(info.bit_depth == 16 for info in pages) else "1.4"
    document = _Document(dest, version)
    total = len(pages)
    for done, info in enumerate(pages, 1):
        document.add_page(info, page_image(info, read(info)))
        if done < total:
            progress(done, total)
    document.close(Properties.of(metadata, now=now), pdf_a)
    progress(total, total)
