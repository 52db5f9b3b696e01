"""PDF/A-2b: the archival form of a PDF, for Scanlet's own PDFs and for any PDF given to it.

What PDF/A-2b (ISO 19005-2, level B) needs from a scanned document, and how it is met:

- An output intent that defines the colours of device colour spaces: ``/GTS_PDFA1`` with an
  sRGB ICC profile (``/N 3``; device grey is allowed with an RGB intent). The profile is
  made by LittleCMS through Pillow (ICC v4, "mntr" class, RGB) and checked on first use.
- XMP metadata in the catalog with ``pdfaid:part=2`` and ``pdfaid:conformance=B``, in an
  unfiltered metadata stream, equal to the Info dictionary (codecs/metadata.py writes both
  from one value).
- A file ID in the trailer, no encryption, PDF version at most 1.7, no LZW, no JavaScript,
  no embedded files, fonts embedded, images without ``/Interpolate true``, ``/Alternates``
  or ``/OPI``.

:func:`make_pdfa` changes a ``pikepdf.Pdf`` in place (the searchable-PDF step uses it on its
output: text layer first, PDF/A last) and refuses, with ExportError, what it cannot fix
(fonts that are not embedded, encryption it cannot remove, CMYK images, JavaScript, embedded
files, PDF 2.0). Save the result with :data:`SAVE_OPTIONS` (:func:`save_pdfa` does). Scanlet's
own image-only PDFs are written PDF/A-ready directly by codecs/pdf.py, from the same parts.

There is no veraPDF here: the tests check the identification, the output intent, Info/XMP
agreement, ``qpdf --check`` and pikepdf's own PDF/A validator (``pikepdf.pdfa``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pikepdf
from PIL import ImageCms

from scanlet.codecs.metadata import PRODUCER, Properties, info_entries, parse_pdf_date, xmp_packet
from scanlet.codecs.options import DocumentMetadata
from scanlet.codecs.pdfwriter import Name, PdfValue, Ref
from scanlet.errors import ExportError

logger = logging.getLogger(__name__)

PART = 2
CONFORMANCE = "B"
OUTPUT_CONDITION = "sRGB IEC61966-2.1"
REGISTRY = "http://www.color.org"
_MAX_VERSION = "1.7"

#: ``pikepdf.Pdf.save`` settings for a PDF/A file: never encrypted, the XMP packet left as
#: written, LZW (and other generalized filters) decoded and written as Flate.
SAVE_OPTIONS: dict[str, Any] = {
    "encryption": False,
    "fix_metadata_version": False,
    "qdf": False,
    "normalize_content": False,
    "preserve_pdfa": True,
    "compress_streams": True,
    "recompress_flate": False,
    "stream_decode_level": pikepdf.StreamDecodeLevel.generalized,
}

_ICC_HEADER = 128
_DESCENDANT_FONTS = (pikepdf.Name.CIDFontType0, pikepdf.Name.CIDFontType2)
_INFO_KEYS = ("Title", "Author", "Subject", "Keywords", "Creator", "Producer",
              "CreationDate", "ModDate")


def check_icc(profile: bytes, *, components: int = 3) -> None:
    """Raise ValueError unless ``profile`` is an ICC v2/v4 display or printer profile that
    PDF/A-2 accepts as an output intent with ``/N components``."""
    if len(profile) < _ICC_HEADER or profile[36:40] != b"acsp":
        raise ValueError("not an ICC profile")
    if int.from_bytes(profile[0:4], "big") != len(profile):
        raise ValueError("ICC profile size field does not match its length")
    if profile[8] not in (2, 4):
        raise ValueError(f"ICC profile version {profile[8]} (PDF/A-2 takes 2 or 4)")
    if profile[12:16] not in (b"mntr", b"prtr"):
        raise ValueError(f"ICC profile class {profile[12:16]!r} cannot be an output intent")
    space = {b"GRAY": 1, b"RGB ": 3, b"CMYK": 4}.get(profile[16:20])
    if space != components:
        raise ValueError(f"ICC colour space {profile[16:20]!r} does not have {components} "
                         "components")


@functools.cache
def srgb_profile() -> bytes:
    """The sRGB ICC profile of the output intent (made once per process, then checked)."""
    profile: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    check_icc(profile)
    return profile


def output_intent(profile: Ref) -> dict[str, PdfValue]:
    """The PDF/A output intent dictionary for :mod:`scanlet.codecs.pdfwriter`."""
    return {
        "Type": Name("OutputIntent"), "S": Name("GTS_PDFA1"),
        "OutputConditionIdentifier": OUTPUT_CONDITION, "Info": OUTPUT_CONDITION,
        "RegistryName": REGISTRY, "DestOutputProfile": profile,
    }


def _text(value: object) -> str | None:
    if isinstance(value, pikepdf.String):
        return str(value) or None
    return None


def _existing(pdf: pikepdf.Pdf, now: datetime | None) -> Properties:
    """The properties the document's Info dictionary already has (now as modification date)."""
    info = pdf.trailer.get("/Info")
    values: dict[str, str | None] = {}
    if isinstance(info, pikepdf.Dictionary):
        values = {key: _text(info.get(f"/{key}")) for key in _INFO_KEYS}
    base = Properties.of(None, now=now, producer=values.get("Producer") or PRODUCER,
                         creator=values.get("Creator"))
    words = (word.strip() for word in (values.get("Keywords") or "").split(","))
    return replace(base, title=values.get("Title"), author=values.get("Author"),
                   subject=values.get("Subject"), keywords=tuple(w for w in words if w),
                   created=parse_pdf_date(values.get("CreationDate") or "") or base.created)


def _objects(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Object]:
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            yield obj


def _font_problem(font: pikepdf.Object) -> str | None:
    subtype = str(font.get("/Subtype", ""))
    if subtype == "/Type3":
        return None
    if subtype == "/Type0":
        descendants = font.get("/DescendantFonts")
        if not isinstance(descendants, pikepdf.Array) or len(descendants) != 1:
            return "a Type0 font without its descendant font"
        font = descendants[0]
    descriptor = font.get("/FontDescriptor")
    if not isinstance(descriptor, pikepdf.Dictionary) or not any(
        key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
    ):
        return f"font {font.get('/BaseFont', '?')} is not embedded"
    return None


def obstacles(pdf: pikepdf.Pdf) -> list[str]:
    """What keeps ``pdf`` from being PDF/A-2b and :func:`make_pdfa` cannot fix."""
    found: list[str] = []
    if pdf.pdf_version > _MAX_VERSION:
        found.append(f"PDF {pdf.pdf_version} is newer than PDF/A-2 allows ({_MAX_VERSION})")
    names = pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        if "/JavaScript" in names:
            found.append("the document has JavaScript")
        if "/EmbeddedFiles" in names:
            found.append("the document has embedded files")
    for obj in _objects(pdf):
        kind, subtype = obj.get("/Type"), obj.get("/Subtype")
        # CIDFonts are checked through the Type0 font that uses them.
        if kind == pikepdf.Name.Font and subtype not in _DESCENDANT_FONTS:
            problem = _font_problem(obj)
            if problem:
                found.append(problem)
        if subtype == pikepdf.Name.Image and obj.get("/ColorSpace") == pikepdf.Name.DeviceCMYK:
            found.append("a CMYK image cannot be shown through an sRGB output intent")
        if obj.get("/S") == pikepdf.Name.JavaScript:
            found.append("the document has JavaScript actions")
    return sorted(set(found))


def _fix_images(pdf: pikepdf.Pdf) -> int:
    fixed = 0
    for obj in _objects(pdf):
        if obj.get("/Subtype") != pikepdf.Name.Image:
            continue
        for key in ("/Alternates", "/OPI"):
            if key in obj:
                del obj[key]
                fixed += 1
        if bool(obj.get("/Interpolate", False)):
            obj.Interpolate = False
            fixed += 1
    return fixed


def make_pdfa(pdf: pikepdf.Pdf, metadata: DocumentMetadata | None = None, *,
              now: datetime | None = None) -> None:
    """Make ``pdf`` PDF/A-2b in memory; save it with :data:`SAVE_OPTIONS` (or :func:`save_pdfa`).

    The Info dictionary and the XMP packet are rewritten together from the document's
    existing Info entries, with every field ``metadata`` sets taking precedence; the
    modification date is ``now``. Info entries other than the standard ones are dropped.
    Idempotent. ExportError lists what cannot be fixed; the document is then unchanged.
    """
    problems = obstacles(pdf)
    if problems:
        raise ExportError("the PDF cannot be made PDF/A-2b: " + "; ".join(problems),
                          format="pdf", problems=problems)
    props = _existing(pdf, now).overriding(metadata)
    if _fix_images(pdf):
        logger.info("removed interpolation or alternates from images for PDF/A")
    profile = pdf.make_stream(srgb_profile(), N=3)
    intent = pikepdf.Dictionary({
        "/Type": pikepdf.Name.OutputIntent, "/S": pikepdf.Name.GTS_PDFA1,
        "/OutputConditionIdentifier": pikepdf.String(OUTPUT_CONDITION),
        "/Info": pikepdf.String(OUTPUT_CONDITION),
        "/RegistryName": pikepdf.String(REGISTRY), "/DestOutputProfile": profile,
    })
    pdf.Root.OutputIntents = pikepdf.Array([pdf.make_indirect(intent)])
    pdf.Root.Metadata = pdf.make_stream(xmp_packet(props, pdfa_part=PART),
                                        Type=pikepdf.Name.Metadata, Subtype=pikepdf.Name.XML)
    pdf.trailer.Info = pdf.make_indirect(pikepdf.Dictionary(
        {f"/{key}": pikepdf.String(value) for key, value in info_entries(props).items()}))


def save_pdfa(pdf: pikepdf.Pdf, dest: str | Path | BinaryIO) -> None:
    """Save a document :func:`make_pdfa` prepared, with the settings PDF/A needs."""
    pdf.save(dest, **SAVE_OPTIONS)


def make_pdfa_file(source: str | Path | BinaryIO, dest: str | Path | BinaryIO,
                   metadata: DocumentMetadata | None = None) -> None:
    """Convert a finished PDF file (path or seekable stream) to PDF/A-2b at ``dest``."""
    with pikepdf.open(source) as pdf:
        make_pdfa(pdf, metadata)
        save_pdfa(pdf, dest)
