"""How the driver contract suite drives each driver: the device to use, fast settings, how
many pages the loaded feeder holds, and how to provoke each fault.

Every driver joins the suite by adding an :class:`Adapter` to :data:`ADAPTERS`. A fault the
device cannot be made to show (the SANE ``test`` backend has no double-feed status) goes in
``missing_faults`` with the reason, and its test is skipped for that driver with that reason,
never faked; every fault is in one of the two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scanlet.errors import CoverOpen, DeviceError, DoubleFeed, FeederEmpty, PaperJam

#: The faults the suite knows, with the error each must raise.
FAULTS: dict[str, type[DeviceError]] = {
    "feeder_empty": FeederEmpty,
    "paper_jam": PaperJam,
    "cover_open": CoverOpen,
    "double_feed": DoubleFeed,
}


@dataclass(frozen=True)
class Fault:
    """Settings (merged into a feeder scan's) that provoke a fault, and how many pages the
    driver hands over before it."""

    settings: dict[str, Any]
    pages_before: int = 0


@dataclass(frozen=True)
class Adapter:
    """What the contract suite needs to know to drive one registered driver."""

    #: Registry name (scanlet.devices.registry.DRIVERS).
    name: str
    #: The device every scan uses.
    device: str
    #: Settings merged into every scan: small and fast.
    base: dict[str, Any]
    #: Pages the feeder gives with ``base`` before it runs empty.
    feeder_pages: int
    #: Fault name (see FAULTS) -> how to provoke it.
    faults: dict[str, Fault]
    #: Fault name -> why the device cannot be made to show it (the test is skipped).
    missing_faults: dict[str, str] = field(default_factory=dict)
    #: Settings merged into a feeder scan so the driver reports progress while a page is
    #: being read (SANE throttles its reports: its pages must take a while).
    slow: dict[str, Any] = field(default_factory=dict)
    #: Keyword arguments for registry.load_driver.
    options: dict[str, Any] = field(default_factory=dict)
    #: Prepares the environment before the driver is made (e.g. SANE_CONFIG_DIR).
    prepare: Callable[[pytest.MonkeyPatch, pytest.TempPathFactory], None] | None = None
    #: Why the driver cannot join the suite yet (the test is skipped), or None.
    pending: str | None = None


DEMO = Adapter(
    name="demo",
    device="demo:scanner",
    base={"resolution": 75, "mode": "gray"},
    feeder_pages=8,
    faults={
        "feeder_empty": Fault({"raw_options": {"fault": "feeder-empty"}}),
        "paper_jam": Fault({"raw_options": {"fault": "jam", "fault_page": 3}}, 2),
        "cover_open": Fault({"raw_options": {"fault": "cover-open", "fault_page": 2}}, 1),
        "double_feed": Fault({"raw_options": {"fault": "double-feed", "fault_page": 2}}, 1),
    },
)


def _sane_config(monkeypatch: pytest.MonkeyPatch, factory: pytest.TempPathFactory) -> None:
    from scanlet.devices.sane_config import prepare_demo_config

    folder: Path = prepare_demo_config(factory.mktemp("sane-contract"), include_system=False)
    monkeypatch.setenv("SANE_CONFIG_DIR", str(folder))


def _status(status: str) -> dict[str, Any]:
    return {"raw_options": {"read_return_value": status}}


SANE = Adapter(
    name="sane",
    device="sane:test:0",
    base={"resolution": 50, "mode": "gray", "paper_size": "A6",
          "raw_options": {"test_picture": "Color pattern"}},
    feeder_pages=10,  # the test backend's feeder holds ten sheets
    faults={
        "feeder_empty": Fault(_status("SANE_STATUS_NO_DOCS")),
        "paper_jam": Fault(_status("SANE_STATUS_JAMMED")),
        "cover_open": Fault(_status("SANE_STATUS_COVER_OPEN")),
    },
    missing_faults={"double_feed": "the SANE test backend cannot report a double feed (its "
                                   "read-return-value offers no such SANE_STATUS)"},
    slow={"raw_options": {"test_picture": "Color pattern", "read_delay": True,
                          "read_delay_duration": 20000}},
    prepare=_sane_config,
)

ADAPTERS: dict[str, Adapter] = {adapter.name: adapter for adapter in (DEMO, SANE)}
