"""What the advisor reads (issue 18), on the evaluation set: expected facts present, duplicated lines.

Runs every case of evals/questions.jsonl through the real ask pipeline (the worker's Answerer, extractive
unless GUICHET_LLM_URL is set) on an index already built (benchmarks/advisor_corpus.py), then prints:
  - expected fact present: share of all the cases' expected_facts found in the answer text
    (guichet.evaluation.checks.missing_facts: case, accents and apostrophes folded);
  - duplicated lines: lines of one answer that say the same thing twice (markers, bullets, case
    folded; guichet.evaluation.checks.duplicated_lines).
Usage: python benchmarks/composer_quality.py [--data-dir .data/advisor-eval] [--out FILE.json] [--check]
  --check  exit 1 when expected facts present < 85 % or any line is duplicated
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from _common import REPO

MIN_FACTS = 0.85
_MARKERS = re.compile(r"\[[^\[\]]{1,40}\]")


def _fallback_duplicated_lines(answer: str) -> tuple[str, ...]:
    """The same definition as guichet.evaluation.checks.duplicated_lines, for trees older than it."""
    from guichet.lexical import fold

    seen: set[str] = set()
    dups: list[str] = []
    for line in answer.splitlines():
        key = " ".join(fold(_MARKERS.sub(" ", line)).strip(" -•*|").split())
        if len(key.split()) < 3:
            continue
        if key in seen:
            dups.append(line.strip())
        seen.add(key)
    return tuple(dups)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=REPO / ".data" / "advisor-eval")
    parser.add_argument("--questions", type=Path, default=REPO / "evals" / "questions.jsonl")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    import guichet.evaluation.checks as checks
    from guichet.answer.worker import answer_options
    from guichet.evaluation.cases import load_cases
    from guichet.evaluation.run import run_cases
    from guichet.settings import Settings
    from guichet.wiring import build_stack

    duplicated = getattr(checks, "duplicated_lines", _fallback_duplicated_lines)
    settings = Settings(data_dir=args.data_dir)
    stack = build_stack(settings)
    try:
        cases = [c for c in load_cases(args.questions) if c.expected_facts]
        runs = run_cases(cases, stack.index, stack.embedder, stack.chat_model, answer_options(settings))
    finally:
        stack.close()
    expected = present = dup_lines = 0
    rows = []
    for run in runs:
        missing = checks.missing_facts(run.case.expected_facts, run.record.answer)
        dups = duplicated(run.record.answer)
        expected += len(run.case.expected_facts)
        present += len(run.case.expected_facts) - len(missing)
        dup_lines += len(dups)
        rows.append(
            {"line": run.case.line, "question": run.case.question, "mode": run.record.mode,
             "missing_facts": list(missing), "duplicated_lines": list(dups), "answer": run.record.answer,
             "cited": [s.id for s in run.record.sources]}
        )  # fmt: skip
    share = present / expected if expected else 0.0
    mode = runs[0].record.mode if runs else "?"
    print(f"mode {mode}: {len(runs)} cases with expected facts, guichet from {checks.__file__}")
    print(f"expected fact present: {present}/{expected} = {share:.1%} (target ≥ {MIN_FACTS:.0%})")
    print(f"duplicated lines: {dup_lines} in {sum(bool(r['duplicated_lines']) for r in rows)} answers")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        summary = {"facts_expected": expected, "facts_present": present, "share": round(share, 4),
                   "duplicated_lines": dup_lines, "cases": rows}  # fmt: skip
        args.out.write_text(json.dumps(summary, ensure_ascii=False, indent=1), "utf-8")
    if args.check and (share < MIN_FACTS or dup_lines):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
