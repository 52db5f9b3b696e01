"""What a caller may choose about an export, as one validated model.

:class:`ExportOptions` holds every format's options; each writer reads the fields of its own
format and ignores the rest (``quality`` means nothing to PNG), except where ignoring would
lose what the caller asked for: PDF/A for anything but PDF, and document metadata for formats
that cannot carry it, are refused by ``export_pages`` before a byte is written.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


class TiffCompression(StrEnum):
    """How TIFF frames are compressed.

    ``auto``: CCITT Group 4 for black-and-white pages, LZW (with the horizontal predictor)
    for grey and colour. ``g4``: Group 4; every page must be black-and-white. ``lzw``,
    ``deflate``, ``none``: that, for every page (lossless). ``jpeg``: JPEG at the export's
    ``quality`` for grey and colour pages (lossy; 16-bit grey becomes 8-bit), Group 4 for
    black-and-white pages, which JPEG cannot hold.
    """

    AUTO = "auto"
    G4 = "g4"
    LZW = "lzw"
    DEFLATE = "deflate"
    JPEG = "jpeg"
    NONE = "none"


def _clean(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


class DocumentMetadata(BaseModel):
    """Document properties written into PDF (Info and XMP) and TIFF (tags and XMP).

    ``creation_date`` defaults to the time of the export; a date without a time zone is
    taken as local time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str | None = Field(None, max_length=2000)
    author: str | None = Field(None, max_length=2000)
    subject: str | None = Field(None, max_length=2000)
    keywords: list[str] = Field(default_factory=list, max_length=200)
    creation_date: datetime | None = None

    @field_validator("title", "author", "subject")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _clean(value) if value is not None else None

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        cleaned = [_clean(word.strip()) for word in value]
        if any(len(word) > 500 for word in cleaned):
            raise ValueError("a keyword is longer than 500 characters")
        return [word for word in cleaned if word]

    def is_empty(self) -> bool:
        """True when nothing was set."""
        return not (self.title or self.author or self.subject or self.keywords
                    or self.creation_date)


class ExportOptions(BaseModel):
    """Options of :func:`scanlet.codecs.export.export_pages`, per format.

    - ``quality`` (1-100): every JPEG Scanlet encodes (JPEG export of non-JPEG pages, TIFF
      with JPEG compression) and lossy WebP.
    - ``progressive``: JPEGs Scanlet encodes are progressive.
    - ``reencode_jpeg``: JPEG pages exported as JPEG are re-encoded at ``quality`` and
      ``progressive`` instead of being passed through byte for byte (generation loss).
    - ``webp_lossless``: WebP is lossless instead of lossy at ``quality``.
    - ``tiff_compression``: see :class:`TiffCompression`.
    - ``pdf_a``: the PDF is PDF/A-2b (archival: sRGB output intent, XMP identification).
    - ``metadata``: title, author, subject, keywords, creation date (PDF and TIFF only).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    quality: int = Field(90, ge=1, le=100)
    progressive: bool = False
    reencode_jpeg: bool = False
    webp_lossless: bool = False
    tiff_compression: TiffCompression = TiffCompression.AUTO
    pdf_a: bool = False
    metadata: DocumentMetadata = Field(default_factory=DocumentMetadata)
