"""`guichet eval` on the follow-up cases (evals/follow_ups.jsonl), on the real fiches, embeddings cached.

Usage: python benchmarks/eval_follow_ups.py [--fiches N | --all] [--hashing] [--out-dir evals/reports/…]
The index holds the fiches both turns expect plus seeded distractors, N in all (default 120), as
benchmarks/eval_corpus.py does; --all indexes every fiche (≈ 20 minutes cold on 2 cores).
Prints guichet eval's report: hit@5 of the follow-ups with their thread, and alone.

--hashing replaces the bundled e5 model by the tests' bag-of-words hashing embedder (no model, seconds
for all 403 fiches): the vector half of hybrid retrieval is then lexical too. A stand-in for a busy
machine, run in-process; its figures are not those of the product's retrieval.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO, SHARED_FICHES


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--all", action="store_true")
    group.add_argument("--fiches", type=int, default=120)
    parser.add_argument("--questions", type=Path, default=REPO / "evals" / "follow_ups.jsonl")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--out-dir", type=Path)
    parser.add_argument("--hashing", action="store_true", help="bag-of-words vectors instead of e5")
    parser.add_argument("extra", nargs="*", help="options passed on to guichet eval (after --)")
    args = parser.parse_args()
    if not SHARED_FICHES.exists():
        print(f"skipped: {SHARED_FICHES} not found", file=sys.stderr)
        return 0
    from guichet.evaluation.corpus import choose_fiches, index_fiches
    from guichet.evaluation.embed_cache import default_cache_path
    from guichet.evaluation.follow_ups import load_follow_ups
    from guichet.settings import Settings

    name = ("all" if args.all else f"fiches-{args.fiches}") + ("-hashing" if args.hashing else "")
    data_dir = args.data_dir or REPO / ".data" / f"eval-follow-ups-{name}"
    settings = Settings(data_dir=data_dir)
    cases = load_follow_ups(args.questions)
    expected = {f for c in cases for f in (*c.case.expected_sources, *c.previous.expected_sources)}
    paths = choose_fiches(SHARED_FICHES / "xml", expected, None if args.all else args.fiches)
    description = (
        "toutes les fiches" if args.all else f"{len(expected)} fiches attendues + distracteurs (graine 7)"
    )
    if args.hashing:
        return hashing_run(settings, paths, cases, args.out_dir, description, args.questions.name)
    started = time.perf_counter()
    info = index_fiches(settings, paths, default_cache_path(), description=description)
    print(
        f"indexed {info.fiches} fiches, {info.passages} passages ({info.embedded} embedded) "
        f"in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    command = [sys.executable, "-m", "guichet", "eval", str(args.questions), *args.extra]
    if args.out_dir:
        command += ["--out-dir", str(args.out_dir)]
    started = time.perf_counter()
    code = subprocess.run(command, env={**os.environ, "GUICHET_DATA_DIR": str(data_dir)}).returncode
    print(f"evaluated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return code


def hashing_run(
    settings: object,
    paths: list[Path],
    cases: list[object],
    out_dir: Path | None,
    description: str,
    name: str,
) -> int:
    """Index and evaluate in-process with the hashing embedder (see --hashing)."""
    from guichet.evaluation.command import EvalOptions, write_report
    from guichet.evaluation.corpus import CORPUS_FILE, CorpusInfo
    from guichet.evaluation.follow_up_command import evaluate_follow_ups
    from guichet.evaluation.follow_ups import render_summary
    from guichet.evaluation.markdown import render
    from guichet.indexing.bulk_ingest import ingest_into
    from guichet.testing.fake_embedder import HashingEmbedder
    from guichet.wiring import Stack

    stack = Stack(settings, embedder=HashingEmbedder(), announce_writes=False)  # type: ignore[arg-type]
    try:
        started = time.perf_counter()
        if stack.index.chunk_count() == 0:
            ingest_into(stack, paths, progress=False)
        passages = stack.index.chunk_count()
        info = CorpusInfo(f"{description}, vecteurs « hashing »", len(paths), passages)
        (stack.settings.data_dir / CORPUS_FILE).write_text(
            json.dumps(info.to_json(), ensure_ascii=False), "utf-8"
        )
        print(
            f"indexed {len(paths)} fiches, {passages} passages in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        report = evaluate_follow_ups(stack, cases, EvalOptions(), question_set=name)  # type: ignore[arg-type]
    finally:
        stack.close()
    text = render(report) + render_summary(report["follow_ups"])
    print(text)
    if out_dir is not None:
        write_report(out_dir, report, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
