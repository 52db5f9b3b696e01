"""Resized or converted views of pages, cached in RAM and encrypted on disk.

A rendition is identified by a tag: a hash of the page content's SHA-256 and the parameters
(size, format, quality). The same tag is the HTTP ETag, so it is stable across restarts and
changes whenever the content or the parameters do. Renditions are written without fsync: a
torn one after a power cut fails its AES-GCM check, is deleted and rendered again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from scanlet.buffer.cache import ByteLRU
from scanlet.buffer.files import PageFiles
from scanlet.buffer.rows import StoredPage
from scanlet.codecs import render as rendering
from scanlet.codecs.decode import MEDIA_TYPE, ImageDecodeError, ImageFormat
from scanlet.crypto import read_encrypted, write_encrypted
from scanlet.errors import InvalidSetting, PageCorrupt

logger = logging.getLogger(__name__)

MAX_SIDE = 20_000

# Cache keys: ("o", page_id, "") for originals, ("r", page_id, tag) for renditions.
CacheKey = tuple[str, str, str]


@dataclass(frozen=True)
class RenderedImage:
    """An encoded image ready to serve.

    ``etag`` is a strong HTTP entity tag *including* its double quotes, derived from the page
    content's hash and the rendering parameters, so it is stable across restarts.
    """

    data: bytes
    media_type: str
    etag: str


def tag_for(sha256: str, params: str) -> str:
    """The rendition tag (and ETag value) of content ``sha256`` rendered with ``params``."""
    return hashlib.sha256(f"{sha256}|{params}".encode()).hexdigest()[:32]


def validate(width: int | None, height: int | None, fmt: str, quality: int) -> None:
    """Refuse impossible rendering parameters with InvalidSetting."""
    for name, value in (("width", width), ("height", height)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_SIDE
        ):
            raise InvalidSetting(f"{name} must be an integer 1-{MAX_SIDE}", field=name)
    if fmt not in MEDIA_TYPE:
        raise InvalidSetting(f"unsupported format {fmt!r}", field="format",
                             allowed=sorted(MEDIA_TYPE))
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise InvalidSetting("quality must be an integer 1-100", field="quality")


@dataclass(frozen=True)
class Renditions:
    """Makes and caches renditions.

    ``original(stored, cache)`` returns a page's decrypted bytes; renditions read it without
    caching it, so thumbnails of a long scan never fill the RAM cache with originals.
    """

    files: PageFiles
    key: bytes
    cache: ByteLRU[CacheKey]
    original: Callable[[StoredPage, bool], bytes]

    def render(
        self, stored: StoredPage, width: int | None, height: int | None, fmt: ImageFormat,
        quality: int,
    ) -> RenderedImage:
        validate(width, height, fmt, quality)
        info = stored.info
        size = rendering.fit_within(info.width, info.height, width, height)
        if size == (info.width, info.height) and fmt == info.format:
            return RenderedImage(
                self.original(stored, True), MEDIA_TYPE[fmt],
                f'"{tag_for(stored.sha256, "original")}"'
            )
        params = f"{size[0]}x{size[1]}.{fmt}" + (f".q{quality}" if fmt == "jpeg" else "")
        tag = tag_for(stored.sha256, params)
        return RenderedImage(self._get(stored, tag, size, fmt, quality), MEDIA_TYPE[fmt],
                             f'"{tag}"')

    def _get(
        self, stored: StoredPage, tag: str, size: tuple[int, int], fmt: ImageFormat,
        quality: int,
    ) -> bytes:
        key: CacheKey = ("r", stored.info.id, tag)
        data = self.cache.get(key)
        if data is not None:
            return data
        path = self.files.thumb_path(stored.info.id, tag)
        if path.exists():
            try:
                data = read_encrypted(path, self.key)
            except PageCorrupt:
                logger.warning("discarding damaged rendition %s", path.name)
                path.unlink(missing_ok=True)
        if data is None:
            data = self._make(stored, size, fmt, quality)
            try:
                write_encrypted(path, self.key, data, fsync=False)
            except OSError:
                logger.warning("could not cache rendition %s", path.name, exc_info=True)
        self.cache.put(key, data)
        return data

    def _make(
        self, stored: StoredPage, size: tuple[int, int], fmt: ImageFormat, quality: int
    ) -> bytes:
        info = stored.info
        dpi = info.dpi * size[0] / info.width
        try:
            return rendering.render(self.original(stored, False), info.format, size, fmt, dpi=dpi,
                                    quality=quality)
        except ImageDecodeError as exc:
            raise PageCorrupt(f"page {info.id} could not be decoded: {exc}",
                              page_id=info.id) from exc
