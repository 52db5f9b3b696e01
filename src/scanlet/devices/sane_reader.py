"""Fast frame reading: libsane's ``sane_read`` through ctypes, straight into pooled buffers.

python-sane's ``snap()`` reads one line per ``sane_read`` call and takes the GIL back after
every line, gathers the lines in a malloc'd buffer and then copies it into a new ``bytearray``
(two fresh 26 MB allocations per A4 colour page). Measured on the ``test`` backend that is
3x slower than reading large blocks into a reused buffer, and it starves whenever another
thread holds the GIL. This module reads the frame that ``sane_start`` began with big
``sane_read`` calls (ctypes releases the GIL during each) into a :class:`BufferPool` buffer.

It needs the ``SANE_Handle`` inside python-sane's device object. That object is
``{PyObject_HEAD; SANE_Handle h;}`` (``_sane.c``); :func:`attach` checks the type's size matches
that layout and that ``sane_get_parameters`` through the pointer agrees with python-sane's own
answer, and returns None otherwise, in which case callers fall back to ``snap()``. Frames this
reader does not handle (three-pass colour, 1-bit colour, unknown height) also fall back to
``snap()``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scanlet.devices.buffers import BufferPool
from scanlet.devices.encode import Layout
from scanlet.devices.sane_status import SaneStatus, error_for_status, status_text
from scanlet.errors import DeviceError

log = logging.getLogger(__name__)

#: Bytes asked for per sane_read call; backends return at most what they have.
READ_CHUNK = 1 << 20
_FRAME_GRAY, _FRAME_RGB = 0, 1


class _Parameters(ctypes.Structure):
    """``SANE_Parameters`` from sane/sane.h."""

    _fields_ = [  # ctypes wants a plain list here
        ("format", ctypes.c_int), ("last_frame", ctypes.c_int),
        ("bytes_per_line", ctypes.c_int), ("pixels_per_line", ctypes.c_int),
        ("lines", ctypes.c_int), ("depth", ctypes.c_int),
    ]


@dataclass(frozen=True)
class Frame:
    """A frame read into a pooled buffer; give ``buffer`` back to the pool when done."""

    buffer: Any
    layout: Layout
    width: int
    height: int
    stride: int


@functools.cache
def _libsane() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("sane") or "libsane.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        log.info("libsane not loadable through ctypes (%s): using python-sane's snap()", exc)
        return None
    lib.sane_read.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                              ctypes.POINTER(ctypes.c_int)]
    lib.sane_read.restype = ctypes.c_int
    lib.sane_get_parameters.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Parameters)]
    lib.sane_get_parameters.restype = ctypes.c_int
    return lib


def _layout(p: _Parameters) -> Layout | None:
    if not p.last_frame or p.lines <= 0 or p.pixels_per_line <= 0:
        return None
    if p.format == _FRAME_RGB:
        return {8: "rgb8", 16: "rgb16"}.get(p.depth)  # type: ignore[return-value]
    if p.format == _FRAME_GRAY:
        return {8: "gray8", 16: "gray16", 1: "bw1"}.get(p.depth)  # type: ignore[return-value]
    return None


class FrameReader:
    """Reads frames of one open python-sane device; see the module docstring."""

    def __init__(self, lib: ctypes.CDLL, handle: int, device: str) -> None:
        self._lib = lib
        self._handle = handle
        self._device = device

    @classmethod
    def attach(cls, dev: Any, device: str) -> FrameReader | None:
        """A reader for python-sane device object ``dev``, or None if that is not safe."""
        lib = _libsane()
        if lib is None:
            return None
        expected = object.__basicsize__ + ctypes.sizeof(ctypes.c_void_p)
        if type(dev).__basicsize__ != expected:
            log.info("python-sane's device layout changed: using snap()")
            return None
        handle = ctypes.c_void_p.from_address(id(dev) + object.__basicsize__).value
        if not handle:
            return None
        reader = cls(lib, handle, device)
        try:
            _fmt, _last, (ppl, lines), depth, bpl = dev.get_parameters()
            ours = reader.parameters()
        except Exception as exc:  # any doubt means: don't use the fast path
            log.debug("fast reader check failed on %s: %s", device, exc)
            return None
        if (ours.pixels_per_line, ours.lines, ours.depth, ours.bytes_per_line) != \
                (ppl, lines, depth, bpl):
            log.info("fast reader check disagrees with python-sane on %s: using snap()", device)
            return None
        return reader

    def parameters(self) -> _Parameters:
        params = _Parameters()
        status = self._lib.sane_get_parameters(self._handle, ctypes.byref(params))
        if status != SaneStatus.GOOD:
            raise self._error(status)
        return params

    def read(self, pool: BufferPool,
             progress: Callable[[int, int], None] | None = None) -> Frame | None:
        """Read the frame just started; None if its format needs python-sane's ``snap()``.

        Raises the Scanlet error for any SANE status other than GOOD/EOF (the data read so far
        is dropped). A frame shorter than announced is returned cropped to whole lines.
        """
        params = self.parameters()
        layout = _layout(params)
        if layout is None:
            return None
        stride, lines = params.bytes_per_line, params.lines
        total = stride * lines
        buffer = pool.take(total)
        try:
            got = self._fill(buffer, total, stride, lines, progress)
        except BaseException:
            pool.give(buffer)
            raise
        height = got // stride
        if height <= 0:
            pool.give(buffer)
            raise DeviceError("The scanner returned an empty page", device=self._device)
        if height < lines:
            log.warning("%s sent %d of %d lines", self._device, height, lines)
        return Frame(buffer=buffer, layout=layout, width=params.pixels_per_line, height=height,
                     stride=stride)

    def _fill(self, buffer: Any, total: int, stride: int, lines: int,
              progress: Callable[[int, int], None] | None) -> int:
        base = ctypes.addressof(buffer)
        length = ctypes.c_int()
        read = self._lib.sane_read
        offset = 0
        scratch: Any = None
        while True:
            if offset < total:
                status = read(self._handle, base + offset, min(READ_CHUNK, total - offset),
                              ctypes.byref(length))
            else:  # more data than announced: drain it until EOF, keep what was announced
                scratch = scratch if scratch is not None else (ctypes.c_char * READ_CHUNK)()
                status = read(self._handle, ctypes.addressof(scratch), READ_CHUNK,
                              ctypes.byref(length))
            if status == SaneStatus.EOF:
                return min(offset, total)
            if status != SaneStatus.GOOD:
                raise self._error(status)
            if length.value == 0:
                time.sleep(0.001)  # non-blocking backends may have nothing yet
                continue
            offset += length.value
            if progress is not None:
                progress(min(offset, total) // stride, lines)

    def _error(self, status: int) -> Exception:
        try:
            known: SaneStatus | None = SaneStatus(status)
        except ValueError:
            known = None
        text = status_text(known) if known is not None else f"SANE status {status}"
        return error_for_status(known, text, device=self._device, during="read")
