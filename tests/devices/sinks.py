"""A real PageSink for driver tests: keeps every raw frame and encodes it the way the worker's
pipeline does (scanlet.devices.encode.encode_page), so tests check what a driver delivers
without the service."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from scanlet.devices.driver import DeliveredImage, Driver
from scanlet.devices.encode import EncodedPage, RawPage, encode_page
from scanlet.models import Compression, ScanSettings


@dataclass
class CollectingSink:
    """Encodes each frame at once (lossless unless told otherwise) and keeps both forms.

    ``on_frame`` runs after a frame is taken (tests use it to cancel between pages);
    ``waits`` counts :meth:`wait_for_room` calls.
    """

    compression: Compression = Compression.LOSSLESS
    jpeg_quality: int = 90
    on_frame: Callable[[CollectingSink], None] | None = None
    raw: list[RawPage] = field(default_factory=list)
    pages: list[EncodedPage] = field(default_factory=list)
    delivered: list[DeliveredImage] = field(default_factory=list)
    waits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for_room(self) -> None:
        self.waits += 1

    def frame(self, page: RawPage) -> None:
        encoded = encode_page(page, self.compression, self.jpeg_quality, with_preview=False)
        if page.release is not None:
            page.release()
        with self.lock:
            self.raw.append(page)
            self.pages.append(encoded)
        if self.on_frame is not None:
            self.on_frame(self)

    def encoded(self, page: DeliveredImage) -> None:
        with self.lock:
            self.delivered.append(page)

    @property
    def emitted(self) -> int:
        with self.lock:
            return len(self.pages) + len(self.delivered)

    def images(self) -> list[Image.Image]:
        """The encoded pages, decoded again by Pillow."""
        out: list[Image.Image] = []
        for page in self.pages:
            image = Image.open(io.BytesIO(page.data))
            image.load()
            out.append(image)
        return out



def run_scan(driver: Driver, sink: CollectingSink | None = None,
             cancelled: threading.Event | None = None,
             progress: Callable[[int, int, int], None] | None = None,
             **settings: Any) -> CollectingSink:
    """Scan with ``driver`` into ``sink`` (a new one by default) and return the sink."""
    sink = sink if sink is not None else CollectingSink()
    count = driver.scan(ScanSettings.model_validate(settings), sink,
                        cancelled or threading.Event(), progress)
    assert count == len(sink.raw)
    return sink
