"""The driver interface every scanner technology implements (SANE, demo; eSCL, TWAIN... later).

A driver is synchronous and blocking, because the native APIs are (libsane, TWAIN and WIA
block in C). Drivers that need process isolation (``DriverInfo.isolated`` in registry.py) run
only inside a scan worker process (``scanlet.devices.worker``); the async side talks to them
through ``scanlet.devices.bridge``. The others run in the service through the in-process runner
(``scanlet.devices.inprocess``), which uses the same dispatcher on a thread. Either way a driver
is made by ``registry.load_driver(name)`` with no arguments. One driver object serves one worker;
only ``cancel`` may be called from another thread than the one running the other methods.

A driver only produces pages: it hands each one to a :class:`PageSink`, either as raw frames
(:class:`~scanlet.devices.encode.RawPage`: SANE, TWAIN memory transfer, cameras) or as an image
the device already encoded (:class:`DeliveredImage`: eSCL and many network devices deliver
JPEG). What happens to a page afterwards (encode, encrypt, write, hand over) belongs to the
worker's page pipeline (pipeline.py), the same for every driver.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from scanlet.devices.encode import EncodedPage, RawPage
from scanlet.models import Capabilities, Device, ScannedPage, ScanSettings

#: The worker's hand-over of a page once its encrypted file is complete on disk (pipeline.py).
PageEmitter = Callable[[ScannedPage], None]

#: Receives ``(page_index, lines_read, lines_expected)`` while a page is being read; used as a
#: liveness signal (a page of a real scanner can take minutes). ``lines_expected`` is -1 when
#: the device does not know the height in advance (hand scanners, some feeders).
ProgressSink = Callable[[int, int, int], None]


#: A page the device delivered already encoded (JPEG/PNG): the same record the pipeline's
#: encoder makes, without a preview. Stored as delivered, never re-encoded; ``width`` and
#: ``height`` come from the image's header (read by the driver, not by decoding it), ``dpi`` is
#: its real resolution.
DeliveredImage = EncodedPage


class PageSink(Protocol):
    """Where a driver puts the pages of one scan, in scan order.

    The sink bounds memory: a driver calls :meth:`wait_for_room` before it starts reading each
    page from the device, and may block there while earlier pages are encoded and written.
    Every method may raise the sink's own failure (a full disk: StorageError); the driver lets
    it propagate.
    """

    def wait_for_room(self) -> None:
        """Block until another page may be read; raise the sink's first error, if any."""
        ...

    def frame(self, page: RawPage) -> None:
        """Take a raw frame (returns at once; ``page.release`` is called once it is encoded)."""
        ...

    def encoded(self, page: DeliveredImage) -> None:
        """Take an image the device already encoded (returns at once)."""
        ...

    @property
    def emitted(self) -> int:
        """Pages stored and handed over so far (for ScanCancelled/ errors' ``pages``)."""
        ...


class Driver(Protocol):
    """List devices, describe them, scan pages; see the module docstring for threading rules."""

    #: The driver's registry name, also the prefix of its device ids (``"sane"`` for
    #: ``"sane:test:0"``).
    name: str

    def list_devices(self) -> list[Device]:
        """Devices reachable now, with ids that stay the same across restarts."""
        ...

    def capabilities(self, device_id: str) -> Capabilities:
        """Normalized capabilities per paper source plus the raw driver options.

        Raises DeviceNotFound for an unknown id, DeviceError subclasses for device trouble.
        """
        ...

    def scan(self, settings: ScanSettings, pages: PageSink, cancelled: threading.Event,
             progress: ProgressSink | None = None) -> int:
        """Scan pages as ``settings`` asks, handing each to ``pages``; return the count handed.

        Returns normally when the page limit is reached or the feeder runs empty after at least
        one page. Raises FeederEmpty if the feeder is empty before the first page,
        ScanCancelled once ``cancelled`` is set (pages already handed over stay valid), and
        other ScanletError subclasses for device failures; pages read before a failure are
        handed over first. Settings the device cannot honour are refused (InvalidSetting)
        before anything moves.
        """
        ...

    def cancel(self) -> None:
        """Ask a running scan to stop as soon as possible; safe to call from any thread."""
        ...

    def close(self) -> None:
        """Release the native library or connections; the driver is unusable afterwards."""
        ...
