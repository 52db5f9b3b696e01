"""The flat view of the configuration that the rest of Scanlet reads, and the key catalogue.

:class:`Settings` inherits every section model, so each key is one attribute under the field
name its section declares (``settings.port``, ``settings.monitor_hang_timeout``) with the
same type, default and checks, and ``Settings(https=True)`` builds one in code by those names.
:func:`keys` lists every key with its section and INI name: the loader, the docs generator and
the template of a new ``scanlet.ini`` read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import ConfigDict
from pydantic.fields import FieldInfo

from scanlet.config.sections import (
    BufferSection,
    CompatSection,
    DevicesSection,
    DumpSection,
    LimitsSection,
    LogSection,
    MonitorSection,
    OcrSection,
    SecuritySection,
    ServerSection,
    TlsSection,
    UploadSection,
    sections,
)
from scanlet.config.values import Form

LOOPBACK_LISTENERS = ("127.0.0.1", "::1")


class Settings(ServerSection, TlsSection, SecuritySection, LimitsSection, OcrSection,
               DevicesSection, BufferSection, LogSection, DumpSection, MonitorSection,
               UploadSection, CompatSection):
    """Typed configuration; one instance is loaded at start-up and passed down (frozen).

    Built by :func:`scanlet.config.load_settings` from the INI files, or in code with keyword
    arguments named as the attributes (INI names are not accepted here).
    """

    model_config = ConfigDict(validate_by_alias=False, validate_by_name=True)


@dataclass(frozen=True)
class Key:
    """One INI key: where it lives, its attribute, and its field (type, default, doc)."""

    section: str
    name: str
    attr: str
    field: FieldInfo

    @property
    def dotted(self) -> str:
        """``section.name``, the ``key`` of a ConfigError's detail."""
        return f"{self.section}.{self.name}"

    def extra(self, what: str) -> str | None:
        """A ``json_schema_extra`` entry of the field (``form``, ``shown``, ``example``)."""
        extra = self.field.json_schema_extra
        value = extra.get(what) if isinstance(extra, dict) else None
        return value if isinstance(value, str) else None

    @property
    def form(self) -> str:
        """How a value is written, for error messages."""
        own = self.extra("form")
        if own is not None:
            return own
        forms = [m for m in self.field.metadata if isinstance(m, Form)]
        return forms[-1].text if forms else "a value"

    @property
    def default(self) -> Any:
        return self.field.get_default(call_default_factory=True)


@cache
def keys() -> tuple[Key, ...]:
    """Every key, section by section, in the order of the docs."""
    found = []
    for section, model in sections().items():
        for attr, field in model.model_fields.items():
            assert field.alias is not None, f"{model.__name__}.{attr} has no INI name"
            found.append(Key(section, field.alias, attr, field))
    return tuple(found)


@cache
def key_table() -> dict[tuple[str, str], Key]:
    """``(section, INI name)`` -> key."""
    return {(k.section, k.name): k for k in keys()}


def is_remote(settings: Settings) -> bool:
    """True when the service listens beyond loopback (HTTPS only, tokens always)."""
    return settings.host not in LOOPBACK_LISTENERS
