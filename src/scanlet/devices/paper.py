"""Standard paper sizes, in millimetres, and the question "does this size fit that bed?".

One table for the whole device layer, so capabilities (which sizes fit), validation (is the
asked size known and does it fit) and the drivers (which area to scan) agree on the numbers.
"""

from __future__ import annotations

#: Portrait width x height in mm. ISO sizes are exact; US sizes are converted from inches.
PAPER_SIZES: dict[str, tuple[float, float]] = {
    "A3": (297.0, 420.0),
    "A4": (210.0, 297.0),
    "A5": (148.0, 210.0),
    "A6": (105.0, 148.0),
    "B4": (250.0, 353.0),
    "B5": (176.0, 250.0),
    "Letter": (215.9, 279.4),
    "Legal": (215.9, 355.6),
    "Executive": (184.15, 266.7),
    "Tabloid": (279.4, 431.8),
}

#: Scanner beds are often specified as 215.9 mm or 216 mm, and drivers round ranges to whole
#: millimetres; a size that misses by less than this still fits (the scan area is clamped).
FIT_TOLERANCE_MM = 1.0


def paper_size(name: str) -> tuple[float, float] | None:
    """Width and height of a named size (case-insensitive), or None if unknown."""
    wanted = name.strip().lower()
    for known, size in PAPER_SIZES.items():
        if known.lower() == wanted:
            return size
    return None


def canonical_name(name: str) -> str | None:
    """The table's spelling of a size name (``"a4"`` -> ``"A4"``), or None if unknown."""
    wanted = name.strip().lower()
    return next((known for known in PAPER_SIZES if known.lower() == wanted), None)


def fits(width: float, height: float, max_width: float, max_height: float) -> bool:
    """Whether a ``width`` x ``height`` rectangle fits a bed of ``max_width`` x ``max_height``."""
    return (width <= max_width + FIT_TOLERANCE_MM
            and height <= max_height + FIT_TOLERANCE_MM)


def sizes_that_fit(max_width: float, max_height: float) -> list[str]:
    """Names of the standard sizes that fit, in table order (largest ISO first)."""
    return [name for name, (w, h) in PAPER_SIZES.items() if fits(w, h, max_width, max_height)]
