"""Per-key token buckets: a burst up to the per-minute rate, refilled continuously."""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """Allows ``per_minute`` events per key and minute; ``per_minute = 0`` means unlimited."""

    def __init__(self, per_minute: int, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """Spend one token for ``key``: 0.0 when allowed, else the seconds to wait."""
        if self.per_minute <= 0:
            return 0.0
        now = self._clock()
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.get(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._buckets.clear()  # bounded memory; a flood of keys only resets everyone
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0
