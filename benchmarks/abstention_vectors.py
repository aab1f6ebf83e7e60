"""The coverage signals with real vectors, on the fiches whose passages the embedding cache already holds.

Usage: python benchmarks/abstention_vectors.py [--fiches DIR] [--questions FILE] [--data-dir DIR] [--check]

While the national embedding job runs (python -m guichet.indexing.national warm), only part of the 403
fiches have cached vectors. This indexes those fiches (bundled embedder through the cache: nothing is
embedded but the questions), keeps the in-corpus cases whose expected fiches are all indexed plus every
out-of-corpus case, and prints per split: hit@5 / MRR of the shipped retrieval (hybrid, reranked as
configured: GUICHET_RERANK_*), the best-cosine distribution of in-corpus and out-of-corpus questions,
and the decline rates of the term-coverage rule alone, of the term-coverage and cosine bars tuned
together on dev (the most out-of-corpus questions declined with ≤ 5 % in-corpus declined) and of the
shipped rule. --check exits 1 when the shipped rule misses ≥ 90 % / ≤ 5 % on held-out.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from _common import REPO, SHARED_FICHES, case_query, hit_and_rr
from abstention import MAX_WRONGLY_DECLINED, MIN_OOC_DECLINED, rates

from guichet.answer.coverage import CoverageRule, CoverageSignals, coverage_signals
from guichet.answer.named_things import unknown_names
from guichet.answer.pipeline import AnswerOptions
from guichet.corpus.chunking import chunk_document
from guichet.corpus.loader import parse_document
from guichet.evaluation.cases import EvalCase, load_cases, relative_to_index, split_of
from guichet.evaluation.embed_cache import CachingEmbedder, default_cache_path
from guichet.indexing.bulk_ingest import ingest_into
from guichet.settings import Settings
from guichet.wiring import Stack, build_embedder


def cached_fiches(fiches: Path, embedder: CachingEmbedder, settings: Settings) -> list[Path]:
    out = []
    for path in sorted(fiches.glob("*.xml")):
        key = f"service-public/{path.name}"
        doc = parse_document(key, path.read_bytes(), max_bytes=settings.max_document_bytes)
        chunks = chunk_document(
            doc, key, max_words=settings.chunk_max_words, overlap_words=settings.chunk_overlap_words
        )
        if not embedder.missing_passages([c.indexed_text for c in chunks]):
            out.append(path)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fiches", type=Path, default=SHARED_FICHES / "xml")
    parser.add_argument("--questions", type=Path, default=REPO / "evals" / "questions.jsonl")
    parser.add_argument("--data-dir", type=Path, help="reuse this index (built on first use)")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="abstention-vectors-"))
    settings = Settings(data_dir=data_dir)
    embedder = CachingEmbedder(build_embedder(settings), default_cache_path())
    stack = Stack(settings, embedder=embedder, announce_writes=False)
    if stack.index.chunk_count() == 0:
        ingest_into(stack, cached_fiches(args.fiches, embedder, settings), progress=False)
    indexed = {s.doc_id for s in stack.index.documents() if not s.deleted}
    # Cases whose fiches are not in the corpus at all must be declined; those whose fiches are in it but
    # not yet embedded are left out.
    cases, _ = relative_to_index(load_cases(args.questions), {p.stem for p in args.fiches.glob("*.xml")})
    cases = [c for c in cases if c.expect_not_covered or set(c.expected_sources) <= indexed]
    print(
        f"{len(indexed)} fiches with cached vectors, {stack.index.chunk_count()} passages, {len(cases)} cases"
    )
    rows, ranks = [], {"dev": [], "heldout": []}
    retrieve_k = AnswerOptions().retrieve_k
    for case in cases:
        # The pipeline's own search (AnswerOptions.retrieve_k passages) for the signals, a deeper one
        # (the evaluation's) for the ranking.
        answered = stack.retriever.search(case_query(case), audience=case.audience, k=retrieve_k)
        unknown = unknown_names(case.question, stack.index)
        signals = coverage_signals(case.question, answered, embedder=embedder.name, unknown_names=unknown)
        rows.append((case, signals))
        hits = stack.retriever.search(case_query(case), audience=case.audience, k=50)
        if not case.expect_not_covered:
            ranks[split_of(case)].append(hit_and_rr([h.chunk.doc_id for h in hits], case.expected_sources))
    stack.close()
    embedder.close()
    for split, scores in ranks.items():
        n = max(len(scores), 1)
        hit, mrr = sum(h for h, _ in scores) / n, sum(r for _, r in scores) / n
        print(f"hybrid {split:<8} hit@5 {hit:.3f}  MRR {mrr:.3f}  ({len(scores)} cases)")
    for split in ("dev", "heldout"):
        part = [(c, s) for c, s in rows if split_of(c) == split]
        for label, ooc in (("in-corpus", False), ("out-of-corpus", True)):
            values = [s.best_cosine or 0.0 for c, s in part if c.expect_not_covered == ooc]
            if values:
                low, mid, high = min(values), statistics.median(values), max(values)
                print(f"{split:<8} {label:<14} best cosine min {low:.3f} median {mid:.3f} max {high:.3f}")
    dev = [r for r in rows if split_of(r[0]) == "dev"]
    terms_only = replace(CoverageRule(), min_cosine={})
    # The term bar alone guards embedders without a tuned cosine bar (benchmarks/abstention.py tunes it
    # on lexical retrieval): the cosine bar is tuned with it as shipped; both together for information.
    cosine_only = tune(dev, embedder.name, [round(CoverageRule().min_term_coverage * 100)])
    joint = tune(dev, embedder.name, range(20, 81))
    shipped = CoverageRule()
    for name, rule in (
        (f"terms only ({terms_only.min_term_coverage})", terms_only),
        (f"cosine tuned on dev ({describe(cosine_only, embedder.name)})", cosine_only),
        (f"both tuned on dev ({describe(joint, embedder.name)})", joint),
        (f"shipped ({describe(shipped, embedder.name)})", shipped),
    ):
        for split in ("dev", "heldout"):
            declined, wrongly, n_ooc, n_in = rates(rule, [r for r in rows if split_of(r[0]) == split])
            print(f"{name:<48} {split:<8} ooc declined {declined:.2f} of {n_ooc}, ", end="")
            print(f"in-corpus declined {wrongly:.2f} of {n_in}")
    declined, wrongly, _, _ = rates(shipped, [r for r in rows if split_of(r[0]) == "heldout"])
    return int(args.check and (declined < MIN_OOC_DECLINED or wrongly > MAX_WRONGLY_DECLINED))


def describe(rule: CoverageRule, embedder: str) -> str:
    return f"terms {rule.min_term_coverage}, cosine {rule.min_cosine.get(embedder)}"


def tune(
    dev: list[tuple[EvalCase, CoverageSignals]], embedder: str, term_bars: Iterable[int]
) -> CoverageRule:
    """The term-coverage and cosine bars declining the most out-of-corpus dev questions with at most 5 %
    of in-corpus ones declined; ties: the fewest in-corpus declined, then the lowest bars."""
    best, best_key = CoverageRule(), (-1.0, 0.0, 0.0, 0.0)
    for terms, cosine in itertools.product(term_bars, range(800, 921, 5)):
        rule = replace(
            CoverageRule(),
            min_term_coverage=terms / 100,
            min_term_coverage_without_agreement=terms / 100,
            min_cosine={embedder: cosine / 1000},
        )
        declined, wrongly, _, _ = rates(rule, dev)
        key = (declined, -wrongly, -terms / 100, -cosine / 1000)
        if wrongly <= MAX_WRONGLY_DECLINED and key > best_key:
            best, best_key = rule, key
    return best
    return 0


if __name__ == "__main__":
    sys.exit(main())
