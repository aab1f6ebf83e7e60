"""First-token times kept as counts in fixed buckets: percentiles of any group are then sums, not sorts.

41 buckets: upper bounds 0.05 s × 1.25^i (i = 0…39, up to about 300 s) and one beyond. A percentile is
interpolated inside its bucket, so it is known within 25 %: plenty to compare sites, and the page's
queries add 41 columns rather than sort 800,000 values (docs/decisions/0024).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

FIRST = 0.05
RATIO = 1.25
BOUNDS: tuple[float, ...] = tuple(FIRST * RATIO**i for i in range(40))
BUCKETS = len(BOUNDS) + 1
COLUMNS: tuple[str, ...] = tuple(f"ft_{i:02d}" for i in range(BUCKETS))


def bucket_of(seconds: float) -> int:
    return bisect.bisect_left(BOUNDS, seconds)


def quantile(counts: Sequence[int], q: float) -> float | None:
    """The q-quantile (0 < q < 1) of the counted values, in seconds; None when nothing was counted."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, n in enumerate(counts):
        if n and seen + n >= rank:
            low = BOUNDS[i - 1] if i > 0 else 0.0
            high = BOUNDS[i] if i < len(BOUNDS) else BOUNDS[-1] * RATIO
            return round(low + (high - low) * (rank - seen) / n, 3)
        seen += n
    return round(BOUNDS[-1] * RATIO, 3)


def quantiles(counts: Sequence[int], qs: Sequence[float]) -> tuple[float | None, ...]:
    """quantile() for several q in one pass (qs ascending)."""
    total = sum(counts)
    if total == 0:
        return tuple(None for _ in qs)
    found: list[float | None] = []
    seen = 0
    pending = list(qs)
    for i, n in enumerate(counts):
        while n and pending and seen + n >= pending[0] * total:
            low = BOUNDS[i - 1] if i > 0 else 0.0
            high = BOUNDS[i] if i < len(BOUNDS) else BOUNDS[-1] * RATIO
            found.append(round(low + (high - low) * (pending.pop(0) * total - seen) / n, 3))
        seen += n
    return (*found, *(round(BOUNDS[-1] * RATIO, 3) for _ in pending))
