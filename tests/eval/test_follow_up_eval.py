"""Follow-up cases through the evaluation: the previous question answered by the pipeline first, the
follow-up with the thread built from its record, and the report's follow-up figures (sample fiches, the
hashing embedder: fast; the figures on the real fiches come from benchmarks/eval_follow_ups.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from guichet.answer.pipeline import AnswerOptions
from guichet.evaluation.command import EvalOptions, evaluate_file
from guichet.evaluation.follow_up_command import evaluate_follow_ups
from guichet.evaluation.follow_ups import is_follow_up_file, load_follow_ups, run_follow_ups
from guichet.evaluation.run import RecordingRetriever
from guichet.indexing.bulk_ingest import ingest_into
from guichet.process.serve import sample_corpus_dir
from guichet.settings import Settings
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.wiring import Stack

LINES = [
    {
        "previous": {"question": "Comment renouveler une carte d'identité ?", "expected_sources": ["F21089"]},
        "question": "Quel justificatif de domicile ?",
        "expected_sources": ["F14807"],
    },
    {
        "previous": {"question": "Comment toucher la prime d'activité ?", "situation": "salarié"},
        "question": "Et pour le RSA ?",
        "expected_sources": ["F19778"],
    },
]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(Settings(data_dir=tmp_path / "data"), embedder=HashingEmbedder(), announce_writes=False)
    ingest_into(stack, [sample_corpus_dir()], prefix="exemples", progress=False)
    yield stack
    stack.close()


def write(tmp_path: Path, lines: list[dict[str, object]]) -> Path:
    path = tmp_path / "follow_ups.jsonl"
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), "utf-8")
    return path


def test_follow_ups_run_with_their_thread_and_report_both_figures(stack: Stack, tmp_path: Path) -> None:
    path = write(tmp_path, LINES)
    assert is_follow_up_file(path)
    report = evaluate_follow_ups(stack, load_follow_ups(path), EvalOptions(), question_set=path.name)
    assert [c["question"] for c in report["cases"]] == ["Quel justificatif de domicile ?", "Et pour le RSA ?"]
    summary = report["follow_ups"]
    assert summary["cases"] == 2 and summary["k"] == 5
    assert 0.0 <= summary["found_alone"] <= 1.0 and 0.0 <= summary["previous_found"] <= 1.0
    assert summary["found_with_thread"] == report["hit_at_5"]
    assert summary["missed_with_thread"] == [
        c["line"] for c in report["cases"] if not (c["rank"] and c["rank"] <= 5)
    ]


def test_the_evaluated_follow_up_is_asked_with_the_thread(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries: list[str] = []
    search = RecordingRetriever.search

    def spy(self: RecordingRetriever, query: str, **kwargs: object) -> object:
        queries.append(query)
        return search(self, query, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(RecordingRetriever, "search", spy)
    cases = load_follow_ups(write(tmp_path, LINES[1:]))
    [run] = run_follow_ups(cases, stack.index, stack.embedder, None, AnswerOptions())
    [turn] = run.run.record.thread
    assert turn.question == "Comment toucher la prime d'activité ?" and turn.situation == "salarié"
    assert turn.sources and turn.sources[0].id == run.previous.record.sources[0].id
    assert "Et pour le RSA ?\nComment toucher la prime d'activité ?\nsalarié" in queries
    assert "Et pour le RSA ?" in queries  # the same question alone, for the "found_alone" figure


def test_guichet_eval_recognises_a_follow_up_file_and_reports_invalid_lines(tmp_path: Path) -> None:
    from guichet.evaluation.cases import CaseFileError

    bad = write(tmp_path, [{**LINES[0], "previous": {"question": "Q", "typo": True}}])
    with pytest.raises(CaseFileError, match="previous"):
        evaluate_file(Settings(data_dir=tmp_path / "empty"), bad, EvalOptions())
