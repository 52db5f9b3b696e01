"""SANE status codes and their Scanlet errors: the one place that maps them.

python-sane raises ``_sane.error`` carrying only ``sane_strstatus(status)`` as text (see
``PySane_Error`` in python-sane's ``_sane.c``), so the numeric status is recovered from that
text. The text table is read from the loaded libsane itself through ctypes (spellings differ
between sane-backends releases: "canceled"/"cancelled"), with the upstream English strings as a
fallback.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from enum import IntEnum

from scanlet.errors import (
    CoverOpen,
    DeviceAccessDenied,
    DeviceBusy,
    DeviceError,
    DeviceIOError,
    DeviceOutOfMemory,
    FeederEmpty,
    PaperJam,
    ScanCancelled,
    ScanletError,
)

log = logging.getLogger(__name__)


class SaneStatus(IntEnum):
    """``SANE_Status`` values from sane/sane.h (1.1+: WARMING_UP, HW_LOCKED)."""

    GOOD = 0
    UNSUPPORTED = 1
    CANCELLED = 2
    DEVICE_BUSY = 3
    INVAL = 4
    EOF = 5
    JAMMED = 6
    NO_DOCS = 7
    COVER_OPEN = 8
    IO_ERROR = 9
    NO_MEM = 10
    ACCESS_DENIED = 11
    WARMING_UP = 12
    HW_LOCKED = 13


#: Upstream English texts of sane_strstatus(), including historical spellings.
_FALLBACK_TEXTS: dict[str, SaneStatus] = {
    "Success": SaneStatus.GOOD,
    "Operation not supported": SaneStatus.UNSUPPORTED,
    "Operation was cancelled": SaneStatus.CANCELLED,
    "Operation was canceled": SaneStatus.CANCELLED,
    "Device busy": SaneStatus.DEVICE_BUSY,
    "Invalid argument": SaneStatus.INVAL,
    "End of file reached": SaneStatus.EOF,
    "Document feeder jammed": SaneStatus.JAMMED,
    "Document feeder out of documents": SaneStatus.NO_DOCS,
    "Scanner cover is open": SaneStatus.COVER_OPEN,
    "Error during device I/O": SaneStatus.IO_ERROR,
    "Out of memory": SaneStatus.NO_MEM,
    "Access to resource has been denied": SaneStatus.ACCESS_DENIED,
    "Lamp not ready, please retry": SaneStatus.WARMING_UP,
    "Scanner mechanism locked for transport": SaneStatus.HW_LOCKED,
}

_ERRORS: dict[SaneStatus, type[DeviceError]] = {
    SaneStatus.NO_DOCS: FeederEmpty,
    SaneStatus.JAMMED: PaperJam,
    SaneStatus.COVER_OPEN: CoverOpen,
    SaneStatus.DEVICE_BUSY: DeviceBusy,
    SaneStatus.WARMING_UP: DeviceBusy,
    SaneStatus.IO_ERROR: DeviceIOError,
    SaneStatus.NO_MEM: DeviceOutOfMemory,
    SaneStatus.ACCESS_DENIED: DeviceAccessDenied,
    SaneStatus.CANCELLED: ScanCancelled,
}


@functools.cache
def _status_texts() -> dict[str, SaneStatus]:
    """Map every text the loaded libsane gives for a status back to that status."""
    texts = dict(_FALLBACK_TEXTS)
    name = ctypes.util.find_library("sane") or "libsane.so.1"
    try:
        lib = ctypes.CDLL(name)
        strstatus = lib.sane_strstatus
    except (OSError, AttributeError) as exc:
        log.debug("libsane not loadable through ctypes (%s); using the English table", exc)
        return texts
    strstatus.restype = ctypes.c_char_p
    strstatus.argtypes = [ctypes.c_int]
    for status in SaneStatus:
        raw = strstatus(int(status))
        if raw:
            texts[raw.decode("utf-8", "replace")] = status
    return texts


def status_text(status: SaneStatus) -> str:
    """libsane's own description of ``status`` (what ``sane_strstatus`` returns)."""
    texts = _status_texts()
    return next((t for t, s in reversed(texts.items()) if s == status), status.name)


def status_from_message(message: str) -> SaneStatus | None:
    """The SANE status whose ``sane_strstatus`` text is ``message``, if any."""
    return _status_texts().get(message.strip())


def error_for_status(status: SaneStatus | None, text: str, *, device: str,
                     during: str) -> ScanletError:
    """The Scanlet error for a SANE status; unknown or unmapped statuses give DeviceError."""
    detail = {"device": device, "during": during, "driver_message": text,
              "sane_status": f"SANE_STATUS_{status.name}" if status is not None else None}
    cls = _ERRORS.get(status) if status is not None else None
    if cls is not None:
        return cls(**detail)
    if status == SaneStatus.INVAL:
        return DeviceError(f"The scanner rejected the settings ({text}): check the options "
                           "and, for file-based devices, the file name", **detail)
    return DeviceError(f"The scanner reported an error: {text}", **detail)


def translate(exc: BaseException, *, device: str, during: str) -> ScanletError:
    """Turn an exception raised by python-sane into a Scanlet error (foreign -> ours)."""
    if isinstance(exc, ScanletError):
        return exc
    text = str(exc.args[0]) if exc.args else str(exc)
    return error_for_status(status_from_message(text), text, device=device, during=during)
