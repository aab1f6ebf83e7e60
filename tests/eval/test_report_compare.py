"""Aggregates of a report, its Markdown, and the comparison of two reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from guichet.evaluation.checks import check_answer
from guichet.evaluation.command import report_json
from guichet.evaluation.compare import ReportError, compare, load_report, render_comparison
from guichet.evaluation.markdown import render
from guichet.evaluation.report import build_report, case_result
from guichet.evaluation.run import CaseRun
from tests.eval.support import case, record

TEXTS = {"F1": ["Le passeport coûte 86 € en timbre fiscal."]}


def result(
    question: str, ranking: tuple[str, ...], answer: str = "Le passeport coûte 86 € [1].", **kw: Any
) -> dict[str, Any]:
    c = case(question=question, **kw)
    rec = record(answer, ("F1", ""))
    run = CaseRun(c, ranking, ranking[:3], rec, TEXTS, {"search": 0.1, "total": len(question) / 100})
    return case_result(run, check_answer(c, rec, run.evidence, TEXTS), 5)


def report(*results: dict[str, Any]) -> dict[str, Any]:
    return build_report(
        list(results), k=5, corpus={"description": "test", "fiches": 2}, setup={"mode": "extractif"}
    )


def test_retrieval_metrics_count_only_cases_that_expect_a_fiche() -> None:
    out = report(
        result("a", ("F1", "F2")),  # rank 1
        result("bb", ("F2", "F3", "F1")),  # rank 3
        result("ccc", ("F2", "F3", "F4", "F5", "F6", "F1")),  # rank 6
        result("dddd", ("F2",), expected_sources=(), expect_not_covered=True),
    )
    m = out["metrics"]
    assert (m["hit_at_1"], m["hit_at_3"], m["hit_at_5"]) == (0.3333, 0.6667, 0.6667)
    assert out["mrr"] == m["mrr"] == round((1 + 1 / 3 + 1 / 6) / 3, 4)
    assert m["not_covered_cases"] == 1 and m["not_covered_ok"] == 0  # it answered
    assert out["n_cases"] == 4 and len(out["cases"]) == 4
    assert out["latency"]["total"] == {"p50": 0.03, "p95": 0.04}
    assert out["cases"][2]["rank"] == 6 and out["cases"][0]["top"] == ["F1", "F2"]


def test_the_markdown_lists_the_metrics_and_the_cases_to_look_at() -> None:
    text = render(
        report(result("bien classée", ("F1",)), result("mal classée", ("F2", "F3", "F4", "F5", "F6")))
    )
    assert "| hit@5 | 0.5 |" in text
    assert "Corpus : test" in text
    assert "« mal classée »" in text and "absente des 50 premiers passages" in text
    assert "« bien classée »" not in text


def test_compare_reports_metric_deltas_and_which_cases_got_better_or_worse() -> None:
    old = report(result("a", ("F2", "F1")), result("b", ("F1",)), result("c", ("F1",)))
    invented = "Le passeport est gratuit pour les étudiants boursiers inscrits à l'université [1]."
    new = report(result("a", ("F1",)), result("b", ("F1",), answer=invented), result("d", ("F1",)))
    diff = compare(old, new)
    assert diff["metrics"]["mrr"] == {"old": 0.8333, "new": 1.0, "delta": 0.1667, "better": True}
    assert diff["metrics"]["ungrounded_claims"]["better"] is False
    assert [e["question"] for e in diff["better"]] == ["a"]
    assert diff["better"][0]["changes"] == ["rang 2 → 1"]
    assert [e["question"] for e in diff["worse"]] == ["b"]
    assert (diff["added"], diff["removed"]) == (1, 1)
    text = render_comparison(diff)
    assert "### Moins bien (1)" in text and "« b »" in text and "✅" in text


def test_an_unreadable_previous_report_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"hit_at_5": 1}), "utf-8")
    with pytest.raises(ReportError, match="rapport JSON"):
        load_report(path)
    with pytest.raises(ReportError, match="illisible"):
        load_report(tmp_path / "absent.json")


def test_the_json_file_reads_back_as_the_report_with_one_line_per_case() -> None:
    out = report(result("a", ("F1",)), result("b", ("F2", "F1")))
    text = report_json(out)
    assert json.loads(text) == out
    assert sum(line.startswith('  {"line"') for line in text.splitlines()) == 2
