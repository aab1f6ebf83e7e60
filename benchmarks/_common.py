"""Helpers shared by the benchmark scripts (not part of the product)."""

from __future__ import annotations

import json
from pathlib import Path

from guichet.answer.thread import retrieval_query
from guichet.evaluation.cases import EvalCase
from guichet.evaluation.ranking import hit_and_rr, percentile

__all__ = ["REPO", "SHARED_FICHES", "case_query", "hit_and_rr", "load_cases", "percentile"]

REPO = Path(__file__).resolve().parents[1]
SHARED_FICHES = REPO.parent / "shared" / "fiches"


def load_cases(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def case_query(case: EvalCase) -> str:
    """The query the answer pipeline retrieves with for a case (question, then situation)."""
    return retrieval_query(case.question, case.situation, ())
