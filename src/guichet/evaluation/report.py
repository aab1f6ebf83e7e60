"""The evaluation report: aggregates and per-case results, as JSON (for --compare and CI) and Markdown.

The JSON's top level holds SPEC.md's keys (hit_at_5, mrr, ungrounded_claims, cases) beside "metrics"
(every aggregate, the ones compare.py diffs), "latency" (p50/p95 per stage), "by_difficulty" and
"corpus" (what the index held: the gate runs on a subset of the fiches, and says which).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from guichet.evaluation.cases import split_of
from guichet.evaluation.checks import Checks, claims
from guichet.evaluation.ranking import first_rank, percentile
from guichet.evaluation.run import CaseRun

CUTOFFS = (1, 3, 5)
STAGES = ("search", "evidence", "answer", "first_token", "total")
# Metrics where a higher value is better; every other one counts problems (lower is better).
HIGHER_IS_BETTER = frozenset(
    {"hit_at_1", "hit_at_3", "hit_at_5", "hit_at_k", "mrr", "evidence_recall", "cited_expected",
     "branch_ok", "not_covered_ok", "judge_mean", "facts_present"}
)  # fmt: skip


def case_result(run: CaseRun, checks: Checks, k: int) -> dict[str, Any]:
    case, record = run.case, run.record
    rank = first_rank(run.ranking, case.expected_sources) if case.expected_sources else None
    result: dict[str, Any] = {
        "line": case.line,
        "question": case.question,
        "audience": case.audience,
        "situation": case.situation,
        "difficulty": case.difficulty,
        "theme": case.theme,
        "split": split_of(case),
        "expected_sources": list(case.expected_sources),
        "expected_facts": len(case.expected_facts),
        "rank": rank,
        "top": list(run.ranking[:k]),
        "in_evidence": bool(set(case.expected_sources) & set(run.evidence)),
        "cited": [s.id for s in record.sources],
        "mode": record.mode,
        "claims": len(claims(record.answer)),
        "counts": {name: n for name, n in checks.counts().items() if n},  # zeros left out: small reports
        "problems": {
            name: list(value) for name, value in vars(checks).items() if isinstance(value, tuple) and value
        },
        "branch": checks.branch,
        "coverage": checks.coverage,
        "stages": run.stages,
    }
    if record.notice:  # why an answer is extractive (no model, model failed, draft unusable) or cut
        result["notice"] = record.notice
    if run.judge:
        result["judge"] = run.judge
    return result


def build_report(
    results: Sequence[dict[str, Any]], *, k: int, corpus: Mapping[str, Any], setup: Mapping[str, Any]
) -> dict[str, Any]:
    metrics = aggregate(results, k)
    return {
        "hit_at_5": metrics["hit_at_5"],
        "mrr": metrics["mrr"],
        "ungrounded_claims": metrics["ungrounded_claims"],
        "n_cases": len(results),
        "metrics": metrics,
        "latency": latency(results),
        "by_difficulty": by_difficulty(results, k),
        # Thresholds are tuned on dev; held-out is what they are reported on (evaluation.cases.split_of).
        "by_split": {
            split: aggregate(group, k)
            for split in ("dev", "heldout")
            if (group := [r for r in results if r.get("split") == split])
        },
        "corpus": dict(corpus),
        "setup": dict(setup),
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cases": list(results),
    }


def _rate(values: Sequence[bool | float]) -> float:
    return round(sum(float(v) for v in values) / len(values), 4) if values else 0.0


def retrieval(results: Sequence[dict[str, Any]], k: int) -> dict[str, float]:
    ranked = [r for r in results if r["expected_sources"]]
    ranks = [r["rank"] for r in ranked]
    out = {f"hit_at_{c}": _rate([x is not None and x <= c for x in ranks]) for c in CUTOFFS}
    out["hit_at_k"] = _rate([x is not None and x <= k for x in ranks])
    out["mrr"] = _rate([1 / x if x else 0.0 for x in ranks])
    return out


def aggregate(results: Sequence[dict[str, Any]], k: int) -> dict[str, Any]:
    ranked = [r for r in results if r["expected_sources"]]
    totals = dict.fromkeys(Checks().counts(), 0)
    for r in results:
        for name, n in r["counts"].items():
            totals[name] = totals.get(name, 0) + n
    branch_cases = [r for r in results if r["branch"]]
    uncovered = [r for r in results if not r["expected_sources"]]
    metrics: dict[str, Any] = {
        **retrieval(results, k),
        "k": k,
        "evidence_recall": _rate([r["in_evidence"] for r in ranked]),
        "cited_expected": _rate([bool(set(r["cited"]) & set(r["expected_sources"])) for r in ranked]),
        "claims": sum(r["claims"] for r in results),
        "facts_present": _facts_present(results),
        **totals,
        "branch_cases": len(branch_cases),
        "branch_ok": sum(r["branch"] == "ok" for r in branch_cases),
        "not_covered_cases": len(uncovered),
        "not_covered_ok": sum(r["coverage"] == "ok" for r in uncovered),
        "declined_in_corpus": sum(r["coverage"] == "said_not_covered" for r in ranked),
        "ranked_cases": len(ranked),
    }
    judged = [float(r["judge"]["score"]) for r in results if isinstance(r.get("judge", {}).get("score"), int)]
    if judged:
        metrics["judge_mean"] = round(sum(judged) / len(judged), 3)
    return metrics


def _facts_present(results: Sequence[dict[str, Any]]) -> float:
    """Share of all the cases' expected facts found in their answers."""
    expected = sum(int(r.get("expected_facts", 0)) for r in results)
    missing = sum(int(r["counts"].get("missing_facts", 0)) for r in results)
    return round((expected - missing) / expected, 4) if expected else 1.0


def latency(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out = {}
    for stage in STAGES:
        values = [float(r["stages"][stage]) for r in results if stage in r["stages"]]
        out[stage] = {"p50": round(percentile(values, 50), 4), "p95": round(percentile(values, 95), 4)}
    return out


def by_difficulty(results: Sequence[dict[str, Any]], k: int) -> dict[str, dict[str, float]]:
    levels = sorted({r["difficulty"] for r in results if r["difficulty"] is not None})
    out = {}
    for level in levels:
        group = [r for r in results if r["difficulty"] == level]
        ranked = [r for r in group if r["expected_sources"]]
        out[str(level)] = {"cases": len(group), **(retrieval(ranked, k) if ranked else {})}
    return out
