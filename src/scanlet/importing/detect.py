"""Which importable format a file is, from its first bytes (never from its name).

A file name or a Content-Type is whatever the sender says; the magic bytes are what the
decoders will see. Only the allow-listed formats pass (security.md 5.1): JPEG, PNG, TIFF
(classic and BigTIFF), BMP, WebP and PDF. Everything else is refused before a decoder runs,
and the detected format is then the only one the decoder may use (``formats=[...]``).
"""

from __future__ import annotations

import struct
from typing import Literal

from scanlet.importing.errors import ImportInvalid, ImportUnsupportedFormat

FileFormat = Literal["jpeg", "png", "tiff", "bmp", "webp", "pdf"]

#: Allowed formats, in the order they are reported to clients.
ALLOWED: tuple[FileFormat, ...] = ("jpeg", "png", "tiff", "bmp", "webp", "pdf")

#: Pillow's name for each image format (the one plugin ``Image.open`` may use).
PIL_FORMAT: dict[FileFormat, str] = {
    "jpeg": "JPEG", "png": "PNG", "tiff": "TIFF", "bmp": "BMP", "webp": "WEBP",
}

#: How many leading bytes :func:`detect` looks at (PDF allows junk before ``%PDF-`` within
#: the first 1024 bytes; readers such as Acrobat and qpdf accept that).
HEAD_BYTES = 1024

_TIFF_PREFIXES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic, BigTIFF
_BMP_INFO_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})  # BITMAP*HEADER sizes
_WEBP_CHUNKS = (b"VP8 ", b"VP8L", b"VP8X")


def _is_bmp(head: bytes) -> bool:
    """``BM`` alone is too weak (two ASCII letters): also require a known DIB header size."""
    if len(head) < 18 or not head.startswith(b"BM"):
        return False
    (info_size,) = struct.unpack("<I", head[14:18])
    return info_size in _BMP_INFO_SIZES


def detect(head: bytes) -> FileFormat:
    """The format of a file whose first :data:`HEAD_BYTES` (or all, if shorter) are ``head``.

    Raises ImportInvalid for an empty file and ImportUnsupportedFormat for anything else
    that is not allow-listed.
    """
    if not head:
        raise ImportInvalid("the file is empty", field="data")
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(_TIFF_PREFIXES):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:16] in _WEBP_CHUNKS:
        return "webp"
    if _is_bmp(head):
        return "bmp"
    if b"%PDF-" in head[:HEAD_BYTES]:
        return "pdf"
    raise ImportUnsupportedFormat(
        "the file is not a JPEG, PNG, TIFF, BMP, WebP or PDF (judged by its content, "
        "not its name)", field="data", allowed=list(ALLOWED))
