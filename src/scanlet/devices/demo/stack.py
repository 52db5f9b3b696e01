"""The sheets the demo device holds, by name, and the order the feeder is loaded in.

The flatbed holds the first sheet of the stack (the letter by default); the feeder holds the
whole stack; the duplex feeder reads each sheet's front then back (blank for single-sided
sheets, as a real duplex scan of them is). The ``stack`` demo option loads other sheets.
"""

from __future__ import annotations

from scanlet.devices.demo.form import form
from scanlet.devices.demo.invoice import invoice
from scanlet.devices.demo.letters import agreement_back, agreement_front, letter, memo
from scanlet.devices.demo.photo import photo
from scanlet.devices.demo.separators import blank, patch_t
from scanlet.devices.demo.sheets import Sheet, Side

#: Angle the skewed memo is printed at (degrees, counter-clockwise).
SKEW_DEG = 3.0

SHEETS: dict[str, Sheet] = {sheet.name: sheet for sheet in (
    Sheet("letter", "a business letter", Side(letter)),
    Sheet("invoice", "an invoice with a QR code and a Code 128 barcode", Side(invoice)),
    Sheet("patch-t", "a Patch T document separator sheet", Side(patch_t)),
    Sheet("form", "an application form with boxes and tick boxes", Side(form)),
    Sheet("skewed", "a memo printed at an angle", Side(memo, skew_deg=SKEW_DEG)),
    Sheet("blank", "a blank separator sheet", Side(blank)),
    Sheet("two-sided", "an agreement printed on both sides", Side(agreement_front),
          Side(agreement_back)),
    Sheet("photo", "a colour photo", Side(photo)),
)}

#: The feeder's stack, top sheet first.
DEFAULT_STACK: tuple[str, ...] = tuple(SHEETS)
