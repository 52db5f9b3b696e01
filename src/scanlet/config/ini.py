"""Reading one INI file: configparser parses it; a line locator finds where each section and
key is written, so that every error can name the file and the line.

configparser keeps no line numbers, so :func:`_locate` walks the text with configparser's own
rules (comments, indented continuation lines, ``key = value`` or ``key: value``, key names in
lower case). ``[DEFAULT]`` is no special section here: it is refused as an unknown section
rather than silently copied into every other one.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

from scanlet.errors import ConfigError

_SECTION = re.compile(r"\[(?P<header>.+)\]")
_OPTION = re.compile(r"(?P<option>.*?)\s*[=:]")
#: No real section has this name, so ``[DEFAULT]`` is an ordinary (unknown) section.
_NO_DEFAULT_SECTION = "\x00no-default-section"


@dataclass(frozen=True)
class Entry:
    """One ``key = value`` of a file, with the line its key is on (1-based)."""

    section: str
    name: str
    raw: str
    line: int


@dataclass(frozen=True)
class IniFile:
    """A parsed INI file: the line of each section header, and its entries in file order."""

    path: Path
    sections: dict[str, int]
    entries: list[Entry]

    def where(self, line: int) -> str:
        """``"<path>, line N"`` for messages."""
        return f"{self.path}, line {line}"


def read_ini(path: Path) -> IniFile:
    """Parse ``path``; ConfigError naming the file (and the line, where there is one) when it
    cannot be read or is not valid INI."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                          file=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})", file=str(path)) from exc
    parser = configparser.ConfigParser(interpolation=None, default_section=_NO_DEFAULT_SECTION)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        line, why = _syntax_error(exc, text.splitlines())
        where = f"{path}, line {line}" if line is not None else str(path)
        raise ConfigError(f"{where}: not a valid INI file ({why})", file=str(path), line=line) \
            from exc
    section_lines, key_lines = _locate(text)
    entries = [
        Entry(section, name, raw, key_lines.get((section, name), section_lines.get(section, 0)))
        for section in parser.sections() for name, raw in parser.items(section)
    ]
    entries.sort(key=lambda e: e.line)
    return IniFile(path, {s: section_lines.get(s, 0) for s in parser.sections()}, entries)


def _syntax_error(exc: configparser.Error, lines: list[str]) -> tuple[int | None, str]:
    """The line and a one-line reason of configparser's error."""
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return exc.lineno, "a key before the first [section] header"
    if isinstance(exc, configparser.DuplicateOptionError):
        return exc.lineno, f"[{exc.section}] {exc.option} is set twice"
    if isinstance(exc, configparser.DuplicateSectionError):
        return exc.lineno, f"[{exc.section}] appears twice"
    if isinstance(exc, configparser.ParsingError) and exc.errors:
        line = exc.errors[0][0]
        text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        return line, f"neither [section], key = value nor a continuation line: {text!r}"
    return None, exc.message.splitlines()[0] if exc.message else type(exc).__name__


def _locate(text: str) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Line of each section header, and of each ``(section, key)``: the first occurrence, as
    configparser (strict) refuses duplicates anyway."""
    sections: dict[str, int] = {}
    keys: dict[tuple[str, str], int] = {}
    section: str | None = None
    key_indent: int | None = None  # indentation of the last key: deeper lines continue it
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.strip()
        indent = len(line) - len(line.lstrip())
        if not value or value[0] in "#;":
            continue
        if key_indent is not None and indent > key_indent:
            continue  # a continuation line of a multi-line value
        header = _SECTION.match(value)
        if header:
            section = header.group("header")
            sections.setdefault(section, number)
            key_indent = None
            continue
        option = _OPTION.match(value)
        if section is not None and option:
            keys.setdefault((section, option.group("option").rstrip().lower()), number)
            key_indent = indent
    return sections, keys
