"""Rank fusion shared by the backends that fuse lexical and vector rankings themselves."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

# Tuned on the dev split of evals/questions.jsonl with real e5-small vectors on the 403 fiches
# (benchmarks/retrieval_tuning.py; docs/decisions/0032-retrieval-at-scale.md): a small k lets the first
# ranks of each leg count (Cormack et al.'s 60 flattens them: dev MRR 0.858 -> 0.888), and the lexical
# leg, alone the weaker (dev MRR 0.79 against 0.85), weighs 0.6. Both backends fuse with these.
RRF_K = 5
LEXICAL_WEIGHT = 0.6
VECTOR_WEIGHT = 1.0


def candidate_depth(k: int) -> int:
    """How deep each ranking is read before fusing: deep enough that a chunk ranked modestly by
    both retrievers still reaches the fused top k."""
    return max(50, 4 * k)


def reciprocal_rank_fusion(
    lexical: Sequence[K],
    vector: Sequence[K],
    *,
    rrf_k: float = RRF_K,
    weights: tuple[float, float] = (LEXICAL_WEIGHT, VECTOR_WEIGHT),
) -> list[tuple[K, float, int | None, int | None]]:
    """Fuse two best-first rankings: (key, score, lexical_rank, vector_rank), ranks 1-based; a key's
    score is the sum over the rankings that hold it of weight / (rrf_k + rank).

    Ties are broken by the better lexical rank, then the better vector rank, so results are stable.
    """
    ranks: dict[K, list[int | None]] = {}
    for rank, key in enumerate(lexical, start=1):
        ranks.setdefault(key, [None, None])[0] = rank
    for rank, key in enumerate(vector, start=1):
        ranks.setdefault(key, [None, None])[1] = rank
    lexical_weight, vector_weight = weights
    fused = []
    for key, (lex, vec) in ranks.items():
        score = (lexical_weight / (rrf_k + lex) if lex else 0.0) + (
            vector_weight / (rrf_k + vec) if vec else 0.0
        )
        fused.append((key, score, lex, vec))
    big = len(ranks) + 1
    fused.sort(key=lambda item: (-item[1], item[2] or big, item[3] or big))
    return fused
