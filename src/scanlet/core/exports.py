"""Exports the native API and the compatibility API share: write pages into a spool file and
stream that file back as a download.

A spool stays in memory while small and becomes an unnamed file in the home's cache folder
past :data:`SPOOL_IN_MEMORY`, so an export never holds a large document in memory and never
leaves a named file behind.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO, BinaryIO, cast

from starlette.responses import StreamingResponse

from scanlet.codecs.export import ExportFormat, export_pages
from scanlet.codecs.options import ExportOptions
from scanlet.core.runtime import Runtime

SPOOL_IN_MEMORY = 64 * 2**20


def new_spool(rt: Runtime) -> BinaryIO:
    """A temporary file for an export: in memory while small, else an unnamed file in the
    cache folder."""
    return cast(BinaryIO, tempfile.SpooledTemporaryFile(
        max_size=SPOOL_IN_MEMORY, mode="w+b", dir=str(rt.home.cache)))


def export_to_spool(rt: Runtime, page_ids: list[str], fmt: ExportFormat,
                    options: ExportOptions | None) -> tuple[BinaryIO, str]:
    """Export ``page_ids`` into a new spool (left at its end) and give its media type."""
    spool = new_spool(rt)
    try:
        return spool, export_pages(rt.store, page_ids, fmt, spool, options=options)
    except BaseException:
        spool.close()
        raise


def file_response(spool: BinaryIO, media_type: str, file_name: str) -> StreamingResponse:
    """Stream a spool written up to its end as a download named ``file_name`` (made safe);
    the spool is closed when the stream ends."""
    size = spool.tell()
    spool.seek(0)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in file_name)
    return StreamingResponse(
        _stream(spool), media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{safe}"',
                 "Content-Length": str(size)},
    )


def _stream(fh: IO[bytes], chunk: int = 4 << 20) -> Iterator[bytes]:
    try:
        while data := fh.read(chunk):
            yield data
    finally:
        fh.close()
