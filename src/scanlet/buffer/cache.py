"""A thread-safe LRU cache of byte strings bounded by total size, not by entry count.

The buffer keeps decrypted page originals and renditions here so a viewer scrolling back and
forth does not decrypt and decode the same page again; the bound (``ram_cache_bytes``) is what
keeps RAM flat however many pages the buffer holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class ByteLRU(Generic[K]):
    """Least-recently-used cache holding at most ``max_bytes`` of values.

    A value larger than the whole budget is never cached. ``max_bytes = 0`` disables caching.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self._items: OrderedDict[K, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def size(self) -> int:
        """Bytes currently held."""
        return self._size

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: K) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: K) -> bytes | None:
        """The value for ``key`` (and mark it recently used), or None."""
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: K, value: bytes) -> None:
        """Insert or replace ``key``, evicting the least recently used entries to fit."""
        if len(value) > self.max_bytes:
            self.discard(key)
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._size -= len(evicted)

    def discard(self, key: K) -> None:
        """Forget ``key`` if present."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)

    def discard_if(self, predicate: Callable[[K], bool]) -> int:
        """Forget every key for which ``predicate`` is true; returns how many."""
        with self._lock:
            doomed = [key for key in self._items if predicate(key)]
            for key in doomed:
                self._size -= len(self._items.pop(key))
            return len(doomed)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self._size = 0
