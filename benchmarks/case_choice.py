"""Right case on the situation cases of evals/questions.jsonl, with and without the situation's synonyms.

Usage: python benchmarks/case_choice.py [--fiches DIR] [--questions FILE] [--vectors] [--check]

Same index as benchmarks/abstention.py (the 403 fiches, lexical retrieval: no passage vectors needed).
--vectors: hybrid retrieval, as in production, with the bundled embedder's vectors from the embedding
cache, on the fiches whose passages the cache holds (the cases of the others are left out and counted).
For each case with an expected_branch: the pipeline's query (question + situation), 12 hits, the
evidence (answer/evidence.py), and the branch chosen for the expected fiche. "right": on the expected
branch's path; "none": no branch chosen (the answer lists the cases) or the fiche not retrieved;
"wrong": another case; "with the fiche first": right, and the expected fiche is the first extract's
(the record's `case` is the first cited fiche's: retrieval decides that part). Per split, then
"before (shared words)": the same evidence with the situation read for its words only (no synonyms, no
age, duration or month arithmetic, no France default), for comparison.
--check exits 1 when the held-out right share is below 0.90.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path
from unittest import mock

from _common import REPO, SHARED_FICHES
from abstention import build_index
from abstention_vectors import cached_fiches

from guichet.answer import situation
from guichet.answer.evidence import chosen_branches, gather_evidence
from guichet.answer.situation import on_path
from guichet.answer.thread import retrieval_query
from guichet.evaluation.cases import EvalCase, load_cases, split_of
from guichet.evaluation.embed_cache import CachingEmbedder, default_cache_path
from guichet.indexing.bulk_ingest import ingest_into
from guichet.ports.records import SearchMode
from guichet.settings import Settings
from guichet.wiring import Stack, build_embedder


def outcome(stack: Stack, case: EvalCase, mode: SearchMode = "lexical") -> tuple[str, bool]:
    """("right" | "none" | "wrong", whether the expected fiche comes first among the extracts: the
    record's `case` is the first cited fiche's)."""
    query = retrieval_query(case.question, case.situation, ())
    hits = stack.retriever.search(query, audience=case.audience, k=12, mode=mode)
    extracts = gather_evidence(hits, stack.index, limit=6, situation=case.situation)
    branches = chosen_branches(extracts)
    chosen = next((branches[f] for f in case.expected_sources if f in branches), "")
    first = bool(extracts) and extracts[0].doc_id in case.expected_sources
    if not chosen:
        return "none", first
    return ("right" if on_path(case.expected_branch, chosen) else "wrong"), first


def table(stack: Stack, cases: list[EvalCase], mode: SearchMode = "lexical") -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {"dev": Counter(), "heldout": Counter()}
    for case in cases:
        result, first = outcome(stack, case, mode)
        out[split_of(case)][result] += 1
        out[split_of(case)]["first"] += result == "right" and first
    return out


def vector_stack(fiches: Path, cases: list[EvalCase]) -> tuple[Stack, list[EvalCase]]:
    """An index of the fiches with cached vectors (nothing embedded but the questions), and the cases
    whose expected fiches it holds."""
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="case-vectors-")))
    embedder = CachingEmbedder(build_embedder(settings), default_cache_path())
    paths = cached_fiches(fiches, embedder, settings)
    stack = Stack(settings, embedder=embedder, announce_writes=False)
    ingest_into(stack, paths, progress=False)
    indexed = {p.stem for p in paths}
    kept = [c for c in cases if set(c.expected_sources) <= indexed]
    print(f"{len(paths)} fiches with cached vectors; {len(kept)} of {len(cases)} situation cases")
    return stack, kept


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fiches", type=Path, default=SHARED_FICHES / "xml")
    parser.add_argument("--questions", type=Path, default=REPO / "evals" / "questions.jsonl")
    parser.add_argument("--data-dir", type=Path, default=REPO / ".data" / "abstention-403")
    parser.add_argument("--vectors", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if not args.fiches.exists():
        print(f"skipped: {args.fiches} not found", file=sys.stderr)
        return 0
    cases = [c for c in load_cases(args.questions) if c.expected_branch]
    mode: SearchMode = "hybrid" if args.vectors else "lexical"
    if args.vectors:
        stack, cases = vector_stack(args.fiches, cases)
    else:
        stack = build_index(args.fiches, args.data_dir)
    try:
        after = table(stack, cases, mode)
        # shared words only (no synonyms, no age, duration or month arithmetic, no France default)
        with (
            mock.patch.object(situation, "expand_situation", lambda text: text),
            mock.patch.object(situation, "situation_age", lambda text: None),
            mock.patch.object(situation, "situation_days", lambda text: None),
            mock.patch.object(situation, "situation_month", lambda text: None),
            mock.patch.object(situation, "_ABROAD_TERM", "\0"),
        ):
            before = table(stack, cases, mode)
    finally:
        stack.close()
    for name, result in (("before (shared words)", before), ("after", after)):
        for split, counts in result.items():
            total = counts["right"] + counts["none"] + counts["wrong"]
            share = counts["right"] / total if total else 0.0
            print(f"{name:<22} {split:<8} right {counts['right']}/{total} ({share:.2f}; "
                  f"{counts['first']} with the fiche first), "
                  f"none {counts['none']}, wrong {counts['wrong']}")  # fmt: skip
    held = after["heldout"]
    return int(args.check and held["right"] / max(held["right"] + held["none"] + held["wrong"], 1) < 0.90)


if __name__ == "__main__":
    sys.exit(main())
