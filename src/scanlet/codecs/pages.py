"""What the export writers need from the buffer, and nothing more.

Writers depend on the small :class:`PageSource` protocol instead of the buffer's ``PageStore``,
so codecs never import the buffer (the buffer imports codecs for decoding).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Protocol

from PIL import Image

from scanlet.codecs.decode import ImageDecodeError, decoded
from scanlet.codecs.pixel_budget import Work
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


@contextmanager
def decode_page(info: PageInfo, data: bytes, work: Work = "view") -> Iterator[Image.Image]:
    """A stored page's pixels for the ``with`` block (holding the decoding budget for
    ``work``: see :func:`scanlet.codecs.decode.decoded`); a page that no longer decodes is
    corrupt, not a client error."""
    with ExitStack() as stack:
        try:
            image = stack.enter_context(decoded(data, info.format, work))
        except ImageDecodeError as exc:
            raise PageCorrupt(f"page {info.id} could not be decoded: {exc}",
                              page_id=info.id) from exc
        yield image


def no_progress(done: int, total: int) -> None:
    """Default progress callback: does nothing."""
