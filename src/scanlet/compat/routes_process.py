"""``/api/process/read-barcode`` and ``/api/process/check-blank`` of the compatibility API.

Both take ``{source, settings?}``: ``source`` is a page URL of this service (see
``compat/sources.py``; never fetched), and the page is read from the buffer.

``read-barcode`` needs a key (the reference's product key, here a Scanlet API key: 403, code
-2800 without one) and reads with zxing-cpp (``scanlet.barcodes.read``), answering a list in
the style of the reference's barcode reader (DBR 9): ``barcodeText``, ``barcodeFormat`` (the
DBR ``EnumBarcodeFormat`` bit of the symbol where there is one, else 0),
``barcodeFormatString`` (that enum's name without ``BF_``, else zxing-cpp's own name),
``barcodeBytes`` (a list of ints) and ``localizationResult`` (the corners ``x1,y1`` ...
``x4,y4`` in page pixels, clockwise from the symbol's own top-left, ``angle`` in degrees,
``resultPoints``, ``pageNumber`` 0, ``confidence`` 100: zxing-cpp reports no confidence and
returns only symbols that decoded with a valid checksum). ``settings``:

- a named template: ``coverage``/``BestCoverage`` and ``balance``/``Balance`` (the default)
  read with every zxing-cpp search (rotated, inverted, downscaled); ``speed``/``BestSpeed``
  reads upright dark-on-light symbols of normal size only (faster);
- a template in JSON (a string, or an object): ``ImageParameter.BarcodeFormatIds`` (and
  ``ImageParameterContentArray[0]`` of older templates) restricts the formats where the
  ``BF_*`` names map to zxing-cpp formats; a template ``Name`` of BestSpeed reads fast as
  above; everything else in the template is accepted and ignored.

``check-blank`` answers ``{"result": bool}`` with Scanlet's blank rule
(``scanlet.imaging.blank``, as ``GET /v1/pages/{id}/blank``) at its default sensitivity: a
page of one even colour, black included, is blank. ``settings.minBlockHeight`` and
``maxBlockHeight`` are checked to be numbers and otherwise ignored: Scanlet's rule measures
content area, with dust and specks below 1 mm and punch holes left out, instead of block
heights.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from scanlet.barcodes.read import Barcode, barcode_formats, read_barcodes
from scanlet.codecs.decode import decoded
from scanlet.compat.auth import require_key
from scanlet.compat.bodies import json_body
from scanlet.compat.passwords import DocumentPasswords, for_request
from scanlet.compat.sources import source_page
from scanlet.core.deps import runtime
from scanlet.core.runtime import Runtime
from scanlet.errors import InvalidSetting
from scanlet.imaging.blank import check_page
from scanlet.security.policy import Principal

log = logging.getLogger(__name__)
# The reference documents this API; it stays out of Scanlet's own OpenAPI schema.
#: Mounted under /api (compat/app.py).
router = APIRouter(prefix="/process", include_in_schema=False)
Rt = Annotated[Runtime, Depends(runtime)]
Passwords = Annotated[DocumentPasswords, Depends(for_request)]
Keyed = Annotated[Principal, Depends(require_key)]

#: zxing-cpp format -> (DBR 9 EnumBarcodeFormat value, its name without ``BF_``).
DBR_FORMATS: dict[str, tuple[int, str]] = {
    "Code39": (0x1, "CODE_39"), "Code39Std": (0x1, "CODE_39"), "Code32": (0x1, "CODE_39"),
    "PZN": (0x1, "CODE_39"), "Code39Ext": (0x400, "CODE_39_EXTENDED"),
    "Code128": (0x2, "CODE_128"), "Code93": (0x4, "CODE_93"), "Codabar": (0x8, "CODABAR"),
    "ITF": (0x10, "ITF"), "ITF14": (0x10, "ITF"), "EAN13": (0x20, "EAN_13"),
    "ISBN": (0x20, "EAN_13"), "EAN8": (0x40, "EAN_8"), "UPCA": (0x80, "UPC_A"),
    "UPCE": (0x100, "UPC_E"),
    "DataBar": (0x800, "GS1_DATABAR_OMNIDIRECTIONAL"),
    "DataBarOmni": (0x800, "GS1_DATABAR_OMNIDIRECTIONAL"),
    "DataBarStk": (0x2000, "GS1_DATABAR_STACKED"),
    "DataBarStkOmni": (0x4000, "GS1_DATABAR_STACKED_OMNIDIRECTIONAL"),
    "DataBarExp": (0x8000, "GS1_DATABAR_EXPANDED"),
    "DataBarExpStk": (0x10000, "GS1_DATABAR_EXPANDED_STACKED"),
    "DataBarLtd": (0x20000, "GS1_DATABAR_LIMITED"),
    "MicroPDF417": (0x80000, "MICRO_PDF417"),
    "PDF417": (0x2000000, "PDF417"), "CompactPDF417": (0x2000000, "PDF417"),
    "QRCode": (0x4000000, "QR_CODE"), "QRCodeModel1": (0x4000000, "QR_CODE"),
    "QRCodeModel2": (0x4000000, "QR_CODE"), "DataMatrix": (0x8000000, "DATAMATRIX"),
    "Aztec": (0x10000000, "AZTEC"), "AztecCode": (0x10000000, "AZTEC"),
    "MaxiCode": (0x20000000, "MAXICODE"), "MicroQRCode": (0x40000000, "MICRO_QR"),
}
#: DBR ``BF_*`` format ids of a JSON template -> zxing-cpp format names (None: every format).
TEMPLATE_FORMATS: dict[str, str | None] = {
    "BF_ALL": None, "BF_ONED": "AllLinear", "BF_GS1_DATABAR": "DataBar",
    "BF_CODE_39": "Code39", "BF_CODE_39_EXTENDED": "Code39Ext", "BF_CODE_128": "Code128",
    "BF_CODE_93": "Code93", "BF_CODABAR": "Codabar", "BF_ITF": "ITF", "BF_EAN_13": "EAN13",
    "BF_EAN_8": "EAN8", "BF_UPC_A": "UPCA", "BF_UPC_E": "UPCE",
    "BF_GS1_DATABAR_OMNIDIRECTIONAL": "DataBarOmni", "BF_GS1_DATABAR_TRUNCATED": "DataBarOmni",
    "BF_GS1_DATABAR_STACKED": "DataBarStk",
    "BF_GS1_DATABAR_STACKED_OMNIDIRECTIONAL": "DataBarStkOmni",
    "BF_GS1_DATABAR_EXPANDED": "DataBarExp",
    "BF_GS1_DATABAR_EXPANDED_STACKED": "DataBarExpStk",
    "BF_GS1_DATABAR_LIMITED": "DataBarLtd", "BF_PDF417": "PDF417",
    "BF_MICRO_PDF417": "MicroPDF417", "BF_QR_CODE": "QRCode", "BF_MICRO_QR": "MicroQRCode",
    "BF_DATAMATRIX": "DataMatrix", "BF_AZTEC": "Aztec", "BF_MAXICODE": "MaxiCode",
}
THOROUGH = {"coverage", "bestcoverage", "balance"}
FAST = {"speed", "bestspeed"}


def _template_formats(ids: object) -> list[str] | None:
    """zxing-cpp formats for a template's ``BarcodeFormatIds`` (None: every format)."""
    if not isinstance(ids, list):
        return None
    known = set(barcode_formats())
    names: list[str] = []
    for item in ids:
        if not isinstance(item, str) or item.upper() not in TEMPLATE_FORMATS:
            continue  # a format zxing-cpp does not read (patch code, MSI, Code 11 ...)
        name = TEMPLATE_FORMATS[item.upper()]
        if name is None:
            return None
        if name in known:
            names.append(name)
    return list(dict.fromkeys(names)) or None


def barcode_settings(raw: object) -> tuple[list[str] | None, bool]:
    """``(formats, try_harder)`` for the reference's ``settings`` (see module doc)."""
    if raw is None or raw == "":
        return None, True
    template: object = raw
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in THOROUGH:
            return None, True
        if word in FAST:
            return None, False
        try:
            template = json.loads(raw)
        except ValueError:
            raise InvalidSetting("settings must be coverage, speed, balance (or BestCoverage, "
                                 "BestSpeed, Balance) or a JSON template",
                                 field="settings") from None
    if not isinstance(template, dict):
        raise InvalidSetting("a settings template must be a JSON object", field="settings")
    parameters: object = template.get("ImageParameter")
    if parameters is None:
        array = template.get("ImageParameterContentArray")
        parameters = array[0] if isinstance(array, list) and array else None
    if not isinstance(parameters, dict):
        return None, True
    name = str(parameters.get("Name", "")).strip().lower()
    return _template_formats(parameters.get("BarcodeFormatIds")), name not in FAST


def dbr_result(barcode: Barcode) -> dict[str, Any]:
    """One zxing-cpp result in the reference's (DBR 9) shape."""
    number, name = DBR_FORMATS.get(barcode.format, (0, barcode.format))
    corners: Sequence[Any] = barcode.position
    location: dict[str, Any] = {}
    for i, corner in enumerate(corners, start=1):
        location[f"x{i}"] = corner.x
        location[f"y{i}"] = corner.y
    location.update({
        "angle": barcode.orientation, "barcodeFormat": number, "barcodeFormatString": name,
        "confidence": 100, "pageNumber": 0,
        "resultPoints": [{"x": c.x, "y": c.y} for c in corners]})
    return {
        "barcodeText": barcode.text,
        "barcodeFormat": number,
        "barcodeFormatString": name,
        "barcodeBytes": list(barcode.raw),
        "localizationResult": location,
        "detailedResult": {},
        "results": [],
    }


def _settings_numbers(raw: object) -> None:
    """check-blank settings: an object whose block heights, when given, are numbers."""
    if raw is None or raw == "":
        return
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise InvalidSetting("settings must be a JSON object", field="settings") from None
    if not isinstance(raw, dict):
        raise InvalidSetting("settings must be a JSON object", field="settings")
    for name in ("minBlockHeight", "maxBlockHeight"):
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or value < 0):
            raise InvalidSetting(f"{name} must be a number of at least 0", field=name)


@router.post("/read-barcode", summary="Read the barcodes of a scanned page "
             "(reference-compatible)")
async def read_barcode(request: Request, rt: Rt, passwords: Passwords,
                       _key: Keyed) -> list[dict[str, Any]]:
    body = await json_body(request, required=True)
    formats, try_harder = barcode_settings(body.get("settings"))

    def run() -> list[dict[str, Any]]:
        page = source_page(request, rt, passwords, body.get("source"))
        with decoded(rt.store.read_original(page.id, cache=False), page.format) as image:
            found = read_barcodes(image, formats=formats, try_harder=try_harder)
        return [dbr_result(b) for b in found]

    return await asyncio.to_thread(run)


@router.post("/check-blank", summary="Is a scanned page blank? (reference-compatible)")
async def check_blank(request: Request, rt: Rt, passwords: Passwords) -> dict[str, bool]:
    body = await json_body(request, required=True)
    _settings_numbers(body.get("settings"))

    def run() -> dict[str, bool]:
        page = source_page(request, rt, passwords, body.get("source"))
        result = check_page(rt.store.read_original(page.id, cache=False), page.format,
                            page.dpi)
        return {"result": result.blank}

    return await asyncio.to_thread(run)
