"""Retrieval quality of one ranking: rank of the first expected document, hit@k, reciprocal rank.

Shared by the evaluation and benchmarks/retrieval_quality.py, so both count the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def distinct(doc_ids: Iterable[str]) -> list[str]:
    """Document ids in the order of their first passage: a fiche ranks where its best passage does."""
    return list(dict.fromkeys(doc_ids))


def first_rank(ranked_doc_ids: Sequence[str], expected: Iterable[str]) -> int | None:
    """1-based rank of the first expected document among the distinct ranked ids; None when absent."""
    wanted = set(expected)
    return next((i for i, d in enumerate(distinct(ranked_doc_ids), 1) if d in wanted), None)


def hit_and_rr(ranked_doc_ids: Sequence[str], expected: Iterable[str], k: int = 5) -> tuple[bool, float]:
    """hit@k and reciprocal rank of the first expected document among ranked (repeated) doc ids."""
    rank = first_rank(ranked_doc_ids, expected)
    return (rank is not None and rank <= k), (1.0 / rank if rank else 0.0)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
