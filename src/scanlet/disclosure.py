"""Error text as clients see it: without the local filesystem paths it may carry.

Storage, config, export and OCR errors name files (``cannot open the page index
/home/alice/.local/share/scanlet/cache/buffer.sqlite3: ...``) and an ``OSError``'s text ends with
its file name. Such paths tell a web page the user's name and the layout of the disk, so every
error a client gets (problem+json, the compatibility API's body, job and task errors, WebSocket
events) passes :func:`public_text`: an absolute path (or a ``file://`` URL) keeps only its last
part (``…/buffer.sqlite3``), the user's home and its parents become ``~``. The service log
keeps the full text.

A path is told from an API route (``/v1/jobs/…``, ``/api/…``) by its first part: it must name
an entry of the filesystem root (``/home``, ``/tmp``, ``/var``, ``/Users``, ...), which no route
does. Windows paths (``C:\\…``, ``\\\\server\\share\\…``) and ``~/…`` always count as paths.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

#: What stands for a path's directories.
ELLIPSIS = "…"

# A path runs until white space, a quote or a bracket; ':' ',' ';' end it only when followed by
# white space or the end (so "file.txt: error" keeps its colon, "C:\\x" its drive).
_END = r"(?=$|[\s'\"`<>()\[\]{}]|[:,;.](?:\s|$))"
_POSIX = re.compile(r"(?<![\w.~:/\\%-])(~?/[^\s'\"`<>()\[\]{}]+?)" + _END)
#: URLs other than file:// ones are left whole (an upload target is the client's own input).
_URL = re.compile(r"(?i)\b(?!file:)[a-z][a-z0-9+.-]*://[^\s'\"`<>]*")
_FILE_URL = re.compile(r"(?i)\bfile://[^\s'\"`<>()\[\]{}]*")
_WINDOWS = re.compile(r"(?<![\w])((?:[A-Za-z]:|\\\\[^\s\\/'\"]+)[\\/][^\s'\"`<>()\[\]{}]*?)"
                      + _END)


@functools.cache
def _root_entries() -> frozenset[str]:
    """Names in the filesystem root (``home``, ``tmp``, ``usr``, ...)."""
    try:
        return frozenset(os.listdir("/"))
    except OSError:
        return frozenset()


@functools.cache
def _home_and_parents() -> frozenset[str]:
    """The user's home and every directory above it (but ``/``), as strings."""
    try:
        home = Path.home()
    except (RuntimeError, KeyError):
        return frozenset()
    return frozenset(str(p) for p in (home, *home.parents) if str(p) not in ("/", home.anchor))


def _neutral(path: str, sep: str) -> str:
    trimmed = path.rstrip("/\\") or path
    if trimmed in _home_and_parents() or trimmed == "~":
        return "~"
    name = re.split(r"[\\/]", trimmed)[-1]
    return f"{ELLIPSIS}{sep}{name}" if name else ELLIPSIS


def _posix(match: re.Match[str]) -> str:
    path = match.group(1)
    if not path.startswith("~"):
        first = path[1:].split("/", 1)[0]
        if first not in _root_entries():
            return path  # an API route, not a file
    return _neutral(path, "/")


def _windows(match: re.Match[str]) -> str:
    return _neutral(match.group(1), "\\")


def public_text(text: str) -> str:
    """``text`` with every local filesystem path reduced to its last part."""
    if "/" not in text and "\\" not in text:
        return text
    parts, last = [], 0
    for url in _URL.finditer(text):
        parts += [_reduce(text[last:url.start()]), url.group(0)]
        last = url.end()
    return "".join([*parts, _reduce(text[last:])])


def _reduce(text: str) -> str:
    text = _FILE_URL.sub(lambda m: "file://" + _neutral(m.group(0)[7:], "/"), text)
    return _POSIX.sub(_posix, _WINDOWS.sub(_windows, text))


def public_value(value: Any) -> Any:
    """:func:`public_text` applied to every string in ``value`` (dicts, lists, tuples)."""
    if isinstance(value, str):
        return public_text(value)
    if isinstance(value, dict):
        return {key: public_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [public_value(item) for item in value]
    return value
