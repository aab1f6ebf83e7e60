"""`guichet eval` on the follow-up cases (evals/follow_ups.jsonl), on the real fiches, embeddings cached.

Usage: python benchmarks/eval_follow_ups.py [--fiches N | --all] [--out-dir evals/reports/…]
The index holds the fiches both turns expect plus seeded distractors, N in all (default 120), as
benchmarks/eval_corpus.py does; --all indexes every fiche (≈ 20 minutes cold on 2 cores).
Prints guichet eval's report: hit@5 of the follow-ups with their thread, and alone.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("extra", nargs="*", help="options passed on to guichet eval (after --)")
    args = parser.parse_args()
    if not SHARED_FICHES.exists():
        print(f"skipped: {SHARED_FICHES} not found", file=sys.stderr)
        return 0
    from guichet.evaluation.corpus import choose_fiches, index_fiches
    from guichet.evaluation.embed_cache import default_cache_path
    from guichet.evaluation.follow_ups import load_follow_ups
    from guichet.settings import Settings

    name = "all" if args.all else f"fiches-{args.fiches}"
    data_dir = args.data_dir or REPO / ".data" / f"eval-follow-ups-{name}"
    settings = Settings(data_dir=data_dir)
    cases = load_follow_ups(args.questions)
    expected = {f for c in cases for f in (*c.case.expected_sources, *c.previous.expected_sources)}
    paths = choose_fiches(SHARED_FICHES / "xml", expected, None if args.all else args.fiches)
    description = (
        "toutes les fiches" if args.all else f"{len(expected)} fiches attendues + distracteurs (graine 7)"
    )
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


if __name__ == "__main__":
    sys.exit(main())
