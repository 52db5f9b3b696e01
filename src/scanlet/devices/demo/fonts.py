"""The typefaces the demo documents are printed in.

DejaVu (Debian's ``fonts-dejavu-core``, installed by scripts/install) when it is there, else
Pillow's built-in scalable font (``ImageFont.load_default(size=...)``, Pillow >= 10.1), so the
demo works on any system; the pages then look plainer but keep their layout. Fonts are cached
per face and pixel size because a page draws hundreds of strings in a few sizes.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Literal

from PIL import ImageFont

log = logging.getLogger(__name__)

Face = Literal["serif", "serif-bold", "sans", "sans-bold", "mono"]

#: File names of each face; looked up in the usual font folders of Linux, macOS and Windows.
_FILES: dict[Face, tuple[str, ...]] = {
    "serif": ("DejaVuSerif.ttf",),
    "serif-bold": ("DejaVuSerif-Bold.ttf",),
    "sans": ("DejaVuSans.ttf",),
    "sans-bold": ("DejaVuSans-Bold.ttf",),
    "mono": ("DejaVuSansMono.ttf",),
}
_FOLDERS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
    Path.home() / "Library" / "Fonts",
    Path("C:/Windows/Fonts"),
)

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.cache
def font_file(face: Face) -> Path | None:
    """The TrueType file of ``face`` on this system, or None."""
    for folder in _FOLDERS:
        for name in _FILES[face]:
            path = folder / name
            if path.is_file():
                return path
    return None


@functools.lru_cache(maxsize=64)
def font(face: Face, size_px: int) -> FontType:
    """``face`` at ``size_px`` pixels (em size), falling back to Pillow's own font."""
    size_px = max(4, size_px)
    path = font_file(face)
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size_px)
        except OSError as exc:
            log.warning("cannot load %s (%s); using Pillow's default font", path, exc)
    return ImageFont.load_default(size=size_px)
