"""Do the retrieved passages answer the question? The record's `covered` (SPEC.md), decided before drafting.

Retrieval always returns something: on a question the corpus does not cover, its best passages are
loosely related ones, and an answer composed from them is wrong. Three signals, each comparable from
one question to the next (a fused RRF score is not):

- term coverage: the largest share of the question's content terms (analysed: folded, stemmed, no stop
  words, no words every question has) that one fiche's retrieved passages (text and titles) contain
  together. A question about "vignette Crit'Air" on a corpus without it finds "véhicule" in one fiche
  and "air" in another, never "crit" and "vignette" in the same one (measured: a union over fiches
  declines too few out-of-corpus questions, a single passage too many in-corpus ones);
- the best cosine similarity of the query and a passage, when the backend reports it (both do in
  hybrid mode: docs/decisions/0021-abstention-and-case.md);
- agreement: the best fiche is in the top ranks of both the lexical and the vector ranking;
- unknown names: a scheme or service the question names that no passage of the index contains
  (named_things.py: "l'indemnité inflation" on a corpus older than it). Declines whatever the scores:
  the neighbours retrieval returns describe other schemes.

The thresholds (CoverageRule) are tuned on the development split of evals/questions.jsonl and
reported on the held-out split (benchmarks/abstention.py). The same rule holds in extractive and
generated mode; a model that answers "not covered" is honoured as well (pipeline.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from guichet.lexical import analyze, question_terms
from guichet.ports.embedders.bundled import MODEL_NAME as BUNDLED_EMBEDDER
from guichet.ports.records import SearchHit

BEST_PASSAGES = 12  # the pipeline retrieves 12 (AnswerOptions.retrieve_k)
AGREEMENT_RANK = 10


@dataclass(frozen=True)
class CoverageSignals:
    term_coverage: float
    best_cosine: float | None
    agreement: bool
    question_terms: int
    embedder: str = ""  # whose cosine best_cosine is: a bar is only meaningful for the model it was tuned on
    unknown_names: tuple[str, ...] = ()  # names of the question the index never mentions (named_things.py)


@dataclass(frozen=True)
class CoverageRule:
    """covered when enough of the question is found, and the vectors do not say otherwise."""

    min_term_coverage: float = 0.41  # tuned on the dev split (benchmarks/abstention.py)
    # Below this cosine, not covered whatever the words, per embedder (cosines of two models are not
    # comparable; another model's cosine is not used until tuned for it). Bundled e5-small: tuned on
    # the dev split with real vectors on the 403 fiches, retrieval as shipped (RRF k 5, lexical weight
    # 0.6, feature reranker: docs/decisions/0032-retrieval-at-scale.md), benchmarks/abstention_vectors.py:
    # in-corpus best cosines 0.859-0.942 (median 0.908), out-of-corpus 0.799-0.895 (median 0.840).
    min_cosine: Mapping[str, float] = field(default_factory=lambda: {BUNDLED_EMBEDDER: 0.875})
    # A question whose rankings disagree needs this much coverage. Equal to min_term_coverage (agreement
    # unused) until tuned on hybrid rankings, which need the passages' real vectors.
    min_term_coverage_without_agreement: float = 0.41
    decline_unknown_names: bool = True

    def covered(self, signals: CoverageSignals) -> bool:
        if signals.unknown_names and self.decline_unknown_names:
            return False
        if signals.question_terms == 0:
            return True  # nothing to judge by ("bonjour ?"): the drafting says what it can
        cosine, bar = signals.best_cosine, self.min_cosine.get(signals.embedder)
        if cosine is not None and bar is not None and cosine < bar:
            return False
        needed = self.min_term_coverage if signals.agreement else self.min_term_coverage_without_agreement
        return signals.term_coverage >= needed


def coverage_signals(
    question: str,
    hits: Sequence[SearchHit],
    *,
    embedder: str = "",
    unknown_names: tuple[str, ...] = (),
) -> CoverageSignals:
    wanted = question_terms(question)
    by_fiche: dict[str, set[str]] = {}
    for hit in hits[:BEST_PASSAGES]:
        by_fiche.setdefault(hit.chunk.doc_id, set()).update(
            wanted & frozenset(analyze(hit.chunk.indexed_text))
        )
    best = max((len(found) for found in by_fiche.values()), default=0)
    cosines = [h.vector_score for h in hits if h.vector_score is not None]
    return CoverageSignals(
        term_coverage=best / len(wanted) if wanted else 0.0,
        best_cosine=max(cosines) if cosines else None,
        embedder=embedder,
        agreement=_agree(hits),
        question_terms=len(wanted),
        unknown_names=unknown_names,
    )


def _agree(hits: Sequence[SearchHit]) -> bool:
    """The first fiche has a passage in the top ranks of the lexical ranking and of the vector one.

    Without both rankings (Weaviate's hybrid query reports neither, a lexical or vector search only
    one), there is nothing to disagree: the other signals decide alone.
    """
    if not hits:
        return False
    if all(h.lexical_rank is None for h in hits) or all(h.vector_rank is None for h in hits):
        return True
    first = hits[0].chunk.doc_id
    mine = [h for h in hits if h.chunk.doc_id == first]
    lexical = any(h.lexical_rank is not None and h.lexical_rank <= AGREEMENT_RANK for h in mine)
    vector = any(h.vector_rank is not None and h.vector_rank <= AGREEMENT_RANK for h in mine)
    return lexical and vector
