"""Notice USB devices coming and going, to refresh the device listing (Linux only).

The kernel creates and removes a node in ``/dev/bus/usb/<bus>/<device>`` for every USB
device (devtmpfs, with or without udev), so watching that folder with inotify is cheap: no
polling, nothing to parse. inotify comes through watchfiles (maintained, already installed
with uvicorn's ``standard`` extra), not hand-written code. Only added and deleted nodes
count; scans talk to a device through ioctls, which inotify does not report.

Elsewhere, or where ``/dev/bus/usb`` is missing (containers, a kernel without usbfs), nothing
is watched: the listing then changes on ``list_max_age``, ``?refresh=true`` and unknown ids.
Network scanners are not USB devices: they show up through the same three.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, awatch

log = logging.getLogger(__name__)

USB_DEVICES = Path("/dev/bus/usb")
#: Milliseconds of quiet before a burst of changes counts (a device replugged, a hub's ports).
DEBOUNCE_MS = 500


def default_usb_dir() -> Path | None:
    """The folder to watch on this system, or None."""
    return USB_DEVICES if sys.platform.startswith("linux") else None


def _plugged(change: Change, path: str) -> bool:
    return change in (Change.added, Change.deleted)


async def watch_usb(folder: Path, on_change: Callable[[], object],
                    stop: asyncio.Event) -> None:
    """Call ``on_change`` after each burst of USB nodes added or removed under ``folder``,
    until ``stop`` is set. Returns at once if ``folder`` is not there."""
    if not folder.is_dir():
        log.info("%s is not there: USB hotplug not watched", folder)
        return
    try:
        async for changes in awatch(folder, watch_filter=_plugged, debounce=DEBOUNCE_MS,
                                    stop_event=stop, recursive=True):
            log.debug("USB devices changed: %s", sorted(path for _, path in changes))
            on_change()
    except (OSError, RuntimeError) as exc:  # watchfiles reports its own failures so
        log.warning("cannot watch %s for USB hotplug: %s", folder, exc)
