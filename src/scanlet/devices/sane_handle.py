"""A small typed wrapper over one open python-sane device handle.

It talks to python-sane's C module ``_sane`` directly (``sane.py`` is a thin layer over it):
options are addressed by SANE's own dashed names (``br-x``; the underscore spelling ``br_x``
used by ``sane.SaneDev`` attributes is accepted too), the option table is reloaded exactly when
the backend says so (``SANE_INFO_RELOAD_OPTIONS``), and frames are read either by python-sane's
``snap`` or by the faster :class:`~scanlet.devices.sane_reader.FrameReader`. Every
``_sane.error`` leaving this module is already a Scanlet error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import _sane

from scanlet.devices.sane_reader import FrameReader
from scanlet.devices.sane_status import SaneStatus, status_from_message, translate
from scanlet.devices.validate import option_key
from scanlet.errors import DeviceNotFound, InvalidSetting
from scanlet.models import RawOption

log = logging.getLogger(__name__)

OptionType = Literal["bool", "int", "fixed", "string", "button", "group"]

_TYPES: dict[int, OptionType] = {
    _sane.TYPE_BOOL: "bool", _sane.TYPE_INT: "int", _sane.TYPE_FIXED: "fixed",
    _sane.TYPE_STRING: "string", _sane.TYPE_BUTTON: "button", _sane.TYPE_GROUP: "group",
}
_UNITS = {
    _sane.UNIT_NONE: "none", _sane.UNIT_PIXEL: "pixel", _sane.UNIT_BIT: "bit",
    _sane.UNIT_MM: "mm", _sane.UNIT_DPI: "dpi", _sane.UNIT_PERCENT: "percent",
    _sane.UNIT_MICROSECOND: "microsecond",
}
_WORD_SIZE = 4

#: ``(data, pixels_per_line, lines, samples_per_pixel, bytes_per_sample)`` from ``snap``.
SnapFrame = tuple[bytearray, int, int, int, int]


@dataclass(frozen=True)
class SaneOption:
    """One option descriptor, as the backend describes it right now."""

    index: int
    name: str
    title: str
    description: str
    type: OptionType
    unit: str
    size: int
    cap: int
    constraint: Any

    @property
    def active(self) -> bool:
        return not self.cap & _sane.CAP_INACTIVE

    @property
    def readable(self) -> bool:
        return bool(self.cap & _sane.CAP_SOFT_DETECT) and self.type not in ("button", "group")

    @property
    def is_array(self) -> bool:
        """Int/fixed/bool options holding several words (gamma tables...)."""
        return self.type in ("bool", "int", "fixed") and self.size > _WORD_SIZE

    @property
    def settable(self) -> bool:
        """Whether software can set it through python-sane (which cannot set arrays)."""
        return bool(self.cap & _sane.CAP_SOFT_SELECT) and not self.is_array \
            and self.type != "group"

    def range(self) -> tuple[float, float, float] | None:
        """``(min, max, quant)`` if the constraint is a range."""
        if isinstance(self.constraint, tuple) and len(self.constraint) == 3:
            low, high, quant = self.constraint
            return float(low), float(high), float(quant)
        return None

    def choices(self) -> list[Any] | None:
        """The allowed values if the constraint is a list."""
        return list(self.constraint) if isinstance(self.constraint, list) else None


def _describe(raw: tuple[Any, ...]) -> SaneOption:
    index, name, title, desc, kind, unit, size, cap, constraint = raw
    return SaneOption(index=index, name=name or "", title=title or "", description=desc or "",
                      type=_TYPES.get(kind, "group"), unit=_UNITS.get(unit, "none"), size=size,
                      cap=cap, constraint=constraint)


class SaneHandle:
    """One open SANE device. Not thread-safe, except :meth:`cancel`."""

    def __init__(self, native_name: str) -> None:
        self.native_name = native_name
        try:
            self._dev: Any = _sane._open(native_name)
        except _sane.error as exc:
            if status_from_message(str(exc)) == SaneStatus.INVAL:
                raise DeviceNotFound(f"no SANE device {native_name!r}",
                                     device=f"sane:{native_name}") from exc
            raise translate(exc, device=native_name, during="open") from exc
        self._options: dict[str, SaneOption] = {}
        self.reload()

    def __enter__(self) -> SaneHandle:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- options ---------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read the option table (after a change the backend flagged as reloading it)."""
        table = {}
        for raw in self._call("get_options"):
            option = _describe(raw)
            if option.name and option.type != "group":
                table[option.name] = option
        self._options = table

    def options(self) -> list[SaneOption]:
        """All named, non-group options in backend order."""
        return sorted(self._options.values(), key=lambda o: o.index)

    def option(self, name: str) -> SaneOption | None:
        """The option called ``name`` (dashes or underscores), if the device has it."""
        return self._options.get(option_key(name))

    def has_active(self, name: str) -> bool:
        option = self.option(name)
        return option is not None and option.active

    def get(self, name: str) -> Any:
        """Current value, or None if the option is missing, inactive, unreadable or an array."""
        option = self.option(name)
        if option is None or not option.active or not option.readable or option.is_array:
            return None
        try:
            return self._dev.get_option(option.index)
        except _sane.error as exc:
            log.debug("reading option %s of %s failed: %s", name, self.native_name, exc)
            return None

    def set(self, name: str, value: Any) -> None:
        """Set an option, converting JSON-ish values to the option's type.

        Raises InvalidSetting (field ``raw_options``) for unknown, inactive or read-only
        options and values of the wrong type or outside the constraint.
        """
        option = self.option(name)
        if option is None:
            raise InvalidSetting(f"{self.native_name} has no option {name!r}",
                                 field="raw_options", option=name)
        if not option.active:
            raise InvalidSetting(f"option {option.name!r} is inactive in the current mode",
                                 field="raw_options", option=option.name)
        if not option.settable or option.type == "button":
            raise InvalidSetting(f"option {option.name!r} cannot be set by software",
                                 field="raw_options", option=option.name)
        native = _convert(option, value)
        try:
            info = self._dev.set_option(option.index, native)
        except _sane.error as exc:
            raise InvalidSetting(
                f"{self.native_name} refused {option.name} = {value!r}: {exc}",
                field="raw_options", option=option.name, allowed=_allowed(option),
            ) from exc
        if info & _sane.INFO_RELOAD_OPTIONS:
            self.reload()

    def raw_options(self) -> list[RawOption]:
        """Every option in the public RawOption shape (values read where readable)."""
        result = []
        for option in self.options():
            result.append(RawOption(
                name=option.name, title=option.title, description=option.description,
                type=option.type, unit=option.unit, constraint=_allowed(option),
                value=self.get(option.name), active=option.active, settable=option.settable,
            ))
        return result

    # -- scanning --------------------------------------------------------------------------

    def parameters(self) -> tuple[str, bool, int, int, int, int]:
        """``(format, last_frame, pixels_per_line, lines, depth, bytes_per_line)``."""
        fmt, last, (ppl, lines), depth, bpl = self._call("get_parameters")
        return fmt, bool(last), ppl, lines, depth, bpl

    def start(self) -> None:
        """``sane_start``: begin a frame (loads the next sheet on a feeder)."""
        self._call("start", during="start")

    def snap(self, *, allow_16bit: bool, no_cancel: bool = True,
             progress: Callable[[int, int], None] | None = None) -> SnapFrame:
        """Read the frame started by :meth:`start` with python-sane's own reader.

        The slow but universal path (handles three-pass colour and unknown heights); see
        :mod:`scanlet.devices.sane_reader` for the fast one. ``progress(lines_read,
        lines_expected)`` is called from C after every line with the GIL held and must never
        raise (python-sane does not check the callback's result).
        """
        data, width, height, samples, sample_size = self._call(
            "snap", no_cancel, allow_16bit, progress, during="read")
        return data, width, height, samples, sample_size

    def frame_reader(self) -> FrameReader | None:
        """The fast reader for this handle, or None where it can't be used safely."""
        return FrameReader.attach(self._dev, self.native_name)

    def cancel(self) -> None:
        """``sane_cancel``; allowed from another thread while :meth:`snap` runs."""
        try:
            self._dev.cancel()
        except _sane.error as exc:  # closed meanwhile
            log.debug("cancel on %s: %s", self.native_name, exc)

    def close(self) -> None:
        try:
            self._dev.close()
        except _sane.error as exc:
            log.debug("close of %s: %s", self.native_name, exc)

    def _call(self, method: str, *args: Any, during: str = "control") -> Any:
        try:
            return getattr(self._dev, method)(*args)
        except _sane.error as exc:
            raise translate(exc, device=self.native_name, during=during) from exc


def _allowed(option: SaneOption) -> list[Any] | dict[str, float] | None:
    rng = option.range()
    if rng is not None:
        return {"min": rng[0], "max": rng[1], "step": rng[2]}
    return option.choices()


def _convert(option: SaneOption, value: Any) -> Any:
    """A JSON value as the Python type ``_sane.set_option`` wants for ``option``."""
    try:
        if option.type == "bool":
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(value)
                return int(lowered in ("1", "true", "yes", "on"))
            return int(bool(value))
        if option.type == "int":
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        if option.type == "fixed":
            return float(value)
        if option.type == "string":
            if not isinstance(value, str):
                raise ValueError(value)
            if len(value.encode("latin-1")) >= option.size:
                raise ValueError(value)
            return value
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise InvalidSetting(
            f"{value!r} is not a valid {option.type} value for option {option.name!r}",
            field="raw_options", option=option.name, allowed=_allowed(option),
        ) from exc
    raise InvalidSetting(f"option {option.name!r} cannot be set", field="raw_options",
                         option=option.name)

