"""`guichet eval` as a user runs it: reports, thresholds and exit codes (0 ok, 1 below a threshold or
failure, 2 usage error or invalid question set)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guichet.answer.store import AnswerRepository, Feedback
from guichet.ports.stores.local import LocalObjectStore
from tests.eval.support import guichet, record


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval-cli")
    docs = root / "docs"
    docs.mkdir()
    (docs / "cheque.txt").write_text(
        "Le chèque énergie est envoyé automatiquement chaque année aux foyers modestes, sans démarche.",
        "utf-8",
    )
    (docs / "passeport.txt").write_text(
        "Le passeport d'un majeur coûte 86 € en timbre fiscal. La demande se fait dans une mairie équipée.",
        "utf-8",
    )
    ingested = guichet(root / "data", "ingest", str(docs))
    assert ingested.returncode == 0, ingested.stderr
    return root / "data"


def cases(tmp_path: Path, *lines: dict[str, object]) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), "utf-8")
    return path


CHEQUE = {"question": "Faut-il demander le chèque énergie ?", "expected_sources": ["docs/cheque.txt"]}
PASSPORT = {
    "question": "Combien coûte le passeport d'un majeur ?",
    "expected_sources": ["docs/passeport.txt"],
    "expected_facts": ["86 €"],
}


def test_json_report_has_the_spec_keys_and_each_case(data: Path, tmp_path: Path) -> None:
    result = guichet(data, "eval", str(cases(tmp_path, CHEQUE, PASSPORT)), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["hit_at_5"] == 1.0 and report["mrr"] == 1.0
    assert report["ungrounded_claims"] == 0
    assert [c["expected_sources"] for c in report["cases"]] == [["docs/cheque.txt"], ["docs/passeport.txt"]]
    assert report["setup"]["mode"] == "extractif"
    assert set(report["latency"]["total"]) == {"p50", "p95"}


def test_a_threshold_not_met_fails_with_a_french_reason(data: Path, tmp_path: Path) -> None:
    second = {"question": "Combien coûte le passeport d'un majeur ?", "expected_sources": ["docs/cheque.txt"]}
    result = guichet(
        data, "eval", str(cases(tmp_path, CHEQUE, second)), "--min-hit-at-5", "0.9", "--min-mrr", "0.9"
    )
    assert result.returncode == 1
    assert "MRR = 0.750, sous le seuil de 0.900" in result.stderr  # the cheque fiche comes second
    assert "hit@5" not in result.stderr  # 1.0 is above 0.9
    assert "# Évaluation guichet" in result.stdout


def test_a_case_whose_fiches_are_not_indexed_must_be_declined(data: Path, tmp_path: Path) -> None:
    """Crit'Air is in the national dump, not in a 403-fiche slice: on the slice, "not covered" is right."""
    absent = {"question": "Combien coûte le passeport ?", "expected_sources": ["docs/absent.txt"]}
    result = guichet(data, "eval", str(cases(tmp_path, CHEQUE, absent)), "--json", "--min-declined", "0.5")
    assert result.returncode == 1  # the passport question is answered from passeport.txt
    assert "questions hors corpus déclinées = 0.000, sous le seuil de 0.500" in result.stderr
    report = json.loads(result.stdout)
    assert report["setup"]["out_of_index"] == 1
    assert report["hit_at_5"] == 1.0  # the absent fiche is not counted as a retrieval miss
    assert [c["coverage"] for c in report["cases"]] == ["ok", "answered_out_of_corpus"]


def test_in_corpus_cases_declined_above_the_bar_fail(data: Path, tmp_path: Path) -> None:
    crepes = {
        "question": "Quelle est la recette de la pâte à crêpes ?",
        "expected_sources": ["docs/cheque.txt"],
    }
    limits = ("--max-wrongly-declined", "0.2", "--min-declined", "0.9")
    result = guichet(data, "eval", str(cases(tmp_path, CHEQUE, crepes)), *limits)
    assert result.returncode == 1
    assert "questions couvertes déclinées à tort = 0.500, au-dessus du seuil de 0.200" in result.stderr
    assert "hors corpus déclinées" not in result.stderr  # no out-of-corpus case: nothing to check


def test_out_dir_writes_both_reports_and_compare_shows_the_changes(data: Path, tmp_path: Path) -> None:
    first = guichet(data, "eval", str(cases(tmp_path, CHEQUE)), "--out-dir", str(tmp_path / "old"))
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "old" / "report.md").read_text("utf-8") == first.stdout.rstrip("\n") + "\n"
    second = guichet(
        data,
        "eval",
        str(cases(tmp_path, CHEQUE, PASSPORT)),
        "--compare",
        str(tmp_path / "old" / "report.json"),
    )
    assert second.returncode == 0, second.stderr
    assert "## Comparaison avec le rapport précédent" in second.stdout
    assert "Cas ajoutés : 1, retirés : 0." in second.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "indiquez un jeu de questions"),
        (("--from-feedback", "x.jsonl"), "n'attend pas de jeu de questions"),
        (("x.jsonl", "--out", "y.jsonl"), "--out ne sert qu'avec --from-feedback"),
        (("x.jsonl", "--min-mrr", "2"), "--min-mrr"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = guichet(tmp_path, "eval", *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_an_invalid_question_set_or_previous_report_exits_2(data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "expected_sources": []}\n{"question": "q2"}\n', "utf-8")
    result = guichet(data, "eval", str(bad))
    assert result.returncode == 2 and "bad.jsonl:2" in result.stderr and "expected_sources" in result.stderr
    result = guichet(data, "eval", str(cases(tmp_path, CHEQUE)), "--compare", str(tmp_path / "none.json"))
    assert result.returncode == 2 and "rapport illisible" in result.stderr


def test_an_empty_index_fails_with_what_to_do(tmp_path: Path) -> None:
    result = guichet(tmp_path / "empty", "eval", str(cases(tmp_path, CHEQUE)))
    assert result.returncode == 1
    assert "l'index est vide" in result.stderr


def test_from_feedback_writes_the_cases_to_review(tmp_path: Path) -> None:
    answers = AnswerRepository(LocalObjectStore(tmp_path / "answers"))
    answered = record("Réponse [1].", ("F1341", ""))
    answers.put(answered)
    answers.add_feedback(Feedback(answered.id, "down", ("source erronée",), "mauvaise fiche"))
    result = guichet(tmp_path, "eval", "--from-feedback", "--out", str(tmp_path / "review.jsonl"))
    assert result.returncode == 0, result.stderr
    assert "1 cas exportés" in result.stderr
    exported = json.loads((tmp_path / "review.jsonl").read_text("utf-8"))
    assert exported["expected_sources"] == ["F1341"] and exported["feedback"]["comments"] == [
        "mauvaise fiche"
    ]
