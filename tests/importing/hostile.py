"""Hostile imports (small files that decode to a lot) and the probes that watch a service
while it refuses them: used by tests/api/test_hostile_imports.py and
benchmarks/bench_hostile_imports.py.

Every file here is made in memory in a few seconds and is at most about 1 MB: the bombs are
zlib streams of zeros (or blanks), which deflate compresses about 1000:1.
"""

from __future__ import annotations

import functools
import statistics
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import httpx
import pikepdf
import psutil

from tests.importing.makers import save

MB = 2**20
#: PNG colour types and channels per colour type.
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


@functools.cache
def zero_png(width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    """A complete, valid PNG of ``width`` x ``height`` black pixels (every row filter 0),
    compressed row by row: 196 Mpx of 8-bit RGB is about 0.57 MB."""
    row = bytes(1 + width * _CHANNELS[colour_type] * bit_depth // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


@functools.cache
def content_bomb_pdf(megabytes: int = 1024) -> bytes:
    """One A4 page whose content stream is ``megabytes`` MB of blanks (valid, empty content)
    deflated to about 1 MB: any reader that inflates it whole holds ``megabytes`` MB."""
    packer = zlib.compressobj(9)
    block = b" " * MB
    compressed = b"".join(packer.compress(block) for _ in range(megabytes)) + packer.flush()
    pdf = pikepdf.new()
    stream = pdf.make_stream(b"")
    stream.write(compressed, filter=pikepdf.Name.FlateDecode)
    pdf.add_blank_page(page_size=(595, 842))
    pdf.pages[0].obj.Contents = stream
    return save(pdf, compress_streams=False)


@dataclass(frozen=True)
class Hostile:
    """One file to import and the answers it may get."""

    name: str
    data: bytes
    content_type: str
    #: (status, code) pairs accepted as the answer; (201, "") is a success.
    expected: frozenset[tuple[int, str]]


def hostile_files() -> list[Hostile]:
    """The mix: each would take the service far past 1 GB if decoded in it or without a
    decoded-bytes cap, though every one is within the 200 Mpx pixel cap."""
    too_large = frozenset({(413, "import_too_large")})
    return [
        # 14000 x 14000 8-bit RGB: 196 Mpx, 0.57 MB; 784 MB as Pillow holds it.
        Hostile("png-196mpx-rgb", zero_png(14000, 14000), "image/png", too_large),
        # 16-bit grey, 12000 x 12000: 144 Mpx, 288 MB decoded (8-bit would be 144 MB).
        Hostile("png-144mpx-grey16", zero_png(12000, 12000, 16, 0), "image/png", too_large),
        # 8-bit RGBA, 8000 x 8000: 64 Mpx, but 4 channels and alpha compositing: ~1 GB.
        Hostile("png-64mpx-rgba", zero_png(8000, 8000, 8, 6), "image/png", too_large),
        # A 1 MB PDF whose one content stream inflates to 1 GiB.
        Hostile("pdf-content-1gib", content_bomb_pdf(1024), "application/pdf", too_large),
    ]


def within_caps() -> Hostile:
    """A large file that the caps allow: 8000 x 8000 8-bit grey (64 Mpx, 64 MB decoded)."""
    return Hostile("png-64mpx-grey", zero_png(8000, 8000, 8, 0), "image/png",
                   frozenset({(201, "")}))


def near_the_cap() -> Hostile:
    """A file the caps allow but only just: 11500 x 11500 16-bit grey, 264.5 MB decoded (the
    default cap is 256 MiB, 268.4 MB): two or more at once show the shared budget at work."""
    return Hostile("png-132mpx-grey16", zero_png(11500, 11500, 16, 0), "image/png",
                   frozenset({(201, "")}))


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (0 for those that just ended)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        with suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


@dataclass
class Watch:
    """What :func:`watching` saw: the tree's peak RSS and each /v1/health answer."""

    peak_rss: int = 0
    samples: int = 0
    health_seconds: list[float] = field(default_factory=list)
    health_failures: list[str] = field(default_factory=list)

    def health_summary(self) -> tuple[float, float]:
        """(median, max) seconds of the health answers."""
        return statistics.median(self.health_seconds), max(self.health_seconds)


@contextmanager
def watching(pid: int, url: str, *, every: float = 0.05,
             health_every: float = 0.2, health_timeout: float = 30.0) -> Iterator[Watch]:
    """Sample the service tree's RSS every ``every`` s and time ``GET /v1/health`` every
    ``health_every`` s (a failure or a non-200 answer is recorded, not raised) in two
    threads, for the duration of the ``with`` block."""
    watch = Watch()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            watch.peak_rss = max(watch.peak_rss, tree_rss(pid))
            watch.samples += 1
            stop.wait(every)

    def probe() -> None:
        with httpx.Client(base_url=url, timeout=health_timeout) as http:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    answer = http.get("/v1/health")
                    if answer.status_code != 200:
                        watch.health_failures.append(f"status {answer.status_code}")
                except httpx.HTTPError as exc:
                    watch.health_failures.append(repr(exc))
                watch.health_seconds.append(time.monotonic() - started)
                stop.wait(health_every)

    threads = [threading.Thread(target=sample, daemon=True),
               threading.Thread(target=probe, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        yield watch
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=health_timeout + 5)
