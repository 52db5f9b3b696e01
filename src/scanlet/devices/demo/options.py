"""The demo device's own settings, given in ``ScanSettings.raw_options``.

They let a web developer provoke what real scanners do to a job, to watch their page's error
handling work:

``fault``
    ``"none"`` (default), ``"jam"`` (PaperJam while page ``fault_page`` is being read; the
    pages before it are delivered), ``"double-feed"`` (DoubleFeed when page ``fault_page`` is
    fed), ``"cover-open"`` (CoverOpen before page ``fault_page``) or ``"feeder-empty"``
    (FeederEmpty: the feeder holds no paper). Jams, double feeds and an empty feeder need the
    feeder or duplex source.
``fault_page``
    The page (1-based, counted as pages are delivered, both sides of a duplex sheet counting)
    at which the fault happens; default 1.
``stack``
    The sheets to load, comma-separated names from stack.SHEETS (default: all of them, in
    their order); the flatbed holds the first.
``page_delay_ms``
    Milliseconds each page takes to read (0-10000, default 0), spread over the page's bands,
    so progress can be watched and a scan cancelled mid-page by hand.

Names are matched like SANE option names (``fault_page`` and ``fault-page`` are one option).
Values the device cannot honour are InvalidSetting errors (field ``raw_options``) before
anything moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from scanlet.devices.demo.stack import DEFAULT_STACK, SHEETS
from scanlet.devices.validate import option_key
from scanlet.errors import InvalidSetting
from scanlet.models import RawOption, Source

Fault = Literal["none", "jam", "double-feed", "cover-open", "feeder-empty"]
FAULTS: tuple[Fault, ...] = ("none", "jam", "double-feed", "cover-open", "feeder-empty")
_FEEDER_ONLY = ("jam", "double-feed", "feeder-empty")
MAX_DELAY_MS = 10_000
MAX_FAULT_PAGE = 10_000


@dataclass(frozen=True)
class DemoOptions:
    """The parsed demo options of one scan."""

    fault: Fault = "none"
    fault_page: int = 1
    stack: tuple[str, ...] = DEFAULT_STACK
    page_delay_ms: int = 0


def raw_options() -> list[RawOption]:
    """The options as the device's capabilities list them (what validate.py checks names
    against)."""
    return [
        RawOption(name="fault", title="Fault to provoke",
                  description="Make the demo scanner fail like a real one: jam, double-feed, "
                  "cover-open or feeder-empty", type="string", constraint=list(FAULTS),
                  value="none"),
        RawOption(name="fault-page", title="Page of the fault",
                  description="The page (1-based) at which the fault happens", type="int",
                  constraint={"min": 1, "max": MAX_FAULT_PAGE, "step": 1}, value=1),
        RawOption(name="stack", title="Sheets in the scanner",
                  description="Comma-separated sheets to load, top first: "
                  + ", ".join(SHEETS), type="string", value=",".join(DEFAULT_STACK)),
        RawOption(name="page-delay-ms", title="Time per page",
                  description="Milliseconds each page takes to read", type="int",
                  constraint={"min": 0, "max": MAX_DELAY_MS, "step": 1}, value=0),
    ]


def parse_options(raw: dict[str, Any], source: Source) -> DemoOptions:
    """The demo options in ``raw`` for a scan of ``source``; InvalidSetting when a value is
    not one the device can honour."""
    values = {option_key(name): value for name, value in raw.items()}
    known = {option.name for option in raw_options()}
    for key in values:
        if key not in known:
            raise InvalidSetting(f"the demo scanner has no option {key!r}",
                                 field="raw_options", allowed=sorted(known))
    fault = values.get("fault", "none")
    if fault not in FAULTS:
        raise InvalidSetting(f"unknown fault {fault!r}", field="raw_options",
                             option="fault", allowed=list(FAULTS))
    if fault in _FEEDER_ONLY and source == Source.FLATBED:
        raise InvalidSetting(f"the fault {fault!r} needs the feeder or duplex source",
                             field="raw_options", option="fault",
                             allowed=[f for f in FAULTS if f not in _FEEDER_ONLY])
    return DemoOptions(
        fault=fault,
        fault_page=_integer(values, "fault-page", 1, 1, MAX_FAULT_PAGE),
        stack=_stack(values.get("stack")),
        page_delay_ms=_integer(values, "page-delay-ms", 0, 0, MAX_DELAY_MS),
    )


def _integer(values: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = values.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        value = None
    try:
        number = int(value) if value is not None else None
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise InvalidSetting(f"{key} must be a whole number from {low} to {high}",
                             field="raw_options", option=key, allowed={"min": low, "max": high})
    return number


def _stack(value: Any) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_STACK
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise InvalidSetting("stack must be comma-separated sheet names", field="raw_options",
                             option="stack", allowed=list(SHEETS))
    stack = tuple(n.strip() for n in names if n.strip())
    unknown = [n for n in stack if n not in SHEETS]
    if unknown or not stack:
        raise InvalidSetting(f"unknown sheets {unknown}" if unknown else "stack is empty",
                             field="raw_options", option="stack", allowed=list(SHEETS))
    return stack
