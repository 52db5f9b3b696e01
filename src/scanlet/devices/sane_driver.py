"""The SANE driver (Linux/BSD scanners, and the ``test``/``pnm`` virtual devices) on python-sane.

Device ids are ``"sane:" + SANE device name`` (``sane:test:0``, ``sane:airscan:e0:...``), the
same names ``scanimage -L`` prints, so they survive restarts. Each operation opens the device
and closes it at the end, so no handle stays locked between jobs and each job starts from the
backend's defaults as with ``scanimage`` (see :meth:`SaneDriver._open`; the ``test``
backend's feeder counter is per handle).

A scan first checks its settings against the device's capabilities (devices/validate.py, the
capabilities read once per driver): settings the device cannot honour are refused with
InvalidSetting before an option is set or paper moves, whoever calls the driver.

Feeder batches are a loop of ``start()`` + reading the frame (python-sane's ``multi_scan()``
iterator hangs on the ``test`` backend), with one ``sane_cancel`` at the end of the batch as
``scanimage`` does; flatbed pages, each a scan of its own, are cancelled one by one.
``SANE_STATUS_NO_DOCS`` ends the batch, or is :class:`~scanlet.errors.FeederEmpty` when no page
was scanned yet. Frames are read by :class:`~scanlet.devices.sane_reader.FrameReader` (fast) or
python-sane's ``snap()`` (formats the fast path does not handle) and handed as raw frames to
the worker's page sink (pipeline.py), which encodes and stores page N while page N+1 is read.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable

import _sane

from scanlet.devices.buffers import BufferPool
from scanlet.devices.driver import PageSink, ProgressSink
from scanlet.devices.encode import Layout, RawPage
from scanlet.devices.sane_caps import build_capabilities
from scanlet.devices.sane_handle import SaneHandle, SnapFrame
from scanlet.devices.sane_reader import FrameReader
from scanlet.devices.sane_settings import AppliedSettings, apply_settings
from scanlet.devices.sane_status import translate
from scanlet.devices.validate import validate_settings
from scanlet.errors import DeviceError, DeviceNotFound, FeederEmpty, ScanCancelled, ScanletError
from scanlet.libc import function
from scanlet.models import Capabilities, Device, ScanSettings, Source

log = logging.getLogger(__name__)

PREFIX = "sane:"
#: Seconds between progress callbacks while a page is read (a liveness signal, not a UI feed).
PROGRESS_INTERVAL = 0.5


def native_name(device_id: str) -> str:
    """``sane:test:0`` -> ``test:0``; raises DeviceNotFound for ids of other drivers."""
    if not device_id.startswith(PREFIX) or len(device_id) == len(PREFIX):
        raise DeviceNotFound(f"{device_id!r} is not a SANE device id", device=device_id)
    return device_id[len(PREFIX):]


def _ignore_sigpipe_again() -> None:
    """Put SIGPIPE back to "ignored" after a scan.

    sane-backends' reader threads (``sanei_thread``, e.g. the ``test`` backend's) leave SIGPIPE
    at its default action, "terminate", when a scan ends. Python starts with it ignored and
    relies on that: a write to a closed pipe must raise BrokenPipeError, not end the process
    without a word (seen: a test process killed by its next write to a child's stdin).
    ``signal.signal`` works only in the main thread; the C call sets the same process-wide
    disposition from the driver thread.
    """
    set_handler = function("signal")
    if set_handler is None:
        return
    set_handler.restype = ctypes.c_void_p
    set_handler.argtypes = (ctypes.c_int, ctypes.c_void_p)
    set_handler(int(signal.SIGPIPE), 1)  # 1 == SIG_IGN


def _load_unwinder() -> None:
    """Make glibc load its stack unwinder (libgcc_s) now, before any backend thread runs.

    sane-backends' ``sanei_thread`` runs reader threads with *asynchronous* cancellation, and
    ``sane_cancel`` first closes the pipe (the reader's write fails, it calls pthread_exit)
    then cancels the thread. glibc loads libgcc_s with dlopen on the first pthread_exit or
    pthread_cancel of the process; a reader cancelled inside that dlopen leaves the loader
    lock held and every later thread creation in the process hangs (measured: about 1 in 40
    fresh workers after an error right after sane_start). ``backtrace()`` loads the same
    unwinder through the same path, so calling it once here closes that window.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        frames = (ctypes.c_void_p * 1)()
        libc.backtrace(frames, 1)
    except (OSError, AttributeError) as exc:
        log.debug("could not preload the unwinder: %s", exc)


class SaneDriver:
    """:class:`~scanlet.devices.driver.Driver` for SANE; see the module docstring."""

    name = "sane"

    def __init__(self, *, buffers: int = 2, fast_read: bool = True) -> None:
        """``buffers``: idle page buffers kept for reuse (the page sink's depth: more raw
        pages than that never exist at once); ``fast_read``: read frames with
        :class:`~scanlet.devices.sane_reader.FrameReader` where it can."""
        _load_unwinder()
        try:
            version = _sane.init()
        except _sane.error as exc:
            raise translate(exc, device="sane", during="init") from exc
        self.version = f"{version[1]}.{version[2]}.{version[3]}"
        self._buffers = buffers
        self._fast_read = fast_read
        self._lock = threading.Lock()
        self._current: SaneHandle | None = None
        self._dirty = False
        #: Device id -> capabilities read by this driver (scans validate against them).
        self._caps: dict[str, Capabilities] = {}
        log.info("SANE %s initialised", self.version)

    # -- Driver interface --------------------------------------------------------------------

    def list_devices(self) -> list[Device]:
        try:
            found = _sane.get_devices()
        except _sane.error as exc:
            raise translate(exc, device="sane", during="list") from exc
        devices = []
        for name, vendor, model, kind in found:
            label = " ".join(p for p in (vendor, model) if p and p != "Noname") or name
            devices.append(Device(id=PREFIX + name, driver=self.name, name=name, vendor=vendor,
                                  model=model, type=kind, label=f"{label} ({name})"))
        return devices

    def capabilities(self, device_id: str) -> Capabilities:
        with self._open(device_id) as handle:
            return self._read_capabilities(handle, device_id)

    def scan(self, settings: ScanSettings, pages: PageSink, cancelled: threading.Event,
             progress: ProgressSink | None = None) -> int:
        """Scan ``settings`` into ``pages``; settings the device cannot honour are refused
        (InvalidSetting, UnsupportedSource) before any option is set or paper moves."""
        leaves = bool(settings.raw_options) or settings.brightness is not None \
            or settings.contrast is not None
        try:
            with self._open(settings.device, leaves_options=leaves) as handle:
                caps = self._caps.get(settings.device)
                if caps is None:
                    caps = self._read_capabilities(handle, settings.device)
                validate_settings(settings, caps)
                self._set_current(handle)
                try:
                    applied = apply_settings(handle, settings)
                    return self._read_pages(handle, settings, applied, pages, cancelled,
                                            progress)
                finally:
                    self._set_current(None)
        finally:
            _ignore_sigpipe_again()

    def cancel(self) -> None:
        with self._lock:
            if self._current is not None:
                self._current.cancel()

    def close(self) -> None:
        try:
            _sane.exit()
        except _sane.error as exc:
            log.debug("sane_exit: %s", exc)

    # -- internals ---------------------------------------------------------------------------

    def _open(self, device_id: str, *, leaves_options: bool = False) -> SaneHandle:
        """Open a device, with the backend's default values for options Scanlet doesn't set.

        Backends keep option values in their own per-device state across sane_close and
        sane_open (the ``test`` backend does: a ``read-return-value`` set by one job would jam
        the next). Every scan sets source, mode, depth, resolution and area itself, so only a
        job that also set other options (``raw_options``, brightness, contrast) leaves
        anything behind; the next open then re-initialises SANE first. Re-initialising on
        every open would be simpler but costs network backends (airscan, net) a rediscovery.
        """
        native = native_name(device_id)
        if self._dirty:
            log.debug("re-initialising SANE to reset options left by the previous job")
            _sane.exit()
            try:
                _sane.init()
            except _sane.error as exc:
                raise translate(exc, device=native, during="init") from exc
        self._dirty = leaves_options
        return SaneHandle(native)

    def _read_capabilities(self, handle: SaneHandle, device_id: str) -> Capabilities:
        """Read (and remember) a device's capabilities on a freshly opened handle.

        Reading switches the source option through every source; a scan sets the source
        first anyway (sane_settings.apply_settings), so nothing of it reaches the pages.
        """
        caps = build_capabilities(handle, device_id)
        self._caps[device_id] = caps
        return caps

    def _set_current(self, handle: SaneHandle | None) -> None:
        with self._lock:
            self._current = handle

    def _read_pages(self, handle: SaneHandle, settings: ScanSettings, applied: AppliedSettings,
                    pages: PageSink, cancelled: threading.Event,
                    progress: ProgressSink | None) -> int:
        limit = settings.page_limit()
        if limit is None and applied.source == Source.FLATBED:
            limit = 1  # a flatbed never runs out of paper: "all" means the one sheet on it
        reader = handle.frame_reader() if self._fast_read else None
        pool = BufferPool(keep=self._buffers)
        index = 0
        try:
            while limit is None or index < limit:
                pages.wait_for_room()
                if cancelled.is_set():
                    raise ScanCancelled(device=settings.device, pages=pages.emitted)
                started = time.monotonic()
                try:
                    handle.start()
                    page = self._read_frame(handle, reader, pool, applied,
                                            _throttled(progress, index))
                except FeederEmpty:
                    if index == 0:
                        raise
                    log.info("feeder empty after %d pages", index)
                    return index
                except ScanletError:
                    if cancelled.is_set():
                        raise ScanCancelled(device=settings.device,
                                            pages=pages.emitted) from None
                    raise
                if applied.source == Source.FLATBED:
                    handle.cancel()  # each flatbed page is a scan of its own
                pages.frame(page)
                log.debug("page %d read in %.0f ms", index + 1,
                          (time.monotonic() - started) * 1e3)
                index += 1
            return index
        finally:
            handle.cancel()  # ends the batch (SANE: one sane_cancel after the last frame)

    def _read_frame(self, handle: SaneHandle, reader: FrameReader | None, pool: BufferPool,
                    applied: AppliedSettings,
                    progress: Callable[[int, int], None] | None) -> RawPage:
        frame = reader.read(pool, progress) if reader is not None else None
        if frame is not None:
            buffer = frame.buffer
            return RawPage(data=buffer, layout=frame.layout, width=frame.width,
                           height=frame.height, stride=frame.stride, mode=applied.mode,
                           bit_depth=applied.bit_depth, dpi=applied.dpi, source=applied.source,
                           release=lambda: pool.give(buffer))
        # python-sane reads 16-bit frames wrongly unless asked for 16-bit samples (it reads half
        # lines), so always take them and let the encoder reduce colour to 8 bits.
        return _snap_page(handle.snap(allow_16bit=True, progress=progress), applied)


def _throttled(progress: ProgressSink | None, index: int) -> Callable[[int, int], None] | None:
    """A read-progress callback forwarding at most one report per PROGRESS_INTERVAL.

    python-sane's ``snap()`` calls it after each line from C and crashes if it raises, hence
    the blanket guard.
    """
    if progress is None:
        return None
    last = [0.0]

    def report(lines: int, total: int) -> None:
        try:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL:
                last[0] = now
                progress(index, lines, total)
        except BaseException:  # must never propagate into C
            log.exception("progress callback failed")

    return report


def _snap_page(frame: SnapFrame, applied: AppliedSettings) -> RawPage:
    """A page from python-sane's ``snap()`` (1-bit data arrives expanded to 0/255 grey)."""
    data, width, height, samples, sample_size = frame
    if width <= 0 or height <= 0 or not data:
        raise DeviceError("The scanner returned an empty page", width=width, height=height)
    layouts: dict[tuple[int, int], Layout] = {(3, 1): "rgb8", (3, 2): "rgb16", (1, 1): "gray8",
                                              (1, 2): "gray16"}
    layout = layouts[(samples, sample_size)]
    return RawPage(data=data, layout=layout, width=width, height=height,
                   stride=width * samples * sample_size, mode=applied.mode,
                   bit_depth=applied.bit_depth, dpi=applied.dpi, source=applied.source)
