"""Scanners as the reference lists them: ``{name, type, device}`` filtered by a type bitmask.

The ``type`` bits are the reference's (16 TWAIN, 32 WIA, 64 TWAIN x64, 128 ICA, 256 SANE,
512 eSCL, 1024 Wi-Fi Direct, 2048 WIA-TWAIN). Every Scanlet device is reached through SANE, so
it is a SANE device (256); eSCL (512) is kept for a native eSCL driver. Without ``type`` the
reference lists TWAIN, TWAIN x64, WIA, ICA and SANE devices, so Scanlet's devices are listed.

The clients' examples ask for TWAIN devices only (``type=16`` or ``16|64``). With ``[compat]
twain_types = true`` Scanlet also offers its devices to such a request, reported with the
TWAIN bit that was asked for, so those examples work unchanged; by default (false) such a
request gets an empty list, as from the reference on a computer without TWAIN drivers.

The ``device`` string is opaque to clients, who send it back unchanged when they create a job.
Scanlet's is a JSON object ``{"scanlet": 1, "id": "<device id>", "name": ..., "type": ...}``;
the ``id`` is what counts. A plain device id (``sane:test:0``) is accepted too.
"""

from __future__ import annotations

import json
from typing import Any

from scanlet.errors import InvalidSetting
from scanlet.models import Device

TWAIN = 0x10
WIA = 0x20
TWAIN_X64 = 0x40
ICA = 0x80
SANE = 0x100
ESCL = 0x200
WIFI_DIRECT = 0x400
WIA_TWAIN = 0x800
#: Every bit the reference defines.
ALL_TYPES = TWAIN | WIA | TWAIN_X64 | ICA | SANE | ESCL | WIFI_DIRECT | WIA_TWAIN
#: The reference's mask when a request has no ``type``.
DEFAULT_MASK = TWAIN | TWAIN_X64 | WIA | ICA | SANE
#: The version of our device string (its ``scanlet`` field).
DEVICE_STRING_VERSION = 1
MAX_DEVICE_STRING = 4096


def parse_mask(raw: str | None) -> int:
    """The ``type`` query parameter as a bitmask (decimal, or hex with ``0x``); the default
    mask when absent; InvalidSetting (400, -2113) for anything but a positive integer."""
    if raw is None or raw.strip() == "":
        return DEFAULT_MASK
    try:
        mask = int(raw.strip(), 0)
    except ValueError:
        raise InvalidSetting(f"type must be a device type bitmask such as 256 (SANE), "
                             f"not {raw[:40]!r}", field="type") from None
    if mask <= 0 or mask > 0xFFFFFFFF:
        raise InvalidSetting("type must be a positive device type bitmask such as 256 (SANE)",
                             field="type")
    return mask


def native_type(device: Device) -> int:
    """The reference's type bit for a Scanlet device (every driver today is SANE)."""
    return ESCL if device.driver == "escl" else SANE


def reported_type(device: Device, mask: int, *, twain_types: bool) -> int | None:
    """The type a device is listed with for ``mask``, or None when it is not listed.

    Its own bit when the mask has it; with ``twain_types`` the TWAIN (or TWAIN x64) bit the
    mask asks for otherwise.
    """
    own = native_type(device)
    if mask & own:
        return own
    if twain_types:
        for bit in (TWAIN, TWAIN_X64):
            if mask & bit:
                return bit
    return None


def device_string(device: Device) -> str:
    """The opaque ``device`` string a client sends back to pick this device."""
    return json.dumps({"scanlet": DEVICE_STRING_VERSION, "id": device.id, "name": device.label,
                       "type": native_type(device)}, separators=(",", ":"))


def device_id_of(value: object) -> str:
    """The device id in a ``device`` string from a client; InvalidSetting otherwise."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_DEVICE_STRING:
        raise InvalidSetting("device must be the device string from GET /api/device/scanners",
                             field="device")
    text = value.strip()
    if not text.startswith("{"):
        return text  # a plain Scanlet device id
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    found = data.get("id") if isinstance(data, dict) else None
    if not isinstance(found, str) or not found:
        raise InvalidSetting("device is not a device string of this service; list the "
                             "devices with GET /api/device/scanners", field="device")
    return found


def scanner(device: Device, device_type: int) -> dict[str, Any]:
    """A Scanner object as the reference returns it."""
    return {"name": device.label or device.name, "type": device_type,
            "device": device_string(device)}


def scanners(devices: list[Device], mask: int, *, twain_types: bool) -> list[dict[str, Any]]:
    """The Scanner objects of ``devices`` that ``mask`` asks for."""
    listed = []
    for device in devices:
        kind = reported_type(device, mask, twain_types=twain_types)
        if kind is not None:
            listed.append(scanner(device, kind))
    return listed
