"""Splitting a stack of pages into documents on separator pages (barcode, patch code, blank
sheet), the one implementation behind ``POST /v1/documents/{id}/split`` and the CLI's
``--split-on`` (``scanlet scan`` in-process, ``scanlet convert``).

The decision itself is pure (:func:`scanlet.barcodes.separation.split_documents`); this module
reads each page's facts from the buffer for it, and, for the API, applies the result to the
buffer: new documents, separator pages dropped, the source document removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PIL import Image

from scanlet.barcodes.separation import SeparationRule, page_facts, split_documents
from scanlet.buffer.store import PageStore
from scanlet.codecs.decode import decoded
from scanlet.imaging.blank import is_blank
from scanlet.models import DocumentInfo, PageInfo

log = logging.getLogger(__name__)


def _blank_test(dpi: float) -> Callable[[Image.Image], bool]:
    def test(image: Image.Image) -> bool:
        return is_blank(image, dpi).blank
    return test


def group_pages(store: PageStore, pages: list[PageInfo],
                rule: SeparationRule | None) -> list[list[PageInfo]]:
    """``pages`` grouped into documents by ``rule``, separator pages left out unless the rule
    keeps them; one group of every page without a rule. Blocking (decodes every page)."""
    if rule is None:
        return [pages]
    facts = []
    for info in pages:
        with decoded(store.read_original(info.id, cache=False), info.format) as image:
            facts.append(page_facts(image, rule, dpi=info.dpi, is_blank=_blank_test(info.dpi)))
    return [[pages[i] for i in group] for group in split_documents(facts, rule)]


def split_document(store: PageStore, document_id: str, rule: SeparationRule, *,
                   name_prefix: str = "") -> list[DocumentInfo]:
    """Split a buffered document in place: one new document per group (named ``<prefix> 1``,
    ``<prefix> 2``... with the source's tags and metadata), the pages moved into them, the
    separator pages deleted and the source document removed. Returns the new documents.
    Blocking."""
    source = store.get_document(document_id)
    pages = store.list_pages(document_id)
    groups = group_pages(store, pages, rule)
    kept = {page.id for group in groups for page in group}
    prefix = name_prefix or source.name or "document"
    made = []
    for number, group in enumerate(groups, start=1):
        target = store.create_document(f"{prefix} {number}", tags=source.tags,
                                       metadata=source.metadata)
        store.transfer_pages([page.id for page in group], target.id)
        made.append(store.get_document(target.id))
    separators = [page.id for page in pages if page.id not in kept]
    if separators:
        store.delete_pages(separators)
    store.delete_document(document_id)
    log.debug("split document %s into %d document(s)", document_id, len(made))
    return made


__all__ = ["group_pages", "split_document"]
