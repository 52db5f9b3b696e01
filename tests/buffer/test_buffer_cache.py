"""The size-bounded LRU cache."""

from __future__ import annotations

import pytest

from scanlet.buffer.cache import ByteLRU


def test_evicts_least_recently_used() -> None:
    cache: ByteLRU[str] = ByteLRU(10)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    assert cache.get("a") == b"1234"  # a is now most recent
    cache.put("c", b"1234")
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.size == 8 and len(cache) == 2
    assert (cache.hits, cache.misses) == (1, 0)
    assert cache.get("b") is None and cache.misses == 1


def test_replace_and_oversized() -> None:
    cache: ByteLRU[str] = ByteLRU(10)
    cache.put("a", b"12345")
    cache.put("a", b"12")
    assert cache.size == 2
    cache.put("a", b"x" * 11)  # larger than the budget: not cached, old value dropped
    assert "a" not in cache and cache.size == 0


def test_discard_if_and_clear() -> None:
    cache: ByteLRU[tuple[str, str]] = ByteLRU(100)
    for kind in ("o", "r"):
        for page in ("p1", "p2"):
            cache.put((kind, page), b"xx")
    assert cache.discard_if(lambda key: key[1] == "p1") == 2
    assert cache.size == 4 and ("o", "p2") in cache
    cache.discard(("o", "p2"))
    cache.clear()
    assert cache.size == 0 and len(cache) == 0


def test_zero_disables_and_negative_refused() -> None:
    cache: ByteLRU[str] = ByteLRU(0)
    cache.put("a", b"x")
    assert cache.get("a") is None
    with pytest.raises(ValueError):
        ByteLRU(-1)
