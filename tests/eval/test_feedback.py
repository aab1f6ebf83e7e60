"""Thumbs-down feedback, written through the answer repository, comes back as cases to review."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from guichet.answer.store import AnswerRepository, Feedback
from guichet.evaluation.cases import parse_case
from guichet.evaluation.feedback import REVIEW_MARK, export_feedback
from guichet.ports.stores.local import LocalObjectStore
from tests.eval.support import record


def test_thumbs_down_become_review_cases_with_their_reasons_and_sources(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "answers")
    answers = AnswerRepository(store)
    wrong = replace(
        record("Réponse [1][2].", ("F1341", ""), ("F1427", "")), id="a" * 32, situation="Né au Maroc"
    )
    fine = replace(record("Bonne réponse [1].", ("F2", "")), id="b" * 32)
    answers.put(wrong)
    answers.put(fine)
    answers.add_feedback(Feedback(wrong.id, "down", ("source erronée",), "il fallait la fiche F1341"))
    answers.add_feedback(Feedback(wrong.id, "down", ("incomplet", "source erronée")))
    answers.add_feedback(Feedback(fine.id, "up"))
    answers.add_feedback(Feedback("c" * 32, "down", ("hors sujet",)))  # its record is gone

    export = export_feedback(store)

    assert export.orphans == 1
    assert len(export.cases) == 1
    exported = export.cases[0]
    assert exported["question"] == wrong.question and exported["situation"] == "Né au Maroc"
    assert exported["expected_sources"] == ["F1341", "F1427"]
    assert exported["review"] == REVIEW_MARK
    assert exported["feedback"]["reasons"] == ["source erronée", "incomplet"]
    assert exported["feedback"]["comments"] == ["il fallait la fiche F1341"]
    # The export is a valid question set line.
    line = export.jsonl().strip()
    assert parse_case(line).expected_sources == ("F1341", "F1427")
    assert json.loads(line)["feedback"]["answer_id"] == wrong.id


def test_no_feedback_exports_nothing(tmp_path: Path) -> None:
    export = export_feedback(LocalObjectStore(tmp_path))
    assert export.cases == [] and export.jsonl() == ""
