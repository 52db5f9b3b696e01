"""What a demo sheet is: two sides, each a drawing in sheet millimetres, possibly printed at an
angle. The documents themselves live in their own modules; stack.py puts them in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from scanlet.devices.demo.canvas import Canvas

#: The demo sheets are A4 portrait, lying in the top-left corner of the bed / centred in the
#: feeder's guides (the demo device's bed is as wide as Letter, so both sizes can be chosen).
SHEET_MM = (210.0, 297.0)

Drawing = Callable[[Canvas], None]


def nothing(canvas: Canvas) -> None:
    """A blank side: white paper."""


@dataclass(frozen=True)
class Side:
    """One printed side: how to draw it and the angle (degrees, counter-clockwise as Pillow
    counts) the print is turned by on the paper."""

    draw: Drawing = nothing
    skew_deg: float = 0.0

    @property
    def blank(self) -> bool:
        return self.draw is nothing


@dataclass(frozen=True)
class Sheet:
    """A sheet of paper in the stack; single-sided sheets have a blank back."""

    name: str
    description: str
    front: Side
    back: Side = field(default_factory=Side)
