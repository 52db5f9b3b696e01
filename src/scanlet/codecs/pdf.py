"""PDF export: one page per stored page, images embedded without re-encoding.

Promises (checked by tests/codecs/test_export_pdf.py with qpdf and pikepdf):

- JPEG pages are embedded as-is with ``/DCTDecode``: the stream bytes equal the stored JPEG.
- PNG pages are embedded losslessly with ``/FlateDecode`` (img2pdf reuses the PNG's IDAT data
  with a PNG predictor); bilevel pages stay 1 bit per component, 16-bit grey stays 16-bit.
- The page size is the page's pixels divided by its dpi from the buffer's index (A4 at 300 dpi
  gives 595.2 x 841.7 pt), whatever density the file's own header claims.
- EXIF orientation is ignored, consistently with every other view of the page (width and
  height in the index are the stored pixels).

Memory. img2pdf holds all its input in memory, and pikepdf copies the image data of every page
it appends from another PDF into memory at once (it sets qpdf's "immediate copy"), so both
grow by the size of the document: about 1.9 GB for 200 A4 pages. Here img2pdf converts one
page at a time into a one-page PDF file in a private scratch folder (0700, deleted when the
export ends; ``PageStore.recover`` empties it after a crash), and qpdf's own job runner
(``pikepdf.Job``, the qpdf command line in-process) assembles those files: it reads image
streams from them only while writing the output. Peak memory stays about one page (measured:
46 MB for 200 A4 pages; the numbers are in the buffer's report). Small exports (pages totalling
less than :data:`IN_MEMORY_BYTES`) are assembled in memory and touch no disk.

The scratch files are plaintext, like the export itself; encrypting them (qpdf AES-256) was
measured at 4x the export time, for files that live seconds in a private folder.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import img2pdf
import pikepdf

from scanlet import __version__
from scanlet.codecs.pages import PageReader, Progress
from scanlet.models import PageInfo

logger = logging.getLogger(__name__)

#: Exports whose stored pages total less than this are assembled in memory.
IN_MEMORY_BYTES = 64 * 2**20


def _img2pdf_options(info: PageInfo) -> dict[str, Any]:
    return {
        "layout_fun": img2pdf.get_fixed_dpi_layout_fun((info.dpi, info.dpi)),
        "rotation": img2pdf.Rotation.none,
    }


def _stamp(pdf: pikepdf.Pdf) -> None:
    now = datetime.now(UTC).strftime("D:%Y%m%d%H%M%SZ")
    pdf.docinfo["/Producer"] = f"Scanlet {__version__} (img2pdf, pikepdf)"
    pdf.docinfo["/CreationDate"] = now
    pdf.docinfo["/ModDate"] = now


def _save(pdf: pikepdf.Pdf, dest: BinaryIO) -> None:
    _stamp(pdf)
    # Image streams are copied as they are: no recompression, no object streams.
    pdf.save(dest, compress_streams=True, recompress_flate=False,
             object_stream_mode=pikepdf.ObjectStreamMode.disable, deterministic_id=True)


def _in_memory(pages: Sequence[PageInfo], read: PageReader, dest: BinaryIO,
               progress: Progress) -> None:
    total = len(pages)
    if len({info.dpi for info in pages}) == 1:
        # One img2pdf call writes all pages at once: the fastest path, and img2pdf's own
        # promise (images embedded as they are) holds for every page.
        data = []
        for done, info in enumerate(pages, 1):
            data.append(read(info))
            if done < total:
                progress(done, total)
        now = datetime.now(UTC)
        img2pdf.convert(data, outputstream=dest, producer=f"Scanlet {__version__} (img2pdf)",
                        creationdate=now, moddate=now, **_img2pdf_options(pages[0]))
        return
    with ExitStack() as stack:
        out = stack.enter_context(pikepdf.new())
        for done, info in enumerate(pages, 1):
            single = img2pdf.convert(read(info), **_img2pdf_options(info))
            source = stack.enter_context(pikepdf.open(io.BytesIO(single)))
            out.pages.append(source.pages[0])
            if done < total:
                progress(done, total)
        _save(out, dest)


def _spooled(pages: Sequence[PageInfo], read: PageReader, dest: BinaryIO, progress: Progress,
             workdir: Path | None) -> None:
    total = len(pages)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="pdf-export-") as scratch:
        files: list[str] = []
        for done, info in enumerate(pages, 1):
            path = os.path.join(scratch, f"{done:07d}.pdf")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                img2pdf.convert(read(info), outputstream=fh, **_img2pdf_options(info))
            files.append(path)
            if done < total:
                progress(done, total)
        job = pikepdf.Job({
            "empty": "",
            "pages": [{"file": path} for path in files],
            # Required by the job's checks, never written: the document is saved to dest.
            "outputFile": os.path.join(scratch, "unused.pdf"),
        })
        with job.create_pdf() as out:
            _save(out, dest)
        del job  # owns the open input files; release them before the folder goes


def write_pdf(
    pages: Sequence[PageInfo],
    read: PageReader,
    dest: BinaryIO,
    progress: Progress,
    *,
    workdir: Path | None = None,
) -> None:
    """Write ``pages`` as one PDF to ``dest`` (which need not be seekable).

    ``workdir`` holds the scratch folder of large exports (default: the system's temporary
    folder; the buffer passes its own ``cache/tmp``).
    """
    if sum(info.bytes for info in pages) < IN_MEMORY_BYTES:
        _in_memory(pages, read, dest, progress)
    else:
        _spooled(pages, read, dest, progress, workdir)
    progress(len(pages), len(pages))
