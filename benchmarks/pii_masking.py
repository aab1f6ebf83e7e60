"""Precision and recall of the personal-data masking (src/guichet/access/personal_data.py) on a labelled set.

Usage: python benchmarks/pii_masking.py [--cases FILE.jsonl ...] [--json] [--errors]
A found span counts when a gold span of the same type overlaps it at IoU >= 0.5 (and conversely for
recall). "leaked" counts the gold characters that no found span of any type covers: what would reach a
log or a record in clear.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from guichet.access.personal_data import KINDS, Span, find

REPO = Path(__file__).resolve().parents[1]
# The development set (written with the code) and the held-out set (written after it, measured first).
DEFAULT_CASES = [
    REPO / "tests" / "data" / "pii_cases.jsonl",
    REPO / "tests" / "data" / "pii_cases_holdout.jsonl",
    # Issue 18: names after advisors' cues and known given names, with hard negatives (places, bodies).
    REPO / "tests" / "data" / "pii_cases_names.jsonl",
]


def iou(a: Span, b: Span) -> float:
    inter = max(0, min(a.end, b.end) - max(a.start, b.start))
    union = max(a.end, b.end) - min(a.start, b.start)
    return inter / union if union else 0.0


def matches(span: Span, others: list[Span]) -> bool:
    return any(o.kind == span.kind and iou(span, o) >= 0.5 for o in others)


def score(cases: list[dict[str, object]]) -> tuple[dict[str, object], list[str]]:
    tp_found, found_n, tp_gold, gold_n = Counter[str](), Counter[str](), Counter[str](), Counter[str]()
    leaked = gold_chars = 0
    errors: list[str] = []
    for case in cases:
        text = str(case["text"])
        gold = [Span(int(s["start"]), int(s["end"]), str(s["type"])) for s in case["spans"]]  # type: ignore[attr-defined]
        found = find(text)
        tallies = (("FP", found, gold, tp_found, found_n), ("FN", gold, found, tp_gold, gold_n))
        for label, spans, others, hits, totals in tallies:
            for span in spans:
                totals[span.kind] += 1
                if matches(span, others):
                    hits[span.kind] += 1
                else:
                    errors.append(f"{label} {span.kind:<15} {text[span.start : span.end]!r} in {text!r}")
        covered = {i for f in found for i in range(f.start, f.end)}
        for span in gold:
            gold_chars += span.end - span.start
            leaked += sum(1 for i in range(span.start, span.end) if i not in covered)
    per_type = {
        kind: _pr(tp_found[kind], found_n[kind], tp_gold[kind], gold_n[kind])
        for kind in KINDS
        if found_n[kind] or gold_n[kind]
    }
    overall = _pr(sum(tp_found.values()), sum(found_n.values()), sum(tp_gold.values()), sum(gold_n.values()))
    result: dict[str, object] = {
        "sentences": len(cases),
        "per_type": per_type,
        "overall": overall,
        "leaked_chars": leaked,
        "gold_chars": gold_chars,
    }
    return result, errors


def _pr(tp_found: int, found: int, tp_gold: int, gold: int) -> dict[str, float | int]:
    return {
        "precision": round(tp_found / found, 3) if found else 1.0,
        "recall": round(tp_gold / gold, 3) if gold else 1.0,
        "found": found,
        "gold": gold,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, nargs="+", default=DEFAULT_CASES)
    parser.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    parser.add_argument("--errors", action="store_true", help="print every false positive and negative")
    args = parser.parse_args()
    lines = [line for path in args.cases for line in path.read_text(encoding="utf-8").splitlines()]
    result, errors = score([json.loads(line) for line in lines if line.strip()])
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{result['sentences']} sentences, {len(errors)} errors")
        print(f"{'type':<16}{'precision':>10}{'recall':>8}{'found':>7}{'gold':>6}")
        rows = {**result["per_type"], "overall": result["overall"]}  # type: ignore[dict-item]
        for kind, m in rows.items():
            print(f"{kind:<16}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['found']:>7}{m['gold']:>6}")
        print(f"leaked characters: {result['leaked_chars']} of {result['gold_chars']}")
    if args.errors:
        print("\n".join(errors), file=sys.stderr)


if __name__ == "__main__":
    main()
