"""Where personal data goes: masked before the queue, the record and feedback; purged after retention."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from guichet.access.personal_data import mask
from guichet.access.retention import DAY_S, purge
from guichet.answer.record import AnswerRecord, AskJob
from guichet.api.app import create_app
from guichet.cli.main import app as cli_app
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.stores.local import LocalObjectStore
from guichet.wiring import Stack

SITUATION = "Mme Dupont, née le 12/03/1985, tél. 06 12 34 56 78, habite 12 rue de la Paix, 75002 Paris."


def test_ask_is_masked_before_queue_and_record(embedded_stack: Stack) -> None:
    client = TestClient(create_app(embedded_stack))
    question = "Ma voisine jean.dupont@gmail.com peut-elle toucher l'APL ?"
    response = client.post("/v1/ask", json={"question": question, "situation": SITUATION})
    assert response.status_code == 202, response.text
    answer_id = response.json()["id"]
    record = embedded_stack.answers.get(answer_id)
    assert record is not None
    assert record.question == "Ma voisine [EMAIL] peut-elle toucher l'APL ?"
    assert record.situation == (
        "Mme [NOM], née le [DATE_NAISSANCE] (année 1985), tél. [TÉLÉPHONE], habite [ADRESSE]."
    )
    broker = embedded_stack.broker
    assert isinstance(broker, MemoryBroker)
    (message,) = broker.messages(embedded_stack.settings.ask_queue)
    job = AskJob.from_json(message.body)
    assert job.situation == record.situation and "Dupont" not in job.question + job.situation


def test_feedback_comment_is_masked(embedded_stack: Stack) -> None:
    job = AskJob("a" * 32, "Question ?")
    embedded_stack.answers.put(AnswerRecord.queued(job).failed("x", "y"))  # final: feedback accepted
    client = TestClient(create_app(embedded_stack))
    comment = "M. Martin (IBAN FR76 3000 6000 0112 3456 7890 189) dit que la réponse est fausse."
    sent = client.post(f"/v1/answers/{job.id}/feedback", json={"rating": "down", "comment": comment})
    assert sent.status_code == 201, sent.text
    (stored,) = embedded_stack.answers.store.list("feedback/")
    body = json.loads(embedded_stack.answers.store.get(stored.key))
    assert body["comment"] == "M. [NOM] (IBAN [IBAN]) dit que la réponse est fausse."


def age(store: LocalObjectStore, key: str, days: float) -> None:
    path = store.root / key
    assert path.exists()
    stamp = time.time() - days * DAY_S
    os.utime(path, (stamp, stamp))


@pytest.fixture
def answers(tmp_path: Path) -> LocalObjectStore:
    store = LocalObjectStore(tmp_path / "answers")
    for key in ("answers/old.json", "answers/new.json", "feedback/x/old.json", "feedback/x/new.json"):
        store.put(key, b"{}")
    store.put("access/keys/abcdefabcdef.json", b"{}")
    for key in ("answers/old.json", "feedback/x/old.json", "access/keys/abcdefabcdef.json"):
        age(store, key, 400)
    age(store, "feedback/x/new.json", 40)  # older than answers' 30 days, younger than feedback's 365
    return store


def keys_of(store: LocalObjectStore) -> set[str]:
    return {o.key for o in store.list()}


def test_purge_deletes_what_is_past_retention(answers: LocalObjectStore) -> None:
    report = purge(answers, answer_days=30, feedback_days=365)
    assert report.deleted == {"answers": 1, "feedback": 1} and report.kept == {"answers": 1, "feedback": 1}
    assert keys_of(answers) == {"answers/new.json", "feedback/x/new.json", "access/keys/abcdefabcdef.json"}


def test_purge_dry_run_and_zero_days(answers: LocalObjectStore) -> None:
    before = keys_of(answers)
    assert purge(answers, answer_days=30, feedback_days=30, dry_run=True).deleted == {
        "answers": 1,
        "feedback": 2,
    }
    assert keys_of(answers) == before
    assert purge(answers, answer_days=0, feedback_days=0).deleted == {"answers": 0, "feedback": 0}
    later = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
    assert purge(answers, answer_days=1, feedback_days=0, now=later).deleted["answers"] == 2


def test_purge_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUICHET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GUICHET_ANSWER_RETENTION_DAYS", "7")
    store = LocalObjectStore(tmp_path / "answers")
    store.put("answers/old.json", b"{}")
    age(store, "answers/old.json", 8)
    runner = CliRunner()
    dry = runner.invoke(cli_app, ["purge", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["deleted"]["answers"] == 1 and keys_of(store) == {"answers/old.json"}
    done = runner.invoke(cli_app, ["purge"])
    assert done.exit_code == 0 and "supprimés : 1" in done.stdout
    assert keys_of(store) == set()


# -- names as advisors write them (issue 18) -------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Mon usager Jean Dupont a perdu sa carte.", "Mon usager [NOM] a perdu sa carte."),
        ("Le client Martin Durand veut le RSA.", "Le client [NOM] veut le RSA."),
        ("Pour son fils Lucas, 12 ans.", "Pour son fils [NOM], 12 ans."),
        ("Jean-Pierre Lambert a perdu son permis.", "[NOM] a perdu son permis."),
    ],
)
def test_names_after_advisors_cues_and_known_given_names_are_masked(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Le lycée Jean Moulin a fermé.",
        "Elle va à l'hôpital Louis Pasteur.",
        "Mon usager veut savoir si France Travail le radie.",
        "Son fils a 12 ans : quels papiers ?",
        "Il est né à Saint-Pierre et Miquelon.",
    ],
)
def test_places_and_bodies_named_after_people_stay(text: str) -> None:
    assert mask(text) == text
