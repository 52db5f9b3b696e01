"""Document separation: cut a stack of pages into documents on separator pages.

A separator page is one with a matching barcode (exact value, regular expression, or any
barcode, optionally of given formats), a patch code of the chosen kinds, or a blank page.

The work is split in two so the decision is pure and easy to test:

1. :func:`page_facts` looks at one page image and records only what the rule needs (its
   barcodes, its patch codes, or whether it is blank) as a :class:`PageFacts`. Blank detection
   belongs to ``scanlet.imaging.blank``; it is passed in as a predicate, never imported here.
2. :func:`split_documents` takes the facts of every page and returns the documents as lists of
   page indexes.

Rules of the split: pages before the first separator form the first document; a separator
starts a new document; documents are never empty. Kept separators (``keep_separators``) are
the first page of the document they introduce, so two separators in a row then give a
one-page document, and with separators dropped they give nothing extra.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scanlet.barcodes.patch import PatchCode, PatchKind, find_patches, parse_kind
from scanlet.barcodes.read import Barcode, expand_formats, read_barcodes, validate_formats
from scanlet.errors import InvalidSetting

logger = logging.getLogger(__name__)

BlankPredicate = Callable[[Image.Image], bool]


class SeparationRule(BaseModel):
    """Which pages separate documents, and whether they stay in the output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["barcode", "patch", "blank"]
    value: str | None = Field(
        None, description="barcode: the exact text of a separator barcode")
    pattern: str | None = Field(
        None, description="barcode: a regular expression searched in the barcode text "
        "(anchor it with ^...$ to match the whole text)")
    formats: list[str] | None = Field(
        None, description="barcode: only barcodes of these zxing-cpp formats count")
    patches: list[PatchKind] = Field(
        default_factory=lambda: list(PatchKind),
        description="patch: the patch codes that separate (default: any of them)")
    keep_separators: bool = Field(
        False, description="Keep separator pages, as the first page of the next document")

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: list[str] | None) -> list[str] | None:
        try:
            return validate_formats(value)
        except InvalidSetting as error:
            raise ValueError(error.message) from None

    @field_validator("patches", mode="before")
    @classmethod
    def _patch_names(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            try:
                return [parse_kind(item) for item in value]
            except InvalidSetting as error:
                raise ValueError(error.message) from None
        return value

    @field_validator("pattern")
    @classmethod
    def _valid_pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"Invalid regular expression {value!r}: {error}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SeparationRule:
        if self.kind != "barcode" and (self.value is not None or self.pattern is not None
                                       or self.formats is not None):
            raise ValueError("value, pattern and formats apply only to kind 'barcode'")
        if self.value is not None and self.pattern is not None:
            raise ValueError("Give either value or pattern, not both")
        if self.kind == "patch" and not self.patches:
            raise ValueError("patches is empty: name at least one patch code")
        return self


class PageFacts(BaseModel):
    """What was found on one page, as far as separation cares."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    barcodes: list[Barcode] = Field(default_factory=list)
    patches: list[PatchCode] = Field(default_factory=list)
    blank: bool | None = Field(None, description="None: not checked")


def page_facts(image: Image.Image, rule: SeparationRule, *,
               is_blank: BlankPredicate | None = None,
               dpi: float | None = None) -> PageFacts:
    """The facts ``rule`` needs about one page, and nothing more (each detector costs time).

    ``is_blank`` is required for a blank rule (``scanlet.imaging.blank`` provides one);
    ``dpi`` helps patch detection when the image does not carry its resolution.
    """
    if rule.kind == "barcode":
        return PageFacts(barcodes=read_barcodes(image, formats=rule.formats))
    if rule.kind == "patch":
        return PageFacts(patches=find_patches(image, dpi=dpi))
    if is_blank is None:
        raise InvalidSetting("A blank-page separator needs a blank-page test", field="kind")
    return PageFacts(blank=bool(is_blank(image)))


class _Matcher:
    """A rule compiled once for a whole stack."""

    def __init__(self, rule: SeparationRule) -> None:
        self.rule = rule
        self.regex = re.compile(rule.pattern) if rule.pattern is not None else None
        self.formats = expand_formats(tuple(rule.formats)) if rule.formats else None
        self.patches = frozenset(rule.patches)

    def barcode(self, barcode: Barcode) -> bool:
        if self.formats is not None and barcode.format not in self.formats:
            return False
        if self.rule.value is not None:
            return barcode.text == self.rule.value
        if self.regex is not None:
            return self.regex.search(barcode.text) is not None
        return True

    def __call__(self, index: int, facts: PageFacts) -> bool:
        kind = self.rule.kind
        if kind == "barcode":
            return any(self.barcode(b) for b in facts.barcodes)
        if kind == "patch":
            return any(p.kind in self.patches for p in facts.patches)
        if facts.blank is None:
            raise ValueError(f"Page {index} was not checked for blankness; compute its facts "
                             "with page_facts(..., is_blank=...)")
        return facts.blank


def is_separator(facts: PageFacts, rule: SeparationRule) -> bool:
    """Whether a page with these facts is a separator under ``rule``."""
    return _Matcher(rule)(0, facts)


def split_documents(pages: Sequence[PageFacts], rule: SeparationRule) -> list[list[int]]:
    """The documents in a stack, each a list of page indexes into ``pages``.

    Separators start a new document; they are dropped unless ``rule.keep_separators``, in
    which case each one is the first page of the document it starts. No document is empty.
    """
    matcher = _Matcher(rule)
    documents: list[list[int]] = []
    current: list[int] = []
    for index, facts in enumerate(pages):
        if matcher(index, facts):
            if current:
                documents.append(current)
            current = [index] if rule.keep_separators else []
        else:
            current.append(index)
    if current:
        documents.append(current)
    logger.debug("split %d page(s) into %d document(s)", len(pages), len(documents))
    return documents
