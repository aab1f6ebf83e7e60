"""The embedded reranker: no model, a few features of the fused order's first passages.

Fusion ranks passages; an advisor's question asks for a fiche. Two fiche-level signals the passage
rankings do not see are added to a prior that keeps the fused order (1 / (prior_k + position)):
- title: the share of the question's content terms (guichet.lexical.question_terms) in the fiche's
  title — "Qu'est-ce que l'ASSR ?" is answered by the fiche titled "(ASSR)", not by one that mentions
  the acronym in a list;
- fiche: the share of those terms that the fiche's passages among the candidates contain together —
  a fiche that answers the whole question beats one passage that matches its most frequent word.
Both apply to every passage of the fiche, so its passages move together. The weights are tuned on the
development split of evals/questions.jsonl (benchmarks/rerank_tuning.py), reported on the held-out one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from guichet.lexical import analyze, question_terms
from guichet.ports.records import SearchHit


@dataclass(frozen=True)
class FeatureWeights:
    prior_k: float = 10.0
    title: float = 0.05
    fiche: float = 0.05


class FeatureReranker:
    def __init__(self, weights: FeatureWeights | None = None) -> None:
        self._weights = weights or FeatureWeights()

    @property
    def name(self) -> str:
        return "features"

    def rerank(self, query: str, hits: Sequence[SearchHit]) -> list[SearchHit]:
        wanted = question_terms(query)
        w = self._weights
        if not wanted:
            return [replace(h, score=1.0 / (w.prior_k + i)) for i, h in enumerate(hits, 1)]
        found: dict[str, set[str]] = {}
        for hit in hits:
            terms = wanted & frozenset(analyze(hit.chunk.indexed_text))
            found.setdefault(hit.chunk.doc_id, set()).update(terms)
        titles = {d: len(wanted & frozenset(analyze(_title(hits, d)))) for d in found}
        scored = [
            (
                1.0 / (w.prior_k + i)
                + w.title * titles[h.chunk.doc_id] / len(wanted)
                + w.fiche * len(found[h.chunk.doc_id]) / len(wanted),
                i,
                h,
            )
            for i, h in enumerate(hits, 1)
        ]
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [replace(h, score=score) for score, _, h in scored]

    def close(self) -> None:
        pass


def _title(hits: Sequence[SearchHit], doc_id: str) -> str:
    return next(h.chunk.title for h in hits if h.chunk.doc_id == doc_id)
