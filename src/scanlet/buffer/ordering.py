"""Pure list logic behind moving and reordering pages (no I/O, easy to test exhaustively)."""

from __future__ import annotations

from collections.abc import Sequence

from scanlet.errors import InvalidSetting


def check_selection(page_ids: Sequence[str]) -> None:
    """A selection must be non-empty and name each page once."""
    if not page_ids:
        raise InvalidSetting("select at least one page", field="page_ids")
    if len(set(page_ids)) != len(page_ids):
        raise InvalidSetting("page_ids lists a page twice", field="page_ids")


def moved(order: Sequence[str], selection: Sequence[str], to_index: int) -> list[str]:
    """``order`` with the pages of ``selection`` moved so the first lands at ``to_index``.

    The selection keeps its relative order *in the document* (not the order it was given in);
    ``to_index`` counts positions in the result and must be 0..len(order) - len(selection).
    Every id of ``selection`` must be in ``order``.
    """
    if isinstance(to_index, bool) or not isinstance(to_index, int):
        raise InvalidSetting("to_index must be an integer", field="to_index")
    chosen = set(selection)
    picked = [p for p in order if p in chosen]
    rest = [p for p in order if p not in chosen]
    if not 0 <= to_index <= len(rest):
        raise InvalidSetting(
            f"to_index must be 0-{len(rest)} when moving {len(picked)} of {len(order)} pages",
            field="to_index", allowed=[0, len(rest)],
        )
    return rest[:to_index] + picked + rest[to_index:]


def check_permutation(order: Sequence[str], page_ids: Sequence[str]) -> None:
    """``page_ids`` must list every page of ``order`` exactly once."""
    if len(page_ids) != len(order) or set(page_ids) != set(order):
        raise InvalidSetting(
            "page_ids must list every page of the document exactly once", field="page_ids"
        )
