"""The coverage signals with real vectors, on the fiches whose passages the embedding cache already holds.

Usage: python benchmarks/abstention_vectors.py [--fiches DIR] [--questions FILE]

While the national embedding job runs (python -m guichet.indexing.national warm), only part of the 403
fiches have cached vectors. This indexes those fiches (bundled embedder through the cache: nothing is
embedded but the questions), keeps the in-corpus cases whose expected fiches are all indexed plus every
out-of-corpus case, and prints per split: hybrid hit@5 / MRR, and the best-cosine distribution of
in-corpus and out-of-corpus questions, with the best min_cosine bar on dev (≤ 5 % in-corpus declined)
combined with the current term-coverage rule.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from _common import REPO, SHARED_FICHES, case_query, hit_and_rr
from abstention import rates

from guichet.answer.coverage import CoverageRule, coverage_signals
from guichet.corpus.chunking import chunk_document
from guichet.corpus.loader import parse_document
from guichet.evaluation.cases import load_cases, split_of
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
    args = parser.parse_args()
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="abstention-vectors-")))
    embedder = CachingEmbedder(build_embedder(settings), default_cache_path())
    paths = cached_fiches(args.fiches, embedder, settings)
    stack = Stack(settings, embedder=embedder, announce_writes=False)
    ingest_into(stack, paths, progress=False)
    indexed = {p.stem for p in paths}
    cases = [
        c for c in load_cases(args.questions) if c.expect_not_covered or set(c.expected_sources) <= indexed
    ]
    print(
        f"{len(paths)} fiches with cached vectors, {stack.index.chunk_count()} passages, {len(cases)} cases"
    )
    rows, ranks = [], {"dev": [], "heldout": []}
    for case in cases:
        hits = stack.retriever.search(case_query(case), audience=case.audience, k=50)
        rows.append((case, coverage_signals(case.question, hits[:12], embedder=embedder.name)))
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
    best, best_key = terms_only, (-1.0, 0.0)
    for step in range(70, 96):
        rule = replace(CoverageRule(), min_cosine={embedder.name: step / 100})
        declined, wrongly, _, _ = rates(rule, dev)
        if wrongly <= 0.05 and (declined, -step) > best_key:
            best, best_key = rule, (declined, -step)
    bar = best.min_cosine.get(embedder.name)
    shipped = CoverageRule().min_cosine.get(embedder.name)
    for name, rule in (
        ("terms only", terms_only),
        (f"terms + min_cosine {bar} (dev)", best),
        (f"shipped rule (min_cosine {shipped})", CoverageRule()),
    ):
        for split in ("dev", "heldout"):
            declined, wrongly, n_ooc, n_in = rates(rule, [r for r in rows if split_of(r[0]) == split])
            print(f"{name:<36} {split:<8} ooc declined {declined:.2f} of {n_ooc}, ", end="")
            print(f"in-corpus declined {wrongly:.2f} of {n_in}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
