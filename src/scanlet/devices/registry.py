"""Every scanner technology Scanlet knows, by name: the driver registry.

A :class:`DriverInfo` says what the device manager needs to know before it loads a driver:
the platforms it runs on, whether it must run in a scan worker process (drivers on native
libraries do, so a crash in C costs a job, never the service; pure-Python drivers may run in
the service), the prefix of its device ids, and why it cannot run on this system if it cannot.
The driver class itself is imported only when one is made (:func:`load_driver`), so a driver
whose platform library is missing costs nothing but a line in ``scanlet doctor``.

Nothing outside ``scanlet.devices`` imports a concrete driver module; everything goes through
this registry.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from scanlet.devices.availability import NOT_AVAILABLE
from scanlet.devices.driver import Driver
from scanlet.errors import ConfigError, DeviceNotFound, DriverUnavailable


@dataclass(frozen=True)
class DriverInfo:
    """What the registry knows about one driver; see the module docstring."""

    #: Registry name, also the device-id prefix before the colon (``sane`` -> ``sane:test:0``).
    name: str
    #: One-line description for ``scanlet doctor`` and the docs.
    summary: str
    #: ``sys.platform`` prefixes the driver runs on (``"linux"``, ``"darwin"``, ``"win32"``...).
    platforms: tuple[str, ...]
    #: True when it must run in a scan worker process (native code); False when it may run in
    #: the service process.
    isolated: bool
    #: ``"module:Class"`` of the driver, imported on first use.
    factory: str
    #: Why the driver cannot run on this system beyond the platform (a library missing); None
    #: when it can. Must be cheap and must not touch devices.
    check: Callable[[], str | None] | None = None

    @property
    def prefix(self) -> str:
        """Device ids of this driver start with this (``"sane:"``)."""
        return self.name + ":"

    @property
    def on_this_os(self) -> bool:
        """True when ``sys.platform`` is one the driver runs on."""
        return sys.platform.startswith(self.platforms)

    def unavailable(self) -> str | None:
        """Why this driver cannot run here, or None when it can."""
        if not self.on_this_os:
            return f"runs only on {', '.join(self.platforms)}"
        return self.check() if self.check is not None else None


def _sane_check() -> str | None:
    from scanlet.devices.availability import sane_unavailable

    return sane_unavailable()


#: Every known driver, in the order their devices are listed.
DRIVERS: dict[str, DriverInfo] = {info.name: info for info in (
    DriverInfo(name="demo", summary="Demo scanner: generated documents, no hardware",
               platforms=("linux", "darwin", "win32", "freebsd", "openbsd", "netbsd"),
               isolated=False, factory="scanlet.devices.demo.driver:DemoDriver"),
    DriverInfo(name="sane", summary="SANE scanners (USB, network backends, test and pnm)",
               platforms=("linux", "freebsd", "openbsd", "netbsd", "darwin"),
               isolated=True, factory="scanlet.devices.sane_driver:SaneDriver",
               check=_sane_check),
)}


def info(name: str) -> DriverInfo:
    """The registry entry ``name``; ConfigError for a driver Scanlet does not know."""
    try:
        return DRIVERS[name]
    except KeyError:
        raise ConfigError(f"unknown driver {name!r} (known: {', '.join(DRIVERS)})",
                          driver=name) from None


def driver_of(device_id: str) -> DriverInfo:
    """The driver whose prefix ``device_id`` carries; DeviceNotFound when none does."""
    name, sep, rest = device_id.partition(":")
    if not sep or not rest or name not in DRIVERS:
        raise DeviceNotFound(f"{device_id!r} is not a device id of any driver",
                             device=device_id)
    return DRIVERS[name]


def enabled(names: Iterable[str] | None) -> list[DriverInfo]:
    """The drivers to use: ``names`` in registry order (``[devices] drivers``), or, when it
    is empty or None, every driver made for this OS except ``demo`` (which the ``--demo``
    switch adds). Unknown names are a ConfigError.

    The default keeps a driver whose library is missing (python-sane not installed on
    Linux): the device manager then lists no devices from it and says why, which is how a
    user learns what to install; a driver for another OS is left out silently.
    """
    wanted = list(names or ())
    if wanted:
        chosen = {info(n).name for n in wanted}
        return [d for d in DRIVERS.values() if d.name in chosen]
    return [d for d in DRIVERS.values() if d.name != "demo" and d.on_this_os]


def load_driver(name: str, **options: object) -> Driver:
    """Make the driver ``name`` (importing its module now); DriverUnavailable if it cannot run
    on this system, or if its module cannot be imported (a build without it), so that one
    driver missing costs only its own devices."""
    entry = info(name)
    reason = entry.unavailable()
    if reason is not None:
        raise DriverUnavailable(f"{NOT_AVAILABLE}: {reason}", driver=name, reason=reason)
    module_name, _, class_name = entry.factory.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        reason = f"cannot load {entry.factory}: {exc}"
        raise DriverUnavailable(f"{NOT_AVAILABLE}: {reason}", driver=name,
                                reason=reason) from exc
    driver: Driver = cls(**options)
    return driver
