"""guichet.metrics: closed label sets, queue depths read at scrape time, the workers' endpoint."""

from __future__ import annotations

import math
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from guichet import metrics
from guichet.answer.handlers import DeadJobHandler
from guichet.answer.record import AnswerRecord, AskJob, Timings, new_answer_id
from guichet.ports.answer_streams.local import LocalAnswerStream
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.records import Envelope
from guichet.ports.stores.local import LocalObjectStore
from guichet.settings import Settings
from guichet.testing.helpers import free_port


@pytest.fixture(autouse=True)
def no_queues_left_tracked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A later scrape in this process must not read a broker a test closed; and a loaded CI machine is
    not a stuck broker (the stuck-broker test sets its own timeout)."""
    monkeypatch.setattr(metrics, "QUEUE_READ_TIMEOUT_S", 30.0)
    yield
    metrics.track_queues(lambda q: 0, [])


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def depths() -> dict[str, float]:
    """guichet_queue_depth as a scrape shows it."""
    families = text_string_to_metric_families(generate_latest().decode())
    family = next(f for f in families if f.name == metrics.QUEUE_DEPTH)
    return {s.labels["queue"]: s.value for s in family.samples}


@pytest.mark.parametrize(
    ("typed", "label"),
    [
        ("Lien erroné", "lien_errone"),
        ("  SOURCES   manquantes ", "sources_manquantes"),
        ("hors-sujet", "hors_sujet"),
        ("trop_long", "trop_long"),
        ("Mon numéro est le 06 12 34 56 78", "autre"),
        ("", "autre"),
    ],
)
def test_feedback_reasons_become_a_closed_set(typed: str, label: str) -> None:
    assert metrics.reason_label(typed) == label


def test_feedback_counts_the_rating_once_and_each_reason_once() -> None:
    ratings = sample("guichet_feedback_total", rating="down")
    wrong = sample("guichet_feedback_reasons_total", rating="down", reason="inexact")
    other = sample("guichet_feedback_reasons_total", rating="down", reason="autre")
    metrics.count_feedback("down", ["Inexact", "inexact", "texte libre d'un conseiller"])
    assert sample("guichet_feedback_total", rating="down") == ratings + 1
    assert sample("guichet_feedback_reasons_total", rating="down", reason="inexact") == wrong + 1
    assert sample("guichet_feedback_reasons_total", rating="down", reason="autre") == other + 1
    assert "texte libre" not in generate_latest().decode()


def test_known_label_sets_exist_before_any_event() -> None:
    exposed = generate_latest().decode()
    assert 'guichet_answers_total{mode="extractive",status="done"}' in exposed
    assert 'guichet_asks_total{outcome="unavailable"}' in exposed
    assert 'guichet_dead_letters_total{kind="ask"}' in exposed


def test_queue_depths_are_read_at_scrape_time_and_a_missing_queue_is_nan(tmp_path: Path) -> None:
    broker = MemoryBroker(tmp_path / "queues")
    try:
        broker.declare("ask")
        settings = Settings(data_dir=tmp_path, ask_queue="ask", index_queue="index")  # index: undeclared
        metrics.watch_queues(settings, broker.depth)
        assert depths()["ask"] == 0
        for _ in range(3):
            broker.publish("ask", b"{}")
        seen = depths()
        assert seen["ask"] == 3 and seen["ask.dead"] == 0
        assert math.isnan(seen["index"]) and math.isnan(seen["index.dead"])
    finally:
        broker.close()


def test_a_stuck_broker_neither_fails_nor_piles_up_scrapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "QUEUE_READ_TIMEOUT_S", 0.05)
    release = threading.Event()
    calls: list[str] = []

    def stuck(queue: str) -> int:
        calls.append(queue)
        release.wait(30)
        return 7

    metrics.track_queues(stuck, ["ask"])
    try:
        assert math.isnan(depths()["ask"])
        assert math.isnan(depths()["ask"])  # the first read still hangs: no second one was started
        assert calls == ["ask"]
    finally:
        release.set()
    for thread in threading.enumerate():
        if thread.name == "guichet-queue-depths":
            thread.join(5)
    monkeypatch.setattr(metrics, "QUEUE_READ_TIMEOUT_S", 30.0)
    assert depths()["ask"] == 7


def test_the_latest_tracked_queues_replace_the_previous_ones() -> None:
    metrics.track_queues(lambda q: 1, ["a"])
    metrics.track_queues(lambda q: 2, ["b"])
    assert depths() == {"b": 2}


def test_worker_endpoint_serves_metrics_and_stops(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(data_dir=tmp_path, metrics_host="127.0.0.1", metrics_port=port)
    with metrics.worker_endpoint(settings, lambda q: 4):
        body = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'guichet_queue_depth{queue="guichet.ask"} 4.0' in body
        assert "guichet_answers_in_flight" in body
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics")


def test_a_taken_metrics_port_is_logged_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        stop = metrics.serve_metrics("127.0.0.1", taken.getsockname()[1])  # no exception
        stop()
    assert any("metrics not served" in r.getMessage() for r in caplog.records)


def test_port_zero_serves_nothing() -> None:
    before = {t.name for t in threading.enumerate()}
    metrics.serve_metrics("127.0.0.1", 0)()
    assert {t.name for t in threading.enumerate()} == before


def record(mode: str, timings: Timings) -> AnswerRecord:
    queued = AnswerRecord.queued(AskJob(new_answer_id(), "Comment renouveler une carte d'identité ?"))
    return replace(queued, status="done", mode=mode, timings=timings)  # type: ignore[arg-type]


def stage_count(stage: str) -> float:
    return sample("guichet_answer_stage_seconds_count", stage=stage)


@pytest.mark.parametrize(("mode", "generations"), [("generated", 1), ("extractive", 0)])
def test_each_stage_of_a_done_answer_is_observed(mode: str, generations: int) -> None:
    from guichet.answer.handlers import _observe

    before = {s: stage_count(s) for s in metrics.STAGES}
    generation_sum = sample("guichet_answer_stage_seconds_sum", stage="generation")
    asked_sum = sample("guichet_answer_stage_seconds_sum", stage="ask_to_first_token")
    _observe(record(mode, Timings(queued_s=0.5, retrieval_s=0.2, first_token_s=1.5, total_s=4.0)))
    after = {s: stage_count(s) for s in metrics.STAGES}
    assert {s: after[s] - before[s] for s in metrics.STAGES} == {
        "queued": 1, "retrieval": 1, "first_token": 1, "generation": generations, "total": 1,
        "ask_to_first_token": generations,
    }  # fmt: skip
    added = sample("guichet_answer_stage_seconds_sum", stage="generation") - generation_sum
    assert added == pytest.approx(2.5 * generations)
    # what guichet sizing's ttft-p95 target and the first-token alert measure: queue wait included
    asked = sample("guichet_answer_stage_seconds_sum", stage="ask_to_first_token") - asked_sum
    assert asked == pytest.approx(2.0 * generations)


def test_dead_lettered_asks_are_counted(tmp_path: Path) -> None:
    from guichet.answer.store import AnswerRepository

    answers = AnswerRepository(LocalObjectStore(tmp_path / "answers"))
    stream = LocalAnswerStream(tmp_path / "events.sqlite3")
    try:
        before = sample("guichet_dead_letters_total", kind="ask")
        job = AskJob(new_answer_id(), "Comment renouveler une carte d'identité ?")
        DeadJobHandler(answers, stream)(Envelope(job.to_json(), job.id, redelivered=True, delivery_count=5))
        assert sample("guichet_dead_letters_total", kind="ask") == before + 1
        stored = answers.get(job.id)
        assert stored is not None and stored.status == "failed"
    finally:
        stream.close()


def test_the_feedback_route_counts_ratings_and_reasons(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from guichet.api.app import create_app
    from tests.unit.test_api_ask import finished_answer, make_stack

    stack = make_stack(tmp_path)
    try:
        client = TestClient(create_app(stack))
        answer_id = finished_answer(client, stack)
        before = sample("guichet_feedback_reasons_total", rating="down", reason="lien_errone")
        body = {"rating": "down", "reasons": ["Lien erroné"], "comment": "Le lien du formulaire est mort."}
        assert client.post(f"/v1/answers/{answer_id}/feedback", json=body).status_code == 201
        assert sample("guichet_feedback_reasons_total", rating="down", reason="lien_errone") == before + 1
        assert "formulaire" not in client.get("/metrics").text
    finally:
        stack.close()
        stack.answer_stream.close()
        stack.index.close()
        stack.broker.close()
