"""The embedded reranker: no model, the fiche's title over the fused order's first passages.

Fusion ranks passages; an advisor's question asks for a fiche, and a fiche's title says what it is
about in the words advisors use ("Qu'est-ce que l'ASSR ?" is answered by the fiche titled "Attestation
scolaire de sécurité routière (ASSR)", not by one that mentions the acronym in a list). Each passage's
score is a prior that keeps the fused order, 1 / (prior_k + position), plus `title` times the share of
the question's content terms (guichet.lexical.question_terms) found in its fiche's title, plus `pairs`
times the share of the question's adjacent term pairs its title holds in a row ("carte d'identité":
"Carte d'identité d'un majeur : en cas de perte", not "Carte Vitale"), minus `minor` for a fiche
whose title is for minors when the question names no child; a fiche's passages move together.
Weights tuned on the development split of evals/questions.jsonl (benchmarks/retrieval_tuning.py),
reported on the held-out one. Measured and left out (no gain on dev):
the share of the question's terms a fiche's candidate passages hold together, and the fiche's dossier
and thème (its breadcrumb): docs/decisions/0032-retrieval-at-scale.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from guichet.lexical import QUESTION_WORDS, analyze
from guichet.ports.records import SearchHit

# "Renouvellement du passeport d'un mineur" and "… d'un majeur" are twins: the citizen at the counter
# is an adult unless the question speaks of a child, so the fiche for minors yields (`minor`).
_MINOR = analyze("mineur")[0]
_CHILD_WORDS = frozenset(
    analyze("mineur mineure enfant fils fille bébé ado adolescent adolescente lycéen collégien élève")
)


@dataclass(frozen=True)
class FeatureWeights:
    prior_k: float = 5.0
    title: float = 0.1
    pairs: float = 0.05  # share of the question's adjacent term pairs ("carte identité") the title holds
    minor: float = 0.05  # taken from a fiche for minors when the question speaks of no child


class FeatureReranker:
    def __init__(self, weights: FeatureWeights | None = None) -> None:
        self._weights = weights or FeatureWeights()

    @property
    def name(self) -> str:
        return "features"

    def rerank(self, query: str, hits: Sequence[SearchHit]) -> list[SearchHit]:
        terms = analyze(query)
        wanted = frozenset(terms) - QUESTION_WORDS  # lexical.question_terms, the query analysed once
        pairs = _pairs([t for t in terms if t in wanted])
        adult = not _CHILD_WORDS & wanted
        w = self._weights
        titles: dict[str, float] = {}
        for hit in hits:
            if wanted and hit.chunk.doc_id not in titles:
                title = analyze(hit.chunk.title)
                found = wanted & frozenset(title)
                shared = len(pairs & _pairs(title)) / len(pairs) if pairs else 0.0
                minor = w.minor if adult and _MINOR in title else 0.0
                titles[hit.chunk.doc_id] = w.title * len(found) / len(wanted) + w.pairs * shared - minor
        scored = [
            (1.0 / (w.prior_k + i) + titles.get(h.chunk.doc_id, 0.0), i, h) for i, h in enumerate(hits, 1)
        ]
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [replace(h, score=score) for score, _, h in scored]

    def close(self) -> None:
        pass


def _pairs(terms: Sequence[str]) -> frozenset[tuple[str, str]]:
    return frozenset(pairwise(terms))
