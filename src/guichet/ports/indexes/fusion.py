"""Rank fusion shared by the backends that fuse lexical and vector rankings themselves."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

# The constant of Cormack et al. (2009): large enough that rank 1 does not dominate the sum.
RRF_K = 60


def candidate_depth(k: int) -> int:
    """How deep each ranking is read before fusing: deep enough that a chunk ranked modestly by
    both retrievers still reaches the fused top k."""
    return max(50, 4 * k)


def reciprocal_rank_fusion(
    lexical: Sequence[K], vector: Sequence[K], *, rrf_k: int = RRF_K
) -> list[tuple[K, float, int | None, int | None]]:
    """Fuse two best-first rankings: (key, score, lexical_rank, vector_rank), ranks 1-based.

    Ties are broken by the better lexical rank, then the better vector rank, so results are stable.
    """
    ranks: dict[K, list[int | None]] = {}
    for rank, key in enumerate(lexical, start=1):
        ranks.setdefault(key, [None, None])[0] = rank
    for rank, key in enumerate(vector, start=1):
        ranks.setdefault(key, [None, None])[1] = rank
    fused = [
        (key, sum(1.0 / (rrf_k + r) for r in pair if r is not None), pair[0], pair[1])
        for key, pair in ranks.items()
    ]
    big = len(ranks) + 1
    fused.sort(key=lambda item: (-item[1], item[2] or big, item[3] or big))
    return fused
