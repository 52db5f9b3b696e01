"""Import a file into a document: the body is the file itself (not JSON, not multipart).

The bytes are spooled to the buffer's scratch folder as they arrive (the access middleware
caps the size on the way in); the import then waits (on the event loop, holding no thread) for
room in the decoding budget all clients share (``Runtime.decode_gate``: 429 ``imports_busy``
when it stays full), and the importer checks the format by its magic bytes, decodes in a
memory-limited worker process under pixel and decoded-bytes caps and appends every page.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.models import PageInfo
from scanlet.security.policy import BINARY_MEDIA_TYPES

router = APIRouter(prefix="/v1", tags=["buffer"])
Rt = Annotated[Runtime, Depends(runtime)]

PASSWORD_HEADER = "X-PDF-Password"


@router.post(
    "/documents/{document_id}/import", status_code=201,
    summary="Append the pages of a file (JPEG, PNG, TIFF, BMP, WebP, PDF) to a document",
    openapi_extra={"requestBody": {"required": True, "content": {
        media: {"schema": {"type": "string", "format": "binary"}}
        for media in BINARY_MEDIA_TYPES}}},
)
async def import_file(
    document_id: str, request: Request, rt: Rt,
    dpi: Annotated[float | None, Query(gt=0, le=2400,
                                       description="PDF rasterising dpi (default 200)")] = None,
) -> list[PageInfo]:
    from scanlet.importing import import_file as run_import

    rt.store.get_document(document_id)  # 404 before reading a byte
    password = request.headers.get(PASSWORD_HEADER)
    spool = await asyncio.to_thread(_spool_file, rt.store.temp_dir)
    try:
        with open(spool, "wb") as fh:
            async for chunk in request.stream():  # small chunks: a write does not block long
                fh.write(chunk)
        limits = rt.decode_gate.limits
        async with rt.decode_gate.areserve(limits.worker_memory_bytes):
            return await asyncio.to_thread(run_import, rt.store, document_id, spool, dpi=dpi,
                                           password=password, decode=limits)
    finally:
        spool.unlink(missing_ok=True)


def _spool_file(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(prefix="import-", suffix=".part", dir=folder)
    os.close(fd)
    return Path(name)
