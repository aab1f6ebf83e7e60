"""Token buckets per (site, kind of request), in this replica's memory.

Each replica counts on its own: the limit a site meets is the configured one times the number of
replicas (docs/decisions/0014). That is enough to contain a misbehaving client (a loop, a script) without
a shared counter on the request path.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_BUCKETS = 50_000  # beyond, full buckets (idle sites) are forgotten: they would start full anyway


@dataclass(frozen=True)
class Rate:
    per_minute: float
    burst: int

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


class RateLimiter:
    def __init__(self, rates: dict[str, Rate], clock: Callable[[], float] = time.monotonic) -> None:
        self._rates = rates
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, site: str, kind: str) -> float:
        """0 when the request may go on (a token was taken), else the seconds before one is available."""
        rate = self._rates.get(kind)
        if rate is None or rate.per_minute <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get((site, kind), (float(rate.burst), now))
            tokens = min(float(rate.burst), tokens + (now - at) * rate.per_second)
            if tokens >= 1.0:
                self._buckets[(site, kind)] = (tokens - 1.0, now)
                self._forget_idle(now)
                return 0.0
            self._buckets[(site, kind)] = (tokens, now)
            return (1.0 - tokens) / rate.per_second

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) <= MAX_BUCKETS:
            return
        for (site, kind), (tokens, at) in list(self._buckets.items()):
            rate = self._rates[kind]
            if tokens + (now - at) * rate.per_second >= rate.burst:
                del self._buckets[(site, kind)]


def retry_after(seconds: float) -> int:
    """Whole seconds for the Retry-After header, at least 1."""
    return max(1, math.ceil(seconds))
