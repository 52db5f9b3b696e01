"""The service's own web pages (``/``, ``/admin``, ``/demo``) and the JavaScript SDK it serves.

Layout of this package: ``pages/*.html`` (the documents), ``js/`` (their ES modules), ``css/``
(one shared style sheet) and ``i18n/<lang>.json`` (every string the pages show). The pages load
these from ``/web/...`` and the SDK from ``/sdk/...``.

The SDK is the repository's ``sdk-js/src``: a wheel carries it as ``scanlet/web/sdk`` (hatch
force-include); an editable install finds it beside the package in the source tree.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

WEB_DIR = Path(__file__).resolve().parent
#: Path on the service -> the HTML file in ``pages/``.
PAGES = {"/": "index.html", "/admin": "admin.html", "/demo": "demo.html"}
#: Sub-folders of this package served under ``/web/`` (nothing else: no Python, no HTML).
ASSET_FOLDERS = ("js", "css", "i18n")
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ts": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
#: What ``/sdk/`` and ``/web/`` serve: files with these suffixes only.
SERVED_SUFFIXES = (".js", ".mjs", ".json", ".css", ".svg", ".png")


def sdk_dir() -> Path | None:
    """Where the SDK's files are: the installed package data, else the source tree's
    ``sdk-js/src`` (editable installs); None when neither exists."""
    packaged = WEB_DIR / "sdk"
    if packaged.is_dir():
        return packaged
    source = WEB_DIR.parents[2] / "sdk-js" / "src"  # src/scanlet/web -> the repository
    return source if source.is_dir() else None


def page_file(path: str) -> Path | None:
    """The HTML file of one of the service's pages, None for other paths."""
    name = PAGES.get(path)
    return WEB_DIR / "pages" / name if name is not None else None


def resolve(root: Path, relative: str, folders: tuple[str, ...] | None = None) -> Path | None:
    """``relative`` (a URL path below ``root``, already percent-decoded) as a file inside
    ``root``, or None: never outside it (``..``, absolute paths, symlinks out), never a
    dotfile or dot-folder, never an empty or odd segment, only :data:`SERVED_SUFFIXES`, and
    when ``folders`` is given only inside one of those first-level folders."""
    if not relative or "\\" in relative or "\x00" in relative or len(relative) > 300:
        return None
    parts = relative.split("/")
    if any(not part or part.startswith(".") or part.startswith("~") for part in parts):
        return None
    if PurePosixPath(relative).is_absolute():
        return None
    if folders is not None and (len(parts) < 2 or parts[0] not in folders):
        return None
    if PurePosixPath(parts[-1]).suffix.lower() not in SERVED_SUFFIXES:
        return None
    base = root.resolve()
    try:
        target = base.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


@dataclass(frozen=True)
class Asset:
    """One file's bytes, media type and entity tag."""

    body: bytes
    media_type: str
    etag: str


def load(path: Path) -> Asset:
    """The file as an :class:`Asset` (cached while its size and mtime stay the same)."""
    stat = path.stat()
    return _load(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _load(path: Path, mtime_ns: int, size: int) -> Asset:
    body = path.read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:32]
    media = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return Asset(body, media, f'"{digest}"')


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, or ``*``)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False
