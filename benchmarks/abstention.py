"""Tune the coverage rule (guichet.answer.coverage) on the dev split, report it on the held-out split.

Usage: python benchmarks/abstention.py [--fiches DIR] [--questions evals/questions.jsonl] [--check]

The index holds the 403 fiches of ../shared/fiches (or DIR). Passage vectors are not needed for the
signals measured here: retrieval runs in lexical mode (FTS5 BM25 over the real texts; the vectors are
the hashing test embedder's, never searched), so the cosine signal is left out (CoverageRule.min_cosine
stays None until the embedding cache holds these passages: `python -m guichet.indexing.national warm`).
For each case: the pipeline's query (question, plus the situation), its 12 hits, the signals. The term
coverage bar is chosen on dev as the highest out-of-corpus decline rate with at most 5 % of in-corpus
questions wrongly declined; then both rates are reported on dev and held-out, with the current rule's.
--check exits 1 when the held-out figures of the current rule miss the targets (≥ 90 %, ≤ 5 %).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from _common import REPO, SHARED_FICHES, hit_and_rr

from guichet.answer.coverage import CoverageRule, CoverageSignals, coverage_signals
from guichet.answer.named_things import unknown_names
from guichet.answer.thread import retrieval_query
from guichet.evaluation.cases import EvalCase, load_cases, relative_to_index, split_of
from guichet.evaluation.corpus import indexed_fiche_ids
from guichet.indexing.bulk_ingest import ingest_into
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.settings import Settings
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.wiring import Stack

MAX_WRONGLY_DECLINED = 0.05
MIN_OOC_DECLINED = 0.90


def build_index(fiches: Path, data_dir: Path) -> Stack:
    settings = Settings(data_dir=data_dir)
    embedder = HashingEmbedder()
    index = EmbeddedIndex(settings.index_path, dimension=embedder.dimension)
    stack = Stack(settings, embedder=embedder, index=index, announce_writes=False)
    if index.chunk_count() == 0:
        started = time.perf_counter()
        ingest_into(stack, [fiches], progress=False)
        print(
            f"indexed {index.chunk_count()} passages in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    return stack


def signals_of(stack: Stack, case: EvalCase) -> CoverageSignals:
    query = retrieval_query(case.question, case.situation, ())
    hits = stack.retriever.search(query, audience=case.audience, k=12, mode="lexical")
    return coverage_signals(case.question, hits, unknown_names=unknown_names(case.question, stack.index))


def rates(rule: CoverageRule, rows: list[tuple[EvalCase, CoverageSignals]]) -> tuple[float, float, int, int]:
    ooc = [s for c, s in rows if c.expect_not_covered]
    inside = [s for c, s in rows if not c.expect_not_covered]
    declined = sum(not rule.covered(s) for s in ooc) / max(len(ooc), 1)
    wrongly = sum(not rule.covered(s) for s in inside) / max(len(inside), 1)
    return declined, wrongly, len(ooc), len(inside)


def tune(rows: list[tuple[EvalCase, CoverageSignals]], base: CoverageRule) -> CoverageRule:
    best, best_key = base, (-1.0, 0.0)
    for step in range(20, 96):
        bar = step / 100
        rule = replace(base, min_term_coverage=bar, min_term_coverage_without_agreement=bar)
        declined, wrongly, _, _ = rates(rule, rows)
        if wrongly <= MAX_WRONGLY_DECLINED and (declined, -bar) > best_key:
            best, best_key = rule, (declined, -bar)
    return best


def print_ranking(args: argparse.Namespace, rows: list[tuple[EvalCase, CoverageSignals]]) -> None:
    """hit@5 and MRR of the lexical ranking (50 passages deep) on the in-corpus cases, per split."""
    stack = build_index(args.fiches, args.data_dir)
    try:
        for split in ("dev", "heldout"):
            scores = []
            for case, _ in rows:
                if case.expect_not_covered or split_of(case) != split:
                    continue
                query = retrieval_query(case.question, case.situation, ())
                hits = stack.retriever.search(query, audience=case.audience, k=50, mode="lexical")
                scores.append(hit_and_rr([h.chunk.doc_id for h in hits], case.expected_sources))
            hit = sum(h for h, _ in scores) / max(len(scores), 1)
            mrr = sum(r for _, r in scores) / max(len(scores), 1)
            print(
                f"lexical ranking {split:<8} hit@5 {hit:.3f}  MRR {mrr:.3f}  ({len(scores)} in-corpus cases)"
            )
    finally:
        stack.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fiches", type=Path, default=SHARED_FICHES / "xml")
    parser.add_argument("--questions", type=Path, default=REPO / "evals" / "questions.jsonl")
    parser.add_argument("--data-dir", type=Path, default=REPO / ".data" / "abstention-403")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if not args.fiches.exists():
        print(f"skipped: {args.fiches} not found", file=sys.stderr)
        return 0
    stack = build_index(args.fiches, args.data_dir)
    try:
        cases, _ = relative_to_index(load_cases(args.questions), indexed_fiche_ids(stack.index))
        rows = [(case, signals_of(stack, case)) for case in cases]
    finally:
        stack.close()
    dev = [r for r in rows if split_of(r[0]) == "dev"]
    heldout = [r for r in rows if split_of(r[0]) == "heldout"]
    current = CoverageRule()
    tuned = tune(dev, current)
    print(f"{'rule':<34} {'split':<8} {'ooc declined':>14} {'in-corpus declined':>20}")
    for name, rule in (("current (min_term_coverage " + f"{current.min_term_coverage})", current),
                       (f"tuned on dev ({tuned.min_term_coverage})", tuned)):  # fmt: skip
        for split, part in (("dev", dev), ("heldout", heldout)):
            declined, wrongly, n_ooc, n_in = rates(rule, part)
            print(f"{name:<34} {split:<8} {declined:>8.2f} of {n_ooc:<3} {wrongly:>12.2f} of {n_in:<3}")
    print_ranking(args, rows)
    declined, wrongly, _, _ = rates(current, heldout)
    return int(args.check and (declined < MIN_OOC_DECLINED or wrongly > MAX_WRONGLY_DECLINED))


if __name__ == "__main__":
    sys.exit(main())
