"""hit@5 and MRR of lexical-only, vector-only and hybrid retrieval on the project's question set.

Usage: python benchmarks/retrieval_quality.py [--questions benchmarks/questions_shared.jsonl]
       [--fiches N | --all] [--data-dir .data/bench-quality]
Indexes real fiches from ../shared/fiches/xml with the bundled embedder (cached in --data-dir: a second
run embeds nothing), then runs every question in the three modes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from _common import REPO, SHARED_FICHES, hit_and_rr, load_cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=Path, default=REPO / "benchmarks" / "questions_shared.jsonl")
    parser.add_argument(
        "--fiches", type=int, default=160, help="fiches to index (expected ones + distractors)"
    )
    parser.add_argument("--all", action="store_true", help="index all 403 fiches")
    parser.add_argument("--data-dir", type=Path, default=REPO / ".data" / "bench-quality")
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args()
    if not SHARED_FICHES.exists():
        print(f"skipped: {SHARED_FICHES} not found", file=sys.stderr)
        return 0
    os.environ["GUICHET_DATA_DIR"] = str(args.data_dir)
    from guichet.evaluation.corpus import choose_fiches
    from guichet.indexing.bulk_ingest import ingest_into
    from guichet.settings import Settings
    from guichet.wiring import build_stack

    cases = load_cases(args.questions)
    expected = {str(s) for c in cases for s in c["expected_sources"]}  # type: ignore[attr-defined]
    fiches = choose_fiches(SHARED_FICHES / "xml", expected, None if args.all else args.fiches)
    staging = args.data_dir / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    for path in fiches:
        target = staging / path.name
        if not target.exists():
            target.write_bytes(path.read_bytes())
    stack = build_stack(Settings(data_dir=args.data_dir), announce_writes=False)
    started = time.perf_counter()
    report = ingest_into(stack, [staging], prefix="xml")
    print(f"indexed {len(fiches)} fiches: {report.summary()} in {time.perf_counter() - started:.1f}s")
    print(f"{len(cases)} questions, k={args.k}, index of {stack.index.chunk_count()} chunks\n")
    print(f"{'mode':<8} {'hit@' + str(args.k):>7} {'MRR':>6} {'p50 ms':>7}")
    for mode in ("lexical", "vector", "hybrid"):
        hits, rrs, times = [], [], []
        for case in cases:
            expected = {str(s) for s in case["expected_sources"]}  # type: ignore[attr-defined]
            if not expected:
                continue
            t0 = time.perf_counter()
            found = stack.retriever.search(
                str(case["question"]),
                audience=case.get("audience"),
                k=50,
                mode=mode,  # type: ignore[arg-type]
            )
            times.append((time.perf_counter() - t0) * 1000)
            hit, rr = hit_and_rr([h.chunk.doc_id for h in found], expected, args.k)
            hits.append(hit)
            rrs.append(rr)
        times.sort()
        hit_rate, mrr = sum(hits) / len(hits), sum(rrs) / len(rrs)
        print(f"{mode:<8} {hit_rate:>7.3f} {mrr:>6.3f} {times[len(times) // 2]:>7.1f}")
    stack.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
