"""Generated test pages for the imaging tests: text in a known font, and the defects real scans
carry (sensor noise, dust, hairs, punch holes, edge shadows, show-through).

Everything is seeded, so a page is the same on every run. Sizes are pixels at ``dpi``
(default A4 at 300 dpi, 2480 x 3508); the pages are then put through the real SANE ``pnm``
backend by the fixtures (tests/scan_pnm.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

A4_MM = (210.0, 297.0)
FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
WORDS = (
    "scanner", "page", "document", "invoice", "total", "amount", "customer", "address",
    "service", "please", "payment", "date", "number", "account", "reference", "order",
    "delivery", "signature", "contract", "terms", "the", "of", "and", "to", "in", "is", "for",
    "with", "on", "as", "by", "at", "from", "this", "that", "be", "are", "was",
)

FloatArray = npt.NDArray[np.float32]


def a4_size(dpi: float = 300) -> tuple[int, int]:
    return round(A4_MM[0] / 25.4 * dpi), round(A4_MM[1] / 25.4 * dpi)


@lru_cache(maxsize=16)
def font(size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans at ``size_px`` pixels (Pillow's built-in font if DejaVu is missing)."""
    if FONT_PATH.exists():
        return ImageFont.truetype(str(FONT_PATH), size_px)
    return ImageFont.load_default(size=size_px)


def sentence(rng: np.random.Generator, chars: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(str(rng.choice(WORDS)))
    return " ".join(words).capitalize() + "."


def text_page(*, lines: int = 40, font_px: int = 42, seed: int = 0, dpi: float = 300,
              top: int = 300, left: int = 250, ink: int = 0) -> Image.Image:
    """A white page full of text lines (a letter or a report page), grey mode."""
    rng = np.random.default_rng(seed)
    page = Image.new("L", a4_size(dpi), 255)
    draw = ImageDraw.Draw(page)
    step = round(font_px * 1.6)
    for i in range(lines):
        y = top + i * step
        if y + step > page.height - top:
            break
        draw.text((left, y), sentence(rng, int(rng.integers(55, 75))), font=font(font_px),
                  fill=ink)
    return page


def paper(rng: np.random.Generator, size: tuple[int, int]) -> FloatArray:
    """Paper tone with a slight lighting gradient (float grey levels)."""
    w, h = size
    tone = rng.uniform(228, 250)
    gy = np.linspace(tone, tone + rng.uniform(-6, 6), h, dtype=np.float32)[:, None]
    gx = np.linspace(0, rng.uniform(-6, 6), w, dtype=np.float32)[None, :]
    result: FloatArray = gy + gx
    return result


def add_dust(arr: FloatArray, rng: np.random.Generator, count: int, dpi: float) -> None:
    """Small dark specks (0.1-0.45 mm across) and up to two hairs (2-10 mm long)."""
    h, w = arr.shape
    px = dpi / 25.4
    reach = int(np.ceil(0.25 * px)) + 1
    yy, xx = np.ogrid[-reach:reach + 1, -reach:reach + 1]
    for _ in range(count):
        r = rng.uniform(0.05, 0.22) * px
        y, x = int(rng.integers(reach, h - reach)), int(rng.integers(reach, w - reach))
        disk = (yy**2 + xx**2) <= max(r * r, 0.25)
        patch = arr[y - reach:y + reach + 1, x - reach:x + reach + 1]
        patch[disk] = np.minimum(patch[disk], rng.uniform(30, 200))
    for _ in range(int(rng.integers(0, 3))):
        length = int(rng.uniform(2, 10) * px)
        y, x = int(rng.integers(h // 8, h - h // 8)), int(rng.integers(w // 8, w - w // 8))
        angle = rng.uniform(0, np.pi)
        t = np.arange(length)
        ys = (y + t * np.sin(angle) + 0.5 * px * np.sin(t / (1.3 * px))).astype(int)
        xs = (x + t * np.cos(angle)).astype(int)
        arr[ys, xs] = np.minimum(arr[ys, xs], rng.uniform(60, 160))


def add_punch_holes(arr: FloatArray, rng: np.random.Generator, dpi: float) -> None:
    """Two or four 6 mm holes 12 mm from the left edge (or two from the top edge): dark
    (black backing) or a grey rim (white backing)."""
    h, w = arr.shape
    px = dpi / 25.4
    radius = 3.0 * px
    on_top = rng.random() < 0.25
    four = not on_top and rng.random() < 0.4
    offsets_mm = (-120.0, -40.0, 40.0, 120.0) if four else (-40.0, 40.0)
    dark = rng.random() < 0.6
    for off in offsets_mm:
        if on_top:
            cx, cy = w / 2 + off * px, 12.0 * px
        else:
            cx, cy = 12.0 * px, h / 2 + off * px
        x0, x1 = int(cx - radius - 4), int(cx + radius + 5)
        y0, y1 = int(cy - radius - 4), int(cy + radius + 5)
        ys, xs = np.mgrid[y0:y1, x0:x1]
        dist = np.hypot(ys - cy, xs - cx)
        region = arr[y0:y1, x0:x1]
        if dark:
            level = rng.uniform(15, 70)
            inside = np.clip(radius + 0.5 - dist, 0, 1)
            region[:] = region * (1 - inside) + level * inside
        else:
            rim = np.clip(1.0 - np.abs(dist - radius) / 2.5, 0, 1)
            region[:] = region - rim * rng.uniform(50, 110)


def add_edge_shadow(arr: FloatArray, rng: np.random.Generator, dpi: float) -> None:
    """A faint shadow band along one or two edges (3-15 mm, 30-110 levels at the edge)."""
    h, w = arr.shape
    px = dpi / 25.4
    for side in rng.choice(4, size=int(rng.integers(1, 3)), replace=False):
        width = rng.uniform(3, 15) * px
        depth = rng.uniform(30, 110)
        n = h if side in (0, 1) else w
        ramp = depth * np.exp(-np.arange(int(width)) / (width / 3.0))
        ramp = np.pad(ramp, (0, max(0, n - len(ramp))))[: max(len(ramp), 1)]
        k = len(ramp)
        if side == 0:
            arr[:, :k] -= ramp[None, :]
        elif side == 1:
            arr[:, w - k:] -= ramp[None, ::-1]
        elif side == 2:
            arr[:k, :] -= ramp[:, None]
        else:
            arr[h - k:, :] -= ramp[::-1, None]


def add_show_through(arr: FloatArray, rng: np.random.Generator, dpi: float) -> None:
    """Mirrored, blurred text from the back of the sheet, 6-18 levels darker than the paper."""
    h, w = arr.shape
    back = text_page(lines=30, seed=int(rng.integers(1 << 30)), dpi=dpi / 3,
                     font_px=round(14 * dpi / 300), top=100, left=83)
    mirrored = back.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((w, h),
                                                                      Image.Resampling.BILINEAR)
    darkness = (255.0 - np.asarray(mirrored, dtype=np.float32)) / 255.0
    arr -= darkness * np.float32(rng.uniform(6, 18))


def finish(arr: FloatArray, rng: np.random.Generator, sigma: float) -> Image.Image:
    """Sensor noise (a 509 px square of Gaussian noise tiled over the page: cheap, and no
    analysis here looks for its period), clipped to 8-bit grey."""
    h, w = arr.shape
    tile = rng.standard_normal((509, 509), dtype=np.float32) * np.float32(sigma)
    reps = (-(-h // 509), -(-w // 509))
    arr += np.tile(tile, reps)[:h, :w]
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))


def near_blank_page(seed: int, dpi: float = 300) -> Image.Image:
    """A blank sheet as scanners deliver it: noise, dust, maybe holes, shadow, show-through."""
    rng = np.random.default_rng(1000 + seed)
    arr = paper(rng, a4_size(dpi))
    add_dust(arr, rng, int(rng.integers(10, 80)), dpi)
    if rng.random() < 0.6:
        add_punch_holes(arr, rng, dpi)
    if rng.random() < 0.7:
        add_edge_shadow(arr, rng, dpi)
    if rng.random() < 0.4:
        add_show_through(arr, rng, dpi)
    return finish(arr, rng, rng.uniform(1.5, 7.0))


def sparse_text_page(seed: int, dpi: float = 300) -> Image.Image:
    """A sheet with only a few lines of text (2-5), plus the same defects as a blank one."""
    rng = np.random.default_rng(2000 + seed)
    size = a4_size(dpi)
    arr = paper(rng, size)
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    px = dpi / 300
    font_px = round(int(rng.integers(36, 50)) * px)
    level = rng.uniform(0, 90)  # black to dark-grey print
    y = int(rng.integers(round(300 * px), size[1] // 2))
    for _ in range(int(rng.integers(2, 6))):
        x = int(rng.integers(round(250 * px), round(420 * px)))
        draw.text((x, y), sentence(rng, int(rng.integers(25, 70))), font=font(font_px),
                  fill=255)
        y += round(font_px * rng.uniform(1.4, 2.2))
    coverage = np.asarray(mask, dtype=np.float32) / np.float32(255.0)
    arr -= coverage * (arr - np.float32(level))
    add_dust(arr, rng, int(rng.integers(10, 80)), dpi)
    if rng.random() < 0.6:
        add_punch_holes(arr, rng, dpi)
    if rng.random() < 0.7:
        add_edge_shadow(arr, rng, dpi)
    return finish(arr, rng, rng.uniform(1.5, 7.0))


def skewed(image: Image.Image, angle: float) -> Image.Image:
    """``image`` rotated counter-clockwise by ``angle`` degrees (same size, white corners),
    as a sheet put slightly askew on the glass."""
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
