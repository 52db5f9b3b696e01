"""What a scan does with each stored page when the job asks for it: drop blank pages,
straighten them, read their barcodes. Runs in a worker thread, one page at a time, right after
the page is stored, so the scanner keeps feeding while the service works."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from scanlet.barcodes.read import read_barcodes, validate_formats
from scanlet.buffer.store import PageStore
from scanlet.codecs.decode import decoded
from scanlet.imaging.blank import check_page
from scanlet.imaging.edits import apply_edits
from scanlet.models import PageInfo, PageProcessing

log = logging.getLogger(__name__)

#: A deskew smaller than this (degrees) is left alone: not worth a re-encode.
MIN_SKEW = 0.05


@dataclass
class Outcome:
    """The page after processing (None when dropped) and what was found."""

    page: PageInfo | None
    found: dict[str, Any] = field(default_factory=dict)


def check(options: PageProcessing) -> None:
    """Refuse bad options before the scan starts (InvalidSetting)."""
    if options.barcodes:
        validate_formats(options.barcode_formats)


def process(store: PageStore, page: PageInfo, options: PageProcessing) -> Outcome:
    """Apply ``options`` to a freshly stored page."""
    found: dict[str, Any] = {}
    if options.drop_blank:
        result = check_page(store.read_original(page.id, cache=False), page.format, page.dpi,
                            sensitivity=options.blank_sensitivity)
        found["blank_score"] = round(result.score, 4)
        if result.blank:
            store.delete_pages([page.id])
            log.info("dropped blank page %s (score %.4f)", page.id, result.score)
            return Outcome(None, {**found, "dropped": "blank"})
    if options.deskew:
        edited = apply_edits(store.read_original(page.id, cache=False), page.format, page.dpi,
                             [{"op": "deskew"}])
        step = _deskew_step(edited.report)
        found["skew_angle"] = step.get("angle")
        if step.get("corrected") and abs(float(step.get("angle") or 0)) >= MIN_SKEW:
            page = store.replace_image(page.id, edited.data, edited.fmt, dpi=edited.dpi)
    if options.barcodes:
        with decoded(store.read_original(page.id, cache=False), page.format) as image:
            codes = read_barcodes(image, formats=options.barcode_formats)
        found["barcodes"] = [c.model_dump(mode="json") for c in codes]
        page = store.update_page(page.id, metadata={**page.metadata,
                                                    "barcodes": found["barcodes"]})
    return Outcome(page, found)


def _deskew_step(report: dict[str, Any]) -> dict[str, Any]:
    for step in report.get("steps", []):
        if isinstance(step, dict) and "angle" in step:
            return step
    return {}
