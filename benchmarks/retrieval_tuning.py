"""Tune fusion (RRF k, weights) and the embedded reranker on the dev split, report the held-out split.

Usage: python benchmarks/retrieval_tuning.py [--fiches DIR] [--questions FILE] [--data-dir DIR] [--check]

The index holds the fiches of DIR whose passages the embedding cache holds (all 403 of ../shared once
`python -m guichet.indexing.national warm` has passed them), with their real vectors: nothing is
embedded but the questions. For each case, the pipeline's query (question, then situation) is searched
once per leg (lexical, vector, 200 passages deep, what the evaluation's 50-passage search reads); every
variant is then computed from those two rankings with the product's own code (fusion.py's
reciprocal_rank_fusion, rerankers/features.py's FeatureReranker), so a variant measured here is the
variant shipped. Printed per split (hit@5, MRR over the in-corpus cases whose fiches are all indexed):
each leg alone, the shipped fusion, the best fusion on dev, the shipped reranker, the best reranker
weights on dev. --check exits 1 when the shipped configuration misses hit@5 ≥ 0.95 or MRR ≥ 0.85 on
held-out.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from _common import REPO, SHARED_FICHES, case_query, hit_and_rr
from abstention_vectors import cached_fiches

from guichet.answer.retrieval import RERANK_DEPTH
from guichet.evaluation.cases import EvalCase, load_cases, split_of
from guichet.evaluation.embed_cache import CachingEmbedder, default_cache_path
from guichet.indexing.bulk_ingest import ingest_into
from guichet.ports.indexes.fusion import LEXICAL_WEIGHT, RRF_K, VECTOR_WEIGHT, reciprocal_rank_fusion
from guichet.ports.records import SearchFilters, SearchHit
from guichet.ports.rerankers.features import FeatureReranker, FeatureWeights
from guichet.settings import Settings
from guichet.wiring import Stack, build_embedder

DEPTH = 200  # candidate_depth(50): what the evaluation's ranking search reads of each leg
MIN_HIT5, MIN_MRR = 0.95, 0.85


@dataclass(frozen=True)
class Legs:
    case: EvalCase
    query: str
    lexical: list[SearchHit]
    vector: list[SearchHit]


def fused(legs: Legs, rrf_k: float, weights: tuple[float, float]) -> list[SearchHit]:
    by_id = {h.chunk.id: h for h in (*legs.lexical, *legs.vector)}
    cosine = {h.chunk.id: h.vector_score for h in legs.vector}
    order = reciprocal_rank_fusion(
        [h.chunk.id for h in legs.lexical], [h.chunk.id for h in legs.vector], rrf_k=rrf_k, weights=weights
    )
    return [SearchHit(by_id[key].chunk, score, lex, vec, cosine.get(key)) for key, score, lex, vec in order]


def reranked(hits: list[SearchHit], query: str, weights: FeatureWeights, depth: int) -> list[SearchHit]:
    return [*FeatureReranker(weights).rerank(query, hits[:depth]), *hits[depth:]]


Ranker = Callable[[Legs], Sequence[SearchHit]]


def fusion_variant(rrf_k: float, weights: tuple[float, float]) -> Ranker:
    return lambda legs: fused(legs, rrf_k, weights)


def reranker_variant(weights: FeatureWeights, fusion: Fusion) -> Ranker:
    """A fusion, then the feature reranker with these weights over RERANK_DEPTH passages."""
    return lambda legs: reranked(fused_once(legs, fusion), legs.query, weights, RERANK_DEPTH)


Fusion = tuple[float, tuple[float, float]]
_FUSED: dict[tuple[int, Fusion], list[SearchHit]] = {}


def fused_once(legs: Legs, fusion: Fusion) -> list[SearchHit]:
    key = (legs.case.line, fusion)
    if key not in _FUSED:
        _FUSED[key] = fused(legs, *fusion)
    return _FUSED[key]


def measure(rows: list[Legs], ranker: Ranker) -> dict[str, tuple[float, float, int]]:
    out = {}
    for split in ("dev", "heldout"):
        scores = [
            hit_and_rr([h.chunk.doc_id for h in ranker(r)[:50]], r.case.expected_sources)
            for r in rows
            if split_of(r.case) == split
        ]
        n = max(len(scores), 1)
        out[split] = (sum(h for h, _ in scores) / n, sum(rr for _, rr in scores) / n, len(scores))
    return out


def show(name: str, result: dict[str, tuple[float, float, int]]) -> None:
    parts = [f"{s} hit@5 {h:.3f} MRR {m:.3f} ({n})" for s, (h, m, n) in result.items()]
    print(f"{name:<58} " + "   ".join(parts))


def best_on_dev(
    rows: list[Legs], candidates: dict[str, Ranker]
) -> tuple[str, dict[str, tuple[float, float, int]]]:
    results = {name: measure(rows, ranker) for name, ranker in candidates.items()}
    name = max(results, key=lambda n: (results[n]["dev"][1], results[n]["dev"][0]))
    return name, results[name]


def build_rows(args: argparse.Namespace) -> list[Legs]:
    settings = Settings(data_dir=args.data_dir)
    embedder = CachingEmbedder(build_embedder(settings), default_cache_path())
    stack = Stack(settings, embedder=embedder, announce_writes=False)
    try:
        if stack.index.chunk_count() == 0:
            ingest_into(stack, cached_fiches(args.fiches, embedder, settings), progress=False)
        indexed = {s.doc_id for s in stack.index.documents() if not s.deleted}
        cases = [c for c in load_cases(args.questions) if not c.expect_not_covered]
        cases = [c for c in cases if set(c.expected_sources) <= indexed]
        print(f"{len(indexed)} fiches, {stack.index.chunk_count()} passages, {len(cases)} in-corpus cases")
        rows = []
        for case in cases:
            query = case_query(case)
            vector = embedder.embed_query(query)
            filters = SearchFilters(audience=case.audience)
            lexical = stack.index.search(query, vector, k=DEPTH, filters=filters, mode="lexical")
            dense = stack.index.search(query, vector, k=DEPTH, filters=filters, mode="vector")
            rows.append(Legs(case, query, lexical, dense))
        return rows
    finally:
        stack.close()
        embedder.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fiches", type=Path, default=SHARED_FICHES / "xml")
    parser.add_argument("--questions", type=Path, default=REPO / "evals" / "questions.jsonl")
    parser.add_argument("--data-dir", type=Path, default=REPO / ".data" / "retrieval-tuning")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    rows = build_rows(args)
    shipped_fusion = (RRF_K, (LEXICAL_WEIGHT, VECTOR_WEIGHT))
    show("lexical only", measure(rows, lambda r: r.lexical))
    show("vector only", measure(rows, lambda r: r.vector))
    show(
        f"fusion shipped (k {RRF_K}, weights {LEXICAL_WEIGHT}/{VECTOR_WEIGHT})",
        measure(rows, lambda r: fused(r, *shipped_fusion)),
    )
    grid = [(k, (wl, 1.0)) for k in (2, 5, 10, 20, 40, 60) for wl in (0.4, 0.6, 0.8, 1.0)]
    grid += [(k, (1.0, wv)) for k in (2, 5, 10, 20, 40, 60) for wv in (0.6, 0.8)]
    name, result = best_on_dev(
        rows, {f"fusion k {k}, weights {w[0]}/{w[1]}": fusion_variant(k, w) for k, w in grid}
    )
    show(f"{name} (best on dev)", result)
    best_fusion = next((k, w) for k, w in grid if name == f"fusion k {k}, weights {w[0]}/{w[1]}")
    shipped = FeatureWeights()
    shipped_result = measure(rows, reranker_variant(shipped, shipped_fusion))
    show(f"shipped: fusion + reranker {shipped}", shipped_result)
    weights = itertools.starmap(
        FeatureWeights,
        itertools.product(
            (2.0, 5.0, 10.0, 20.0, 60.0), (0.0, 0.02, 0.05, 0.1, 0.2, 0.3), (0.0, 0.02, 0.05, 0.1, 0.2)
        ),
    )
    name, result = best_on_dev(rows, {f"reranker {w}": reranker_variant(w, best_fusion) for w in weights})
    show(f"best fusion + {name} (best on dev)", result)
    minors = [replace(shipped, minor=m) for m in (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)]
    for w in minors:
        show(f"shipped fusion + reranker minor={w.minor}", measure(rows, reranker_variant(w, shipped_fusion)))
    hit5, mrr, _ = shipped_result["heldout"]
    return int(args.check and (hit5 < MIN_HIT5 or mrr < MIN_MRR))


if __name__ == "__main__":
    sys.exit(main())
