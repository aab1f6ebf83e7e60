"""A case of another fiche that the question does not name is left out of the model's prompt too, as the
extractive composer leaves it out (answer/unasked.py)."""

from __future__ import annotations

from pathlib import Path

from guichet.answer.drafting import draft_answer
from guichet.answer.generation import GenerationOptions
from guichet.answer.live_events import EventWriter
from guichet.answer.record import AskJob, new_answer_id
from guichet.ports.answer_streams.local import LocalAnswerStream
from guichet.testing.scripted_llm import ScriptedChatModel
from tests.unit.test_extractive_composer import extract

QUESTION = "À partir de quel âge peut-on demander l'allocation Aspa ?"
GENERAL = "L'allocation Aspa est versée dès l'âge de 65 ans."
COMMON = "L'allocation Aspa est récupérable sur la succession."
VETERAN = "L'allocation Aspa est versée à partir de 60 ans aux anciens combattants."


def prompt_of(question: str, situation: str, tmp_path: Path) -> str:
    extracts = [
        extract(1, "F1", GENERAL),
        extract(2, "F2", COMMON),
        extract(3, "F2", VETERAN, branch="Ancien combattant"),
    ]
    model = ScriptedChatModel("Dès 65 ans [1].")
    stream = LocalAnswerStream(tmp_path / "events.sqlite3")
    job = AskJob(new_answer_id(), question, "particuliers", situation)
    draft_answer(
        model,
        job,
        extracts,
        EventWriter(stream, job.id, 1),
        GenerationOptions(retries=0),
        prompt_chars=24_000,
    )
    stream.close()
    return model.calls[0][-1].content


def test_another_fiche_s_case_nobody_asked_about_is_not_in_the_prompt(tmp_path: Path) -> None:
    prompt = prompt_of(QUESTION, "", tmp_path)
    assert GENERAL in prompt and COMMON in prompt and VETERAN not in prompt
    assert '<extrait n="2">' in prompt and '<extrait n="3">' not in prompt, "numbered again from 1"


def test_a_case_the_question_names_stays_in_the_prompt(tmp_path: Path) -> None:
    prompt = prompt_of("À partir de quel âge un ancien combattant peut-il demander l'Aspa ?", "", tmp_path)
    assert VETERAN in prompt and '<extrait n="3">' in prompt
