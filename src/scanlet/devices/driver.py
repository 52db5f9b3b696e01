"""The driver interface every scanner technology implements (SANE now; eSCL, TWAIN... later).

A driver is synchronous and blocking, because the native APIs are (libsane, TWAIN and WIA
block in C). It runs only inside the scan worker process (``scanlet.devices.worker``), never in
the service; the async side talks to it through ``scanlet.devices.bridge``. One driver object
serves one worker; only ``cancel`` may be called from another thread than the one running the
other methods.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from scanlet.models import Capabilities, Device, ScannedPage, ScanSettings

#: Receives each page, in order, once its encrypted file is complete on disk.
PageSink = Callable[[ScannedPage], None]

#: Receives ``(page_index, lines_read, lines_expected)`` while a page is being read; used as a
#: liveness signal (a page of a real scanner can take minutes). ``lines_expected`` is -1 when
#: the device does not know the height in advance (hand scanners, some feeders).
ProgressSink = Callable[[int, int, int], None]


class Driver(Protocol):
    """List devices, describe them, scan pages; see the module docstring for threading rules."""

    #: Prefix of the device ids this driver produces, e.g. ``"sane"`` for ``"sane:test:0"``.
    name: str

    def list_devices(self) -> list[Device]:
        """Devices reachable now, with ids that stay the same across restarts."""
        ...

    def capabilities(self, device_id: str) -> Capabilities:
        """Normalized capabilities per paper source plus the raw driver options.

        Raises DeviceNotFound for an unknown id, DeviceError subclasses for device trouble.
        """
        ...

    def scan(self, settings: ScanSettings, emit_page: PageSink, cancelled: threading.Event,
             progress: ProgressSink | None = None) -> int:
        """Scan pages as ``settings`` asks, calling ``emit_page`` for each; return the count.

        Returns normally when the page limit is reached or the feeder runs empty after at least
        one page. Raises FeederEmpty if the feeder is empty before the first page,
        ScanCancelled once ``cancelled`` is set (pages already emitted stay valid), and other
        ScanletError subclasses for device or storage failures; pages scanned before a failure
        are still emitted first.
        """
        ...

    def cancel(self) -> None:
        """Ask a running scan to stop as soon as possible; safe to call from any thread."""
        ...

    def close(self) -> None:
        """Release the native library; the driver is unusable afterwards."""
        ...
