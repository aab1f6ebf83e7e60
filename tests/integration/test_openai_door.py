"""The OpenAI-compatible door with the official `openai` client, and follow-up questions through POST
/v1/ask: over HTTP (uvicorn), through the memory broker's ask queue, the answer worker's consumers and the
guard, on the embedded stack with the sample fiches; access control on (site keys as bearer tokens).

The language model is scripted (ScriptedChatModel): these tests certify the door, the thread and the
pipeline around the model, not a model's answers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from guichet.access.keys import KeyRepository
from guichet.answer.record import AnswerRecord, AskJob, new_answer_id
from guichet.testing.helpers import wait_for
from tests.browser.stack import Served, served_stack

QUESTION = "Comment faire une première demande de carte d'identité ?"
FOLLOW_UP = "Et s'il est mineur ?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_stack(tmp_path_factory.mktemp("openai-door"), delay=0.001) as served:
        yield served


def new_key(served: Served, site: str) -> str:
    key = KeyRepository(served.stack.answers.store).create(site, "advisor", "tests de la porte OpenAI")[1]
    # The replica reloads its keys for an unknown one at most once a second (access/keys.py).
    headers = {"Authorization": f"Bearer {key}"}
    wait_for(lambda: httpx.get(f"{served.url}/v1/models", headers=headers).status_code == 200, timeout=30)
    return key


@pytest.fixture
def site_key(served: Served) -> str:
    """A key of a site of this test's own: the per-site rate of asks is not shared between tests."""
    return new_key(served, f"site-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def client(served: Served, site_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{served.url}/v1", api_key=site_key, max_retries=0, timeout=60)


@pytest.fixture
def other_site_key(served: Served) -> str:
    return new_key(served, f"autre-{uuid.uuid4().hex[:8]}")


def record_of(completion: Any) -> dict[str, Any]:
    extra = completion.model_extra or {}
    assert "guichet" in extra, "the answer record is missing from the completion"
    return dict(extra["guichet"])


def prompts_with(served: Served, text: str) -> list[str]:
    return [call[-1].content for call in served.model.calls if text in call[-1].content]


def test_models_lists_guichet(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["guichet"]
    assert client.models.retrieve("guichet").owned_by == "guichet"


def test_a_completion_is_an_answer_of_the_worker_with_footnotes_and_its_record(
    client: openai.OpenAI, served: Served
) -> None:
    completion = client.chat.completions.create(
        model="guichet", messages=[{"role": "user", "content": QUESTION}]
    )
    record = record_of(completion)
    stored = httpx.get(
        f"{served.url}/v1/answers/{record['id']}", headers={"Authorization": f"Bearer {served.key}"}
    ).json()
    assert record == stored and record["status"] == "done" and record["site"].startswith("site-")
    assert prompts_with(served, QUESTION), "the question did not reach the model through the worker"
    content = completion.choices[0].message.content or ""
    assert completion.choices[0].finish_reason == "stop" and completion.model == "guichet"
    assert "[^1]" in content and "[1]" not in content
    source = record["sources"][0]
    # A sample fiche (EX- id) has no page: its footnote is its title alone.
    linked = f"[{source['title']}](<{source['url']}>)" if source["url"] else source["title"]
    assert f"[^1]: {linked}" in content
    for question in record["related_questions"]:
        assert question["url"] in content
    assert content.endswith(f"Réf. guichet : {record['id']}")


def test_streaming_sends_the_same_answer_then_the_record(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="guichet", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    record = record_of(chunks[-1])
    assert record["status"] == "done" and "[^1]" in text
    assert text.endswith(f"Réf. guichet : {record['id']}")
    assert len({c.id for c in chunks}) == 1 and chunks[0].id == f"chatcmpl-{record['id']}"


@pytest.mark.parametrize("stream", [False, True])
def test_a_bad_key_is_401_in_openai_shape(served: Served, stream: bool) -> None:
    bad = openai.OpenAI(base_url=f"{served.url}/v1", api_key="gk_000000000000_" + "x" * 40, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(
            model="guichet", messages=[{"role": "user", "content": QUESTION}], stream=stream
        )
    assert caught.value.status_code == 401
    body: Any = caught.value.body
    assert body["type"] == "authentication_error" and body["code"] == "cle_invalide"
    assert "Clé d'API invalide" in body["message"]
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("content", ["", "   \n ", [{"type": "text", "text": " "}]])
def test_an_empty_question_is_400_in_openai_shape(client: openai.OpenAI, stream: bool, content: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="guichet", messages=[{"role": "user", "content": content}], stream=stream
        )
    body: Any = caught.value.body
    assert caught.value.status_code == 400 and body["type"] == "invalid_request_error"
    assert body["code"] == "message_vide" and body["param"] == "messages"
    assert body["message"] == "La question est vide : le dernier message (role « user ») doit la contenir."


def test_other_refusals_are_in_openai_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as unknown_model:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    assert unknown_model.value.body["code"] == "modele_inconnu"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as not_last:
        client.chat.completions.create(
            model="guichet",
            messages=[{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Bonjour"}],
        )
    assert "dernier message" in not_last.value.body["message"]  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as audience:
        client.chat.completions.create(
            model="guichet",
            messages=[{"role": "user", "content": QUESTION}],
            extra_body={"metadata": {"audience": "martiens"}},
        )
    assert audience.value.body["param"] == "metadata.audience"  # type: ignore[index]


def test_a_conversation_is_answered_as_a_follow_up_of_the_answer_it_names(
    client: openai.OpenAI, served: Served
) -> None:
    first = client.chat.completions.create(
        model="guichet",
        messages=[{"role": "user", "content": QUESTION}],
        extra_body={"metadata": {"situation": "Il vit en France"}},
    )
    first_record = record_of(first)
    assert first_record["situation"] == "Il vit en France"
    messages: list[Any] = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": FOLLOW_UP},
    ]
    second = record_of(client.chat.completions.create(model="guichet", messages=messages))
    assert second["follow_up_of"] == first_record["id"] and second["question"] == FOLLOW_UP
    [turn] = second["thread"]
    assert turn["id"] == first_record["id"] and turn["question"] == QUESTION
    assert turn["sources"][0]["id"] == first_record["sources"][0]["id"]
    [prompt] = prompts_with(served, FOLLOW_UP)
    assert f"Question précédente 1 : {QUESTION}" in prompt and "Il vit en France" in prompt


def test_earlier_user_turns_are_the_thread_when_no_answer_is_named(
    client: openai.OpenAI, served: Served
) -> None:
    question = "Et pour un passeport, combien de temps ?"
    messages: list[Any] = [
        {"role": "system", "content": "Tu es un assistant.\npublic : particuliers\nsituation : né à Lyon"},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "Une réponse venue d'ailleurs."},
        {"role": "user", "content": question},
    ]
    stream = client.chat.completions.create(model="guichet", messages=messages, stream=True)
    record = record_of(list(stream)[-1])
    assert record["follow_up_of"] == "" and record["situation"] == "né à Lyon"
    assert [t["question"] for t in record["thread"]] == [QUESTION]
    [prompt] = prompts_with(served, question)
    assert f"Question précédente 1 : {QUESTION}" in prompt


def test_an_answer_of_another_site_cannot_be_followed(
    client: openai.OpenAI, served: Served, other_site_key: str
) -> None:
    first = client.chat.completions.create(model="guichet", messages=[{"role": "user", "content": QUESTION}])
    other = openai.OpenAI(base_url=f"{served.url}/v1", api_key=other_site_key, max_retries=0)
    messages: list[Any] = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": FOLLOW_UP},
    ]
    with pytest.raises(openai.PermissionDeniedError) as caught:
        other.chat.completions.create(model="guichet", messages=messages)
    assert caught.value.body["code"] == "reponse_precedente_autre_site"  # type: ignore[index]


# POST /v1/ask with follow_up_of ---------------------------------------------------------------------------


def ask(served: Served, key: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{served.url}/v1/ask", json=body, headers={"Authorization": f"Bearer {key}"})


def final(served: Served, answer_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {served.key}"}  # reads, on the browser tests' site
    with httpx.stream("GET", f"{served.url}/v1/answers/{answer_id}/stream", headers=headers, timeout=60) as r:
        for line in r.iter_lines():
            if line.startswith("event: done") or line.startswith("event: error"):
                break
    return dict(httpx.get(f"{served.url}/v1/answers/{answer_id}", headers=headers).json())


def test_ask_follow_up_keeps_the_link_the_thread_and_the_audience(served: Served, site_key: str) -> None:
    first = ask(served, site_key, question=QUESTION, audience="particuliers", situation="Majeur")
    first_record = final(served, first.json()["id"])
    second = ask(served, site_key, question=FOLLOW_UP, follow_up_of=first_record["id"])
    assert second.status_code == 202
    second_record = final(served, second.json()["id"])
    assert second_record["follow_up_of"] == first_record["id"]
    assert second_record["audience"] == "particuliers" and second_record["situation"] == ""
    assert second_record["thread"][0]["situation"] == "Majeur"
    third = ask(served, site_key, question="Et le délai ?", follow_up_of=second_record["id"])
    third_record = final(served, third.json()["id"])
    assert [t["question"] for t in third_record["thread"]] == [QUESTION, FOLLOW_UP]


def test_ask_follow_up_refusals_are_clear_and_in_french(
    served: Served, site_key: str, other_site_key: str
) -> None:
    first_record = final(served, ask(served, site_key, question=QUESTION).json()["id"])
    unknown = ask(served, site_key, question=FOLLOW_UP, follow_up_of=new_answer_id())
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "reponse_precedente_introuvable"
    malformed = ask(served, site_key, question=FOLLOW_UP, follow_up_of="abc")
    assert malformed.status_code == 422 and "follow_up_of" in malformed.json()["error"]["message"]
    other = ask(served, other_site_key, question=FOLLOW_UP, follow_up_of=first_record["id"])
    assert other.status_code == 403 and "autre site" in other.json()["error"]["message"]
    pending = AnswerRecord.queued(AskJob(new_answer_id(), QUESTION, site=first_record["site"]))
    served.stack.answers.put(pending)
    not_done = ask(served, site_key, question=FOLLOW_UP, follow_up_of=pending.id)
    assert not_done.status_code == 409 and "pas encore terminée" in not_done.json()["error"]["message"]


def test_records_written_before_follow_ups_still_read(tmp_path: Path) -> None:
    old = (
        b'{"id": "' + b"a" * 32 + b'", "status": "done", "question": "Q", "audience": "particuliers",'
        b' "situation": "", "created_at": 1.0, "answer": "R", "sources": []}'
    )
    record = AnswerRecord.from_json(old)
    assert (record.site, record.follow_up_of, record.thread) == ("", "", ())
    again = AnswerRecord.from_json(record.to_json())
    assert again == record
    assert re.fullmatch(r"[0-9a-f]{32}", new_answer_id())
