"""Resized or converted views of pages, cached in RAM and encrypted on disk.

A rendition is identified by a tag: a hash of the page content's SHA-256 and the parameters
(size, format, quality). The same tag is the HTTP ETag, so it is stable across restarts and
changes whenever the content or the parameters do. Renditions are written without fsync: a
torn one after a power cut fails its AES-GCM check, is deleted and rendered again.

Large pages also get a *preview* (codecs/render.py: the page reduced by a power of two to a
long side of at least 860 px, as a JPEG), kept like a rendition under the tag of
:data:`PREVIEW_PARAMS`. It is made the first time a rendition that fits within it is asked
for, and every such rendition is then made from it instead of the original: an uncached
585x513 thumbnail of an A4 300 dpi page takes about 15 ms instead of 45 ms (most of which is
entropy-decoding the 3 MB original). The rendition that makes the preview is drawn from the
preview's pixels, later ones from its JPEG (quality 95: the same picture, not always the same
bytes; a rendition is made once and then served from the cache, so its ETag keeps meaning
one file). :meth:`preview` can also be called when a page is stored, so that even the first
thumbnail of a page is fast.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

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

#: Rendering parameters of a page's preview (its tag is ``tag_for(sha256, PREVIEW_PARAMS)``).
PREVIEW_PARAMS = "preview.v1"


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
        data = self._lookup(stored, tag)
        if data is None:
            data = self._make(stored, size, fmt, quality)
            self._keep(stored, tag, data)
        return data

    def _lookup(self, stored: StoredPage, tag: str) -> bytes | None:
        """The rendition ``tag`` from RAM, else from disk (then also put in RAM), else None."""
        key: CacheKey = ("r", stored.info.id, tag)
        data = self.cache.get(key)
        if data is not None:
            return data
        path = self.files.thumb_path(stored.info.id, tag)
        if not path.exists():
            return None
        try:
            data = read_encrypted(path, self.key)
        except PageCorrupt:
            logger.warning("discarding damaged rendition %s", path.name)
            path.unlink(missing_ok=True)
            return None
        self.cache.put(key, data)
        return data

    def _keep(self, stored: StoredPage, tag: str, data: bytes) -> None:
        """Keep a rendition in RAM and, encrypted, on disk (best effort)."""
        self._keep_tagged(stored.info.id, tag, data)

    def _keep_tagged(self, page_id: str, tag: str, data: bytes, *, in_ram: bool = True) -> None:
        path = self.files.thumb_path(page_id, tag)
        try:
            write_encrypted(path, self.key, data, fsync=False)
        except OSError:
            logger.warning("could not cache rendition %s", path.name, exc_info=True)
        if in_ram:
            self.cache.put(("r", page_id, tag), data)

    def _corrupt(self, stored: StoredPage, exc: Exception) -> PageCorrupt:
        info = stored.info
        return PageCorrupt(f"page {info.id} could not be decoded: {exc}", page_id=info.id)

    def _new_preview(self, stored: StoredPage,
                     data: bytes | None) -> tuple[Image.Image, bytes] | None:
        """Decode the page at preview scale and keep the preview; return its pixels and its
        JPEG, or None for pages too small to need one."""
        original = data if data is not None else self.original(stored, False)
        try:
            image = rendering.decode_preview(original, stored.info.format)
        except ImageDecodeError as exc:
            raise self._corrupt(stored, exc) from exc
        if image is None:
            return None
        jpeg = rendering.preview_jpeg(image)
        self._keep(stored, tag_for(stored.sha256, PREVIEW_PARAMS), jpeg)
        return image, jpeg

    def preview(self, stored: StoredPage, data: bytes | None = None) -> bytes | None:
        """The page's preview JPEG, made (from ``data``, else the original) and kept if it
        does not exist yet; None for pages too small to need one. PageCorrupt if the page
        does not decode. The store may call it when a page is added."""
        if rendering.preview_size(stored.info.width, stored.info.height) is None:
            return None
        kept = self._lookup(stored, tag_for(stored.sha256, PREVIEW_PARAMS))
        if kept is not None:
            return kept
        made = self._new_preview(stored, data)
        if made is None:
            return None
        made[0].close()
        return made[1]

    def keep_preview(self, page_id: str, sha256: str, jpeg: bytes) -> None:
        """Keep ``jpeg`` (``codecs.render.preview_of_image`` of the content ``sha256``) as the
        preview of page ``page_id``, made by whoever had the page's pixels. On disk only: a
        long import must not fill the RAM cache with previews nobody has asked for yet."""
        self._keep_tagged(page_id, tag_for(sha256, PREVIEW_PARAMS), jpeg, in_ram=False)

    def adopt_preview(self, page_id: str, sha256: str, encrypted: Path) -> None:
        """Take over an encrypted preview file (written with this store's key by the scan
        worker, from the pixels it had) as the preview of page ``page_id`` with content
        ``sha256``. Checked when first read, like every kept rendition: a file that does not
        decrypt is discarded and the preview made again."""
        os.replace(encrypted, self.files.thumb_path(page_id, tag_for(sha256, PREVIEW_PARAMS)))

    def _make(
        self, stored: StoredPage, size: tuple[int, int], fmt: ImageFormat, quality: int
    ) -> bytes:
        info = stored.info
        dpi = info.dpi * size[0] / info.width
        limit = rendering.preview_size(info.width, info.height)
        try:
            if limit is not None and size[0] <= limit[0] and size[1] <= limit[1]:
                kept = self._lookup(stored, tag_for(stored.sha256, PREVIEW_PARAMS))
                if kept is not None:
                    return rendering.render(kept, "jpeg", size, fmt, dpi=dpi, quality=quality)
                # First view: the preview's pixels are in hand, no need to decode its JPEG.
                made = self._new_preview(stored, None)
                if made is not None:
                    with made[0] as image:
                        return rendering.render_image(image, size, fmt, dpi=dpi,
                                                      quality=quality)
            return rendering.render(self.original(stored, False), info.format, size, fmt,
                                    dpi=dpi, quality=quality)
        except ImageDecodeError as exc:
            raise self._corrupt(stored, exc) from exc
