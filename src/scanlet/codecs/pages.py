"""What the export writers need from the buffer, and nothing more.

Writers depend on the small :class:`PageSource` protocol instead of the buffer's ``PageStore``,
so codecs never import the buffer (the buffer imports codecs for decoding).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PIL import Image

from scanlet.codecs.decode import ImageDecodeError, decode
from scanlet.errors import PageCorrupt
from scanlet.models import PageInfo

#: ``progress(done, total)``: pages finished so far; raising from it aborts the export.
Progress = Callable[[int, int], None]

#: Returns the decrypted original bytes of a page.
PageReader = Callable[[PageInfo], bytes]


class PageSource(Protocol):
    """The part of ``PageStore`` exports use."""

    def get_page(self, page_id: str) -> PageInfo:
        """Page metadata; raises PageNotFound."""
        ...

    def read_original(self, page_id: str, *, cache: bool = True) -> bytes:
        """Decrypted original bytes; raises PageNotFound or PageCorrupt."""
        ...

    @property
    def temp_dir(self) -> Path | None:
        """Where large exports may put scratch files (None: the system's temporary folder)."""
        ...


def decode_page(info: PageInfo, data: bytes) -> Image.Image:
    """Decode a stored page; a page that no longer decodes is corrupt, not a client error."""
    try:
        return decode(data, info.format)
    except ImageDecodeError as exc:
        raise PageCorrupt(f"page {info.id} could not be decoded: {exc}", page_id=info.id) from exc


def no_progress(done: int, total: int) -> None:
    """Default progress callback: does nothing."""
