"""`guichet eval` on the real fiches, with the index built here (embeddings cached by text).

Usage: python benchmarks/eval_corpus.py [--gate | --fiches N | --all] [--questions evals/questions.jsonl]
       [--data-dir .data/eval-…] [--out-dir evals/reports/…] [-- extra `guichet eval` options]
  --gate      the CI gate's subset and cases (tests/eval/test_gate.py): lightest expected fiches within
              a passage budget, seeded distractors
  --fiches N  every case; the fiches they expect plus seeded distractors, N fiches in all (default 120)
  --all       every case on all the fiches (≈ 7,000 passages: about 20 minutes cold on 2 cores)
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
    group.add_argument("--gate", action="store_true")
    group.add_argument("--all", action="store_true")
    group.add_argument("--fiches", type=int, default=120)
    parser.add_argument("--questions", type=Path, default=REPO / "evals" / "questions.jsonl")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--out-dir", type=Path)
    parser.add_argument("extra", nargs="*", help="options passed on to guichet eval (after --)")
    args = parser.parse_args()
    if not SHARED_FICHES.exists():
        print(f"skipped: {SHARED_FICHES} not found", file=sys.stderr)
        return 0
    from guichet.evaluation.cases import load_cases
    from guichet.evaluation.corpus import choose_fiches, gate_subset, index_fiches
    from guichet.evaluation.embed_cache import default_cache_path
    from guichet.settings import Settings

    name = "gate" if args.gate else "all" if args.all else f"fiches-{args.fiches}"
    data_dir = args.data_dir or REPO / ".data" / f"eval-{name}"
    settings = Settings(data_dir=data_dir)
    cases = load_cases(args.questions)
    questions = args.questions
    if args.gate:
        subset = gate_subset(SHARED_FICHES / "xml", cases, settings)
        paths, description = subset.paths, subset.description
        lines = args.questions.read_text("utf-8").splitlines()
        questions = data_dir / "gate.jsonl"
        data_dir.mkdir(parents=True, exist_ok=True)
        questions.write_text("".join(lines[c.line - 1] + "\n" for c in subset.cases), "utf-8")
    else:
        expected = {f for c in cases for f in c.expected_sources}
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
    command = [sys.executable, "-m", "guichet", "eval", str(questions), *args.extra]
    if args.out_dir:
        command += ["--out-dir", str(args.out_dir)]
    started = time.perf_counter()
    code = subprocess.run(command, env={**os.environ, "GUICHET_DATA_DIR": str(data_dir)}).returncode
    print(f"evaluated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
