"""The pure move/reorder logic, exhaustively on small lists."""

from __future__ import annotations

import itertools

import pytest

from scanlet.buffer import ordering
from scanlet.errors import InvalidSetting

ORDER = ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_moved_invariants(size: int) -> None:
    for selection in itertools.permutations(ORDER, size):
        for to_index in range(len(ORDER) - size + 1):
            result = ordering.moved(ORDER, list(selection), to_index)
            assert sorted(result) == ORDER
            picked = [p for p in ORDER if p in selection]
            assert result[to_index : to_index + size] == picked
            assert [p for p in result if p not in selection] == [
                p for p in ORDER if p not in selection]


def test_moved_range() -> None:
    with pytest.raises(InvalidSetting):
        ordering.moved(ORDER, ["a", "b"], 4)
    with pytest.raises(InvalidSetting):
        ordering.moved(ORDER, ["a"], True)


def test_checks() -> None:
    ordering.check_permutation(ORDER, list(reversed(ORDER)))
    with pytest.raises(InvalidSetting):
        ordering.check_permutation(ORDER, [*ORDER[:-1], "a"])
    with pytest.raises(InvalidSetting):
        ordering.check_selection([])
    with pytest.raises(InvalidSetting):
        ordering.check_selection(["a", "a"])
