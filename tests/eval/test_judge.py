"""The optional LLM judge, against a scripted model: grades read, unreadable replies and outages."""

from __future__ import annotations

from guichet.evaluation.judge import judge_answer, parse_grade
from guichet.testing.scripted_llm import ScriptedChatModel


def test_the_judge_sees_the_answer_and_its_sources_and_its_grade_is_read() -> None:
    model = ScriptedChatModel("NOTE : 1 — fidèle mais il manque le tarif.")
    verdict = judge_answer(
        model, "Prix du passeport ?", "", "Il coûte 86 € [1].", ["Le passeport coûte 86 €."]
    )
    assert verdict == {"score": 1, "reason": "fidèle mais il manque le tarif."}
    prompt = model.calls[0][-1].content
    assert "Prix du passeport ?" in prompt and "Il coûte 86 € [1]." in prompt and "coûte 86 €." in prompt


def test_an_unreadable_reply_is_an_error_not_a_grade() -> None:
    assert "error" in judge_answer(ScriptedChatModel("Très bonne réponse !"), "q", "", "r", [])
    assert parse_grade("note: 2") == {"score": 2, "reason": ""}
    assert "error" in parse_grade("NOTE : 5")


def test_a_model_outage_is_recorded_as_an_error() -> None:
    verdict = judge_answer(ScriptedChatModel("NOTE : 2", fail_first=1), "q", "", "r", [])
    assert str(verdict["error"]).startswith("juge indisponible")
