"""The ask path's HTTP functions (POST /v1/ask, answers, SSE stream, feedback) on the embedded stack."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from guichet.answer.record import AnswerRecord, AskJob, SourceRef
from guichet.api.app import create_app
from guichet.ports.answer_stream import AnswerEvent
from guichet.ports.answer_streams.local import LocalAnswerStream
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.stores.local import LocalObjectStore
from guichet.settings import Settings
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.wiring import Stack

QUESTION = "Ma carte d'identité est périmée, que faire ?"
SOURCE = SourceRef(1, "F1341", "Carte d'identité", "https://www.service-public.fr/F1341", "Extrait.")


def make_stack(tmp_path: Path, **given: Any) -> Stack:
    settings = Settings(data_dir=tmp_path, stream_heartbeat=0.05)
    embedder = HashingEmbedder()
    parts: dict[str, Any] = {
        "broker": MemoryBroker(settings.broker_path, retry_backoff=0.01),
        "embedder": embedder,
        "index": EmbeddedIndex(settings.index_path, dimension=embedder.dimension),
        "answer_stream": LocalAnswerStream(tmp_path / "events.sqlite3", poll_interval=0.01),
    }
    return Stack(settings, **{**parts, **given})


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = make_stack(tmp_path)
    yield stack
    stack.close()
    stack.answer_stream.close()
    stack.index.close()
    stack.broker.close()


@pytest.fixture
def client(stack: Stack) -> TestClient:
    return TestClient(create_app(stack))


def error_of(response: Any) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]


def ask(client: TestClient, question: str = QUESTION) -> str:
    response = client.post("/v1/ask", json={"question": question})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


class Worker:
    """Plays the answer worker's part: the record running → done, its events on the answer stream."""

    def __init__(self, stack: Stack, answer_id: str, attempt: int = 1) -> None:
        self.stack, self.attempt = stack, attempt
        stored = stack.answers.get(answer_id)
        assert stored is not None
        self.record = stored.running(attempt)
        self.seq = itertools.count()
        self.draft = ""

    def start(self) -> None:
        self.stack.answers.put(self.record)
        self.publish("status", {"status": "running", "attempt": self.attempt})
        self.publish("sources", {"sources": [{"id": SOURCE.id, "title": SOURCE.title}]})

    def write(self, *pieces: str) -> None:
        for piece in pieces:
            self.publish("token", {"text": piece, "offset": len(self.draft)})
            self.draft += piece

    def finish(self, *, announce: bool = True) -> AnswerRecord:
        done = replace(self.record, status="done", answer=self.draft, sources=(SOURCE,), mode="extractive")
        self.stack.answers.put(done)
        if announce:
            self.publish("done", done.to_dict())
        return done

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        event = AnswerEvent(self.record.id, self.attempt, next(self.seq), kind, data, time.time())  # type: ignore[arg-type]
        self.stack.answer_stream.publish(event)


def frames(response: Any) -> Iterator[dict[str, Any]]:
    """Parsed SSE frames of a streamed response: {"event", "id", "data"}; keep-alives are skipped."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
        elif fields:
            yield {"event": fields["event"], "id": fields.get("id"), "data": json.loads(fields["data"])}
            fields = {}


def follow(frames_in: Iterator[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """A client honouring the protocol: offsets applied, draft dropped on reset; (draft, frames)."""
    draft, seen = "", []
    for f in frames_in:
        seen.append(f)
        if f["event"] == "status" and f["data"].get("reset"):
            draft = ""
        elif f["event"] == "token":
            draft = draft[: f["data"]["offset"]] + f["data"]["text"]
    return draft, seen


def in_thread(action: Any) -> threading.Thread:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


# --- POST /v1/ask ------------------------------------------------------------------------------------


def test_ask_records_then_enqueues_the_job(client: TestClient, stack: Stack) -> None:
    body = {"question": f"  {QUESTION}\n", "audience": "professionnels", "situation": "Gérant\td'une SARL"}
    response = client.post("/v1/ask", json=body)
    assert response.status_code == 202
    answer_id = response.json()["id"]
    assert response.json() == {
        "id": answer_id,
        "status": "queued",
        "links": {"self": f"/v1/answers/{answer_id}", "stream": f"/v1/answers/{answer_id}/stream"},
    }
    assert response.headers["location"] == f"/v1/answers/{answer_id}"
    envelope = stack.broker.get(stack.settings.ask_queue)
    assert envelope is not None and envelope.message_id == answer_id
    job = AskJob.from_json(envelope.body)
    assert (job.id, job.question, job.audience, job.situation) == (
        answer_id,
        QUESTION,
        "professionnels",
        "Gérant\td'une SARL",
    )
    record = stack.answers.get(answer_id)
    assert record is not None and record.status == "queued" and record.question == QUESTION


def test_ask_defaults_and_null_optionals(client: TestClient, stack: Stack) -> None:
    ask_id = client.post("/v1/ask", json={"question": "Bonjour ?", "audience": None, "situation": None})
    record = stack.answers.get(ask_id.json()["id"])
    assert record is not None and (record.audience, record.situation) == ("particuliers", "")


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "question", "obligatoire"),
        ({"question": "   \n "}, "question", "vide"),
        ({"question": "x" * 2001}, "question", "2000 au plus"),
        ({"question": 42}, "question", "chaîne"),
        ({"question": ["a"]}, "question", "chaîne"),
        ({"question": "Bonjour\x07 ?"}, "question", "contrôle"),
        ({"question": "Bonjour\x1b[31m"}, "question", "contrôle"),
        ({"question": "Bonjour ?", "audience": "martiens"}, "audience", "non reconnue"),
        ({"question": "Bonjour ?", "audience": 1}, "audience", "non reconnue"),
        ({"question": "Bonjour ?", "situation": "s" * 2001}, "situation", "2000 au plus"),
        ({"question": "Bonjour ?", "situation": "a\x00b"}, "situation", "contrôle"),
        ({"question": "Bonjour ?", "langue": "fr"}, "langue", "inconnu"),
    ],
)
def test_ask_refuses_bad_input_in_french(
    client: TestClient, stack: Stack, body: dict[str, Any], field: str, words: str
) -> None:
    response = client.post("/v1/ask", json=body)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "requete_invalide"
    assert f"{field} : " in error["message"] and words in error["message"]
    assert stack.broker.depth(stack.settings.ask_queue) == 0


def test_ask_refuses_a_lone_surrogate(client: TestClient) -> None:
    body = b'{"question": "Bonjour \\ud800 ?"}'  # valid JSON, but no UTF-8 text can hold it
    response = client.post("/v1/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "question : caractère de contrôle" in error_of(response)["message"]


def test_a_question_of_exactly_the_limit_is_accepted(client: TestClient) -> None:
    assert client.post("/v1/ask", json={"question": "é" * 2000}).status_code == 202


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b'{"question": "Bonjour ?"', {"content-type": "application/json"}, 400, "json_invalide"),
        (b"pas du json", {"content-type": "application/json"}, 400, "json_invalide"),
        (
            b'{"question": "Bonjour ?"}',
            {"content-type": "text/plain"},
            415,
            "type_de_contenu_non_pris_en_charge",
        ),
        (b'["Bonjour ?"]', {"content-type": "application/json"}, 422, "requete_invalide"),
        (b'"Bonjour ?"', {"content-type": "application/json"}, 422, "requete_invalide"),
        (b"{}" + b" " * 70_000, {"content-type": "application/json"}, 413, "trop_volumineux"),
    ],
)
def test_ask_refuses_bodies_that_are_not_a_json_object(
    client: TestClient, content: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    response = client.post("/v1/ask", content=content, headers=headers)
    assert response.status_code == status
    assert error_of(response)["code"] == code


def test_ask_with_the_queue_down_is_503_and_records_the_failure(
    client: TestClient, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("guichet.api.ask.new_answer_id", lambda: "ab" * 16)
    stack.broker.close()
    response = client.post("/v1/ask", json={"question": QUESTION})
    assert response.status_code == 503
    assert error_of(response)["code"] == "file_indisponible" and "réessayez" in error_of(response)["message"]
    record = stack.answers.get("ab" * 16)
    assert record is not None and record.status == "failed"
    assert record.error is not None and record.error.code == "file_indisponible"


def test_ask_with_the_answer_store_down_is_503_and_enqueues_nothing(tmp_path: Path) -> None:
    class BrokenStore(LocalObjectStore):
        def put(self, *args: Any, **kwargs: Any) -> Any:
            from guichet.ports.store import StoreError

            raise StoreError("disque plein")

    stack = make_stack(tmp_path, answers=BrokenStore(tmp_path / "answers"))
    response = TestClient(create_app(stack)).post("/v1/ask", json={"question": QUESTION})
    assert response.status_code == 503 and error_of(response)["code"] == "stockage_indisponible"
    assert stack.broker.depth(stack.settings.ask_queue) == 0


# --- GET /v1/answers/{id} ----------------------------------------------------------------------------


def test_answer_status_goes_from_queued_to_running_to_done(client: TestClient, stack: Stack) -> None:
    answer_id = ask(client)
    assert client.get(f"/v1/answers/{answer_id}").json() == {"id": answer_id, "status": "queued"}
    worker = Worker(stack, answer_id)
    worker.start()
    running = client.get(f"/v1/answers/{answer_id}")
    assert running.status_code == 202 and running.json() == {"id": answer_id, "status": "running"}
    worker.write("Renouvelez-la en mairie [1].")
    done = worker.finish()
    final = client.get(f"/v1/answers/{answer_id}")
    assert final.status_code == 200
    assert final.json() == json.loads(done.to_json())
    assert final.json()["sources"][0]["id"] == "F1341" and "error" not in final.json()


def test_a_failed_answer_is_final_with_its_error(client: TestClient, stack: Stack) -> None:
    answer_id = ask(client)
    record = stack.answers.get(answer_id)
    assert record is not None
    stack.answers.put(record.failed("generation_impossible", "Aucune source ne répond à la question."))
    response = client.get(f"/v1/answers/{answer_id}")
    assert response.status_code == 200 and response.json()["status"] == "failed"
    assert response.json()["error"] == {
        "code": "generation_impossible",
        "message": "Aucune source ne répond à la question.",
    }


@pytest.mark.parametrize("answer_id", ["0" * 32, "pas-un-identifiant", "../../etc/passwd", "A" * 32])
def test_unknown_or_malformed_ids_are_404(client: TestClient, answer_id: str) -> None:
    for path in (f"/v1/answers/{answer_id}", f"/v1/answers/{answer_id}/stream"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert error_of(response)["code"] in {"reponse_introuvable", "introuvable"}
    feedback = client.post(f"/v1/answers/{answer_id}/feedback", json={"rating": "up"})
    assert feedback.status_code == 404


# --- GET /v1/answers/{id}/stream ---------------------------------------------------------------------


def test_stream_from_before_the_answer_starts(client: TestClient, stack: Stack) -> None:
    answer_id = ask(client)
    worker = Worker(stack, answer_id)
    with client.stream("GET", f"/v1/answers/{answer_id}/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        received = frames(response)
        first = next(received)
        assert (first["event"], first["data"]["status"]) == ("status", "queued")

        def work() -> None:
            worker.start()
            worker.write("Allez ", "en ", "mairie [1].")
            worker.finish()

        thread = in_thread(work)
        draft, seen = follow(received)
    thread.join()
    tokens = [f["data"]["text"] for f in seen if f["event"] == "token"]
    assert "".join(tokens) == draft == "Allez en mairie [1]."
    assert [f["event"] for f in seen] == ["status", "sources", "token", "token", "token", "done"]
    assert seen[-1]["data"]["answer"] == draft and seen[-1]["id"] == "1-5"


def test_stream_from_the_middle_of_the_answer(client: TestClient, stack: Stack) -> None:
    answer_id = ask(client)
    worker = Worker(stack, answer_id)
    worker.start()
    worker.write("Première ", "moitié, ")
    with client.stream("GET", f"/v1/answers/{answer_id}/stream") as response:
        received = frames(response)
        assert next(received)["data"] == {"status": "running", "attempt": 1}

        def rest() -> None:
            worker.write("seconde ", "moitié.")
            worker.finish()

        thread = in_thread(rest)
        draft, seen = follow(received)
    thread.join()
    tokens = [f["data"]["text"] for f in seen if f["event"] == "token"]
    assert "".join(tokens) == draft == "Première moitié, seconde moitié."


def test_stream_after_the_answer_is_done(client: TestClient, stack: Stack) -> None:
    answer_id = ask(client)
    worker = Worker(stack, answer_id)
    worker.start()
    worker.write("Tout ", "est ", "fini.")
    done = worker.finish()
    with client.stream("GET", f"/v1/answers/{answer_id}/stream") as response:
        draft, seen = follow(frames(response))
    assert draft == "Tout est fini."
    assert [f["event"] for f in seen] == ["status", "token", "sources", "done"]
    assert seen[-1]["data"] == json.loads(done.to_json())


def test_stream_ends_with_the_stored_record_when_done_was_never_published(
    client: TestClient, stack: Stack
) -> None:
    answer_id = ask(client)
    worker = Worker(stack, answer_id)
    worker.start()
    worker.write("Sans ", "fin ?")
    with client.stream("GET", f"/v1/answers/{answer_id}/stream") as response:
        received = frames(response)
        next(received)
        in_thread(lambda: worker.finish(announce=False))
        draft, seen = follow(received)
    assert draft == "Sans fin ?" and seen[-1]["event"] == "done"
    assert seen[-1]["data"]["status"] == "done" and seen[-1]["id"] == "1-final"


def test_stream_discards_the_draft_of_a_dead_attempt(client: TestClient, stack: Stack) -> None:
    answer_id = ask(client)
    dead = Worker(stack, answer_id, attempt=1)
    dead.start()
    dead.write("Brouillon ", "abandonné")
    with client.stream("GET", f"/v1/answers/{answer_id}/stream") as response:
        received = frames(response)
        next(received)

        def retry() -> None:
            second = Worker(stack, answer_id, attempt=2)
            second.start()
            second.write("Réponse ", "complète.")
            second.finish()

        in_thread(retry)
        draft, seen = follow(received)
    assert draft == "Réponse complète."
    resets = [f for f in seen if f["event"] == "status" and f["data"].get("reset")]
    assert len(resets) == 1 and resets[0]["data"]["attempt"] == 2


def test_stream_resumes_after_last_event_id(client: TestClient, stack: Stack) -> None:
    answer_id = ask(client)
    worker = Worker(stack, answer_id)
    worker.start()  # seq 0 status, seq 1 sources
    worker.write("Un ", "deux ", "trois.")  # seq 2, 3, 4
    headers = {"Last-Event-ID": "1-3"}
    with client.stream("GET", f"/v1/answers/{answer_id}/stream", headers=headers) as response:
        received = frames(response)
        assert next(received)["id"] is None  # where the answer stands
        in_thread(worker.finish)  # seq 5
        _, seen = follow(received)
    assert [(f["event"], f["id"]) for f in seen] == [("token", "1-4"), ("done", "1-5")]


def test_resuming_a_finished_answer_sends_only_the_record(client: TestClient, stack: Stack) -> None:
    answer_id = finished_answer(client, stack)
    headers = {"Last-Event-ID": "1-2"}
    with client.stream("GET", f"/v1/answers/{answer_id}/stream", headers=headers) as response:
        _, seen = follow(frames(response))
    assert [(f["event"], f["id"]) for f in seen] == [("done", "1-final")]


def test_stream_of_a_failed_answer_ends_with_the_error(client: TestClient, stack: Stack) -> None:
    answer_id = ask(client)
    record = stack.answers.get(answer_id)
    assert record is not None
    stack.answers.put(record.failed("generation_impossible", "Aucune source."))
    with client.stream("GET", f"/v1/answers/{answer_id}/stream") as response:
        _, seen = follow(frames(response))
    assert seen[-1] == {
        "event": "error",
        "id": "0-final",
        "data": {"code": "generation_impossible", "message": "Aucune source."},
    }


def test_a_failing_relay_ends_the_stream_instead_of_hanging(tmp_path: Path) -> None:
    class FlakyStore(LocalObjectStore):
        reads = 0

        def get(self, key: str) -> bytes:
            FlakyStore.reads += 1
            if FlakyStore.reads > 1:  # the route's own read works, the relay's heartbeat check does not
                from guichet.ports.store import StoreError

                raise StoreError("stockage perdu")
            return super().get(key)

    stack = make_stack(tmp_path, answers=FlakyStore(tmp_path / "answers"))
    client = TestClient(create_app(stack))
    answer_id = ask(client)
    with client.stream("GET", f"/v1/answers/{answer_id}/stream") as response:
        seen = [f["event"] for f in frames(response)]
    assert seen == ["status"]  # ended without "done": the client reconnects or polls
    assert FlakyStore.reads == 2


def test_shutdown_closes_the_open_streams(stack: Stack) -> None:
    app = create_app(stack)
    client = TestClient(app)
    answer_id = ask(client)
    with client.stream("GET", f"/v1/answers/{answer_id}/stream") as response:
        received = frames(response)
        assert next(received)["data"]["status"] == "queued"
        assert len(app.state.open_streams) == 1
        app.state.open_streams.close_all()
        assert list(received) == []  # ended without "done": the client reconnects elsewhere
    assert len(app.state.open_streams) == 0


def ask_on_one_replica_stream_from_another(a: Stack, b: Stack, worker_side: Stack) -> None:
    answer_id = ask(TestClient(create_app(a)))
    reader = TestClient(create_app(b))
    with reader.stream("GET", f"/v1/answers/{answer_id}/stream") as response:
        received = frames(response)
        assert next(received)["data"]["status"] == "queued"
        envelope = worker_side.broker.get(worker_side.settings.ask_queue)
        assert envelope is not None and envelope.message_id == answer_id
        worker = Worker(worker_side, answer_id)

        def work() -> None:
            worker.start()
            worker.write("D'une ", "réplique ", "à l'autre.")
            worker.finish()

        in_thread(work)
        draft, seen = follow(received)
    assert draft == "D'une réplique à l'autre." and seen[-1]["event"] == "done"
    assert reader.get(f"/v1/answers/{answer_id}").json()["answer"] == draft


def test_a_stream_works_from_any_replica(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, stream_heartbeat=0.05)
    broker = MemoryBroker(settings.broker_path)
    streams = [LocalAnswerStream(tmp_path / "events.sqlite3", poll_interval=0.01) for _ in range(3)]
    a, b, w = (
        Stack(settings, broker=broker, answers=LocalObjectStore(tmp_path / "answers"), answer_stream=s)
        for s in streams
    )
    try:
        ask_on_one_replica_stream_from_another(a, b, w)
    finally:
        for s in streams:
            s.close()
        broker.close()


@pytest.mark.rabbitmq
def test_a_stream_works_from_any_replica_on_rabbitmq(tmp_path: Path, amqp_url: str, unique_name: Any) -> None:
    from guichet.ports.answer_streams.rabbitmq import RabbitMQAnswerStream

    settings = Settings(
        data_dir=tmp_path, broker_url=amqp_url, ask_queue=unique_name("ask"), stream_heartbeat=0.2
    )
    prefix = unique_name("answers")
    streams = [RabbitMQAnswerStream(amqp_url, shards=1, prefix=prefix) for _ in range(3)]
    a, b, w = (
        Stack(settings, answers=LocalObjectStore(tmp_path / "answers"), answer_stream=s) for s in streams
    )
    try:
        ask_on_one_replica_stream_from_another(a, b, w)
    finally:
        for stack in (a, b, w):
            stack.close()
        for s in streams:
            s.close()
        _delete_queue(amqp_url, f"{prefix}.0")


def _delete_queue(url: str, name: str) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().queue_delete(name)
    finally:
        connection.close()


# --- POST /v1/answers/{id}/feedback ------------------------------------------------------------------


def finished_answer(client: TestClient, stack: Stack) -> str:
    answer_id = ask(client)
    worker = Worker(stack, answer_id)
    worker.start()
    worker.write("Réponse.")
    worker.finish()
    return answer_id


def test_feedback_is_stored(client: TestClient, stack: Stack) -> None:
    answer_id = finished_answer(client, stack)
    body = {
        "rating": "down",
        "reasons": ["source obsolète", " lien cassé "],
        "comment": "Le lien\r\nne marche pas.",
    }
    response = client.post(f"/v1/answers/{answer_id}/feedback", json=body)
    assert response.status_code == 201
    feedback_id = response.json()["id"]
    stored = LocalObjectStore(stack.settings.answers_path).get(f"feedback/{answer_id}/{feedback_id}.json")
    saved = json.loads(stored)
    assert (saved["rating"], saved["reasons"], saved["comment"]) == (
        "down",
        ["source obsolète", "lien cassé"],
        "Le lien\nne marche pas.",
    )
    assert client.post(f"/v1/answers/{answer_id}/feedback", json={"rating": "up"}).status_code == 201


def test_feedback_on_an_unfinished_answer_is_409(client: TestClient) -> None:
    answer_id = ask(client)
    response = client.post(f"/v1/answers/{answer_id}/feedback", json={"rating": "up"})
    assert response.status_code == 409 and error_of(response)["code"] == "reponse_en_cours"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "rating"),
        ({"rating": "bof"}, "rating"),
        ({"rating": "up", "reasons": ["x"] * 11}, "reasons"),
        ({"rating": "up", "reasons": ["x" * 201]}, "reasons.0"),
        ({"rating": "up", "reasons": [""]}, "reasons.0"),
        ({"rating": "up", "reasons": "lent"}, "reasons"),
        ({"rating": "up", "comment": "c" * 2001}, "comment"),
        ({"rating": "up", "comment": "\x00"}, "comment"),
        ({"rating": "up", "note": 5}, "note"),
    ],
)
def test_feedback_refuses_bad_input(
    client: TestClient, stack: Stack, body: dict[str, Any], field: str
) -> None:
    answer_id = finished_answer(client, stack)
    response = client.post(f"/v1/answers/{answer_id}/feedback", json=body)
    assert response.status_code == 422
    assert f"{field} : " in error_of(response)["message"]


# --- readiness and OpenAPI ----------------------------------------------------------------------------


def test_readiness_checks_the_broker_and_the_answer_store(tmp_path: Path) -> None:
    class DownStore(LocalObjectStore):
        def ping(self) -> bool:
            return False

    healthy = make_stack(tmp_path / "ok")
    ready = TestClient(create_app(healthy)).get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["answers"] is True and ready.json()["checks"]["broker"] is True
    broken = make_stack(tmp_path / "ko", answers=DownStore(tmp_path / "ko" / "answers"))
    down = TestClient(create_app(broken)).get("/readyz")
    assert down.status_code == 503 and "answers" in error_of(down)["message"]
    broken.broker.close()
    assert "broker" in error_of(TestClient(create_app(broken)).get("/readyz"))["message"]


def test_openapi_documents_the_ask_path_and_is_valid(client: TestClient) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    spec = client.get("/openapi.json").json()
    validator.validate(spec)
    paths = spec["paths"]
    assert {"/v1/ask", "/v1/answers/{answer_id}", "/v1/answers/{answer_id}/stream"} <= set(paths)
    assert "/v1/answers/{answer_id}/feedback" in paths
    ask_responses = paths["/v1/ask"]["post"]["responses"]
    assert {"202", "400", "422", "503"} <= set(ask_responses)
    assert (
        "text/event-stream" in paths["/v1/answers/{answer_id}/stream"]["get"]["responses"]["200"]["content"]
    )
    record = spec["components"]["schemas"]["AnswerRecord"]
    assert {"answer", "sources", "related_questions", "links", "mode", "timings"} <= set(record["properties"])
