"""A minimal PDF writer that streams objects to a file as they are made.

Why not pikepdf or img2pdf for the whole document: both build the document in memory (or, in
qpdf's case, read every input again when writing), so a 300-page export either holds every
page or writes every page twice. A scanned document is simple — a page tree of pages that
each draw one image — so Scanlet writes it directly: each page's image stream goes to the
destination as soon as it is read, the page tree, catalog and metadata follow, and the
cross-reference table closes the file. Memory stays about one page; the destination only needs
``write`` (sockets and HTTP bodies work). Files are checked with qpdf and pikepdf in the tests.

Values map to PDF objects as follows: ``None`` -> null, ``bool``, ``int``, ``float`` (fixed
point, never an exponent), :class:`Name`, :class:`Ref` (an indirect reference), ``str`` (a
text string: PDFDocEncoding-compatible ASCII as a literal, anything else UTF-16BE with a
byte-order mark), ``bytes`` (a byte string, written in hex), ``list`` (array) and ``dict``
with ``str`` keys (dictionary; keys are names).
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Union

logger = logging.getLogger(__name__)

#: What :func:`serialize` accepts.
PdfValue = Union[
    None, bool, int, float, "Name", "Ref", str, bytes,
    Sequence["PdfValue"], Mapping[str, "PdfValue"],
]

_BINARY_MARKER = b"%\xe2\xe3\xcf\xd3\n"  # tells transfer tools the file is binary
_NAME_DELIMITERS = frozenset(b"#()<>[]{}/%")
_LITERAL_SAFE = re.compile(r"[ -~]*")


class Name(str):
    """A PDF name, written ``/Value`` (give it without the slash)."""


@dataclass(frozen=True)
class Ref:
    """An indirect reference ``n 0 R`` to object number ``number``."""

    number: int


def _name(value: str) -> bytes:
    out = bytearray(b"/")
    for byte in value.encode("utf-8"):
        if byte in _NAME_DELIMITERS or not 0x21 <= byte <= 0x7E:
            out += b"#%02X" % byte
        else:
            out.append(byte)
    return bytes(out)


def _number(value: float) -> bytes:
    if not math.isfinite(value):
        raise ValueError(f"PDF numbers must be finite, got {value}")
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return (text if text not in ("", "-0") else "0").encode("ascii")


def _text(value: str) -> bytes:
    if _LITERAL_SAFE.fullmatch(value):
        escaped = value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return b"(" + escaped.encode("ascii") + b")"
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def serialize(value: PdfValue) -> bytes:
    """The PDF syntax of ``value`` (see the module docstring for the mapping)."""
    if value is None:
        return b"null"
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return str(value).encode("ascii")
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, Name):
        return _name(value)
    if isinstance(value, Ref):
        return b"%d 0 R" % value.number
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bytes | bytearray):
        return b"<" + bytes(value).hex().upper().encode("ascii") + b">"
    if isinstance(value, Mapping):
        items = b" ".join(_name(key) + b" " + serialize(item) for key, item in value.items())
        return b"<< " + items + b" >>"
    if isinstance(value, Sequence):
        return b"[" + b" ".join(serialize(item) for item in value) + b"]"
    raise TypeError(f"cannot write {type(value).__name__} into a PDF")


class PdfWriter:
    """Writes numbered objects to ``dest`` in any order, then the xref table and trailer.

    Reserve a number with :meth:`reserve` to refer to an object before writing it (the page
    tree is written last, but every page points to it). :meth:`close` refuses to finish a
    file with a reserved object that was never written.
    """

    def __init__(self, dest: BinaryIO, version: str = "1.4") -> None:
        self._dest = dest
        self._offset = 0
        self._offsets: dict[int, int] = {}
        self._next = 1
        self._write(b"%PDF-" + version.encode("ascii") + b"\n" + _BINARY_MARKER)

    def _write(self, data: bytes) -> None:
        self._dest.write(data)
        self._offset += len(data)

    def reserve(self) -> Ref:
        """A new object number, to be written later with :meth:`add` or :meth:`add_stream`."""
        ref = Ref(self._next)
        self._next += 1
        return ref

    def _begin(self, ref: Ref | None) -> Ref:
        ref = ref or self.reserve()
        if ref.number in self._offsets or not 0 < ref.number < self._next:
            raise ValueError(f"object {ref.number} was written already or never reserved")
        self._offsets[ref.number] = self._offset
        return ref

    def add(self, value: PdfValue, ref: Ref | None = None) -> Ref:
        """Write ``value`` as an indirect object (as ``ref`` if given); return its reference."""
        ref = self._begin(ref)
        self._write(b"%d 0 obj\n" % ref.number + serialize(value) + b"\nendobj\n")
        return ref

    def add_stream(self, entries: Mapping[str, PdfValue], data: bytes,
                   ref: Ref | None = None) -> Ref:
        """Write a stream object: ``entries`` (``/Length`` is added) and ``data`` as they are.

        ``data`` must already be encoded as ``entries`` say (``/Filter`` and its parameters).
        """
        ref = self._begin(ref)
        head = serialize({**entries, "Length": len(data)})
        self._write(b"%d 0 obj\n" % ref.number + head + b"\nstream\n")
        self._write(data)
        self._write(b"\nendstream\nendobj\n")
        return ref

    def close(self, root: Ref, info: Ref | None = None, file_id: bytes | None = None) -> None:
        """Write the cross-reference table and trailer; ``file_id`` defaults to random."""
        missing = [n for n in range(1, self._next) if n not in self._offsets]
        if missing:
            raise ValueError(f"objects {missing[:5]} were reserved but never written")
        start = self._offset
        lines = [b"xref\n0 %d\n" % self._next, b"0000000000 65535 f \n"]
        lines += [b"%010d 00000 n \n" % self._offsets[n] for n in range(1, self._next)]
        self._write(b"".join(lines))
        ident = file_id or os.urandom(16)
        trailer: dict[str, PdfValue] = {"Size": self._next, "Root": root, "ID": [ident, ident]}
        if info is not None:
            trailer["Info"] = info
        self._write(b"trailer\n" + serialize(trailer) + b"\nstartxref\n%d\n%%%%EOF\n" % start)
        logger.debug("wrote a PDF of %d objects, %d bytes", self._next - 1, self._offset)
