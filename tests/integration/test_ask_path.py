"""The ask path as deployed: `guichet function` and `guichet worker answer` in their own processes, real
RabbitMQ (quorum queue, streams), answers in an S3 bucket (moto server), a fake OpenAI-compatible LLM."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from guichet.ports.brokers.rabbitmq import RabbitMQBroker
from guichet.ports.stores.s3 import S3ObjectStore
from guichet.testing.fake_llm_server import FakeOpenAIServer
from guichet.testing.helpers import delete_queues, wait_for
from tests.deployment import Deployment, ask_path_env, build_index, reply, stream_names

pytestmark = [pytest.mark.rabbitmq, pytest.mark.s3, pytest.mark.slow]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_index(tmp_path_factory.mktemp("indexed"))


@pytest.fixture
def deployment(
    amqp_url: str, moto_s3: str, unique_name: Callable[[str], str], index_dir: Path, tmp_path: Path
) -> Iterator[Deployment]:
    queue, bucket, streams = unique_name("ask"), unique_name("answers"), unique_name("answers-live")
    answers = S3ObjectStore(bucket, endpoint_url=moto_s3, create_bucket=True)
    with FakeOpenAIServer(reply, delta_chars=6, delay=0.01) as llm:
        env = ask_path_env(
            data_dir=tmp_path / "data",
            index_dir=index_dir,
            amqp_url=amqp_url,
            s3_endpoint=moto_s3,
            llm_url=llm.url,
            queue=queue,
            bucket=bucket,
            streams=streams,
            index_queue=unique_name("index"),
        )
        deployment = Deployment.start(env, llm, answers, tmp_path)
        try:
            yield deployment
        finally:
            deployment.stop()
            delete_queues(amqp_url, stream_names(streams))


def sse_events(url: str, timeout: float = 90) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    kind = ""
    with httpx.stream("GET", url, timeout=timeout) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                events.append((kind, json.loads(line.removeprefix("data:"))))
                if kind in ("done", "error"):
                    break
    return events


def draft(events: list[tuple[str, dict[str, Any]]]) -> str:
    text = ""
    for kind, data in events:
        if kind == "status" and data.get("reset"):
            text = ""
        elif kind == "token":
            assert data["offset"] == len(text), "a token was lost or duplicated"
            text += data["text"]
    return text


def test_ask_stream_and_record(deployment: Deployment) -> None:
    answer_id = deployment.ask()
    live = sse_events(f"{deployment.url}/v1/answers/{answer_id}/stream")
    kinds = [k for k, _ in live]
    assert kinds[-1] == "done" and "token" in kinds and "sources" in kinds
    record = deployment.record(answer_id)
    assert record["status"] == "done" and record["mode"] == "generated" and record["model"] == "fake-model"
    assert live[-1][1]["answer"] == record["answer"]
    assert "pré-demande en ligne" in draft(live)
    # Sample fiches (EX- ids) have no service-public page: they say they are examples instead.
    assert record["sources"] and all(
        s["url"].startswith("https://") or (s["id"].startswith("EX-") and s["example"] and not s["url"])
        for s in record["sources"]
    )
    late = sse_events(f"{deployment.url}/v1/answers/{answer_id}/stream")  # after the generation
    assert draft(late) == record["answer"] and late[-1][1] == record


def test_a_worker_killed_mid_generation_is_answered_once_by_another(deployment: Deployment) -> None:
    deployment.llm.delay = 0.2  # about 6 s of generation: the kill lands in the middle
    answer_id = deployment.ask()
    wait_for(lambda: len(deployment.llm.requests) >= 1, timeout=60)
    deployment.worker.send_signal(signal.SIGKILL)
    deployment.worker.wait(timeout=10)
    deployment.restart_worker()
    record = deployment.final(answer_id)
    # ≥ 2: the job requeued from the killed consumer may first reach the killed process's other
    # consumer, whose connection RabbitMQ has not closed yet; that delivery generates nothing.
    assert record["status"] == "done" and record["attempt"] >= 2
    assert len(deployment.llm.requests) == 2  # one interrupted generation, one complete: answered once
    assert deployment.answers.head(f"answers/{answer_id}.json") is not None


def test_a_poison_job_is_dead_lettered_and_recorded_failed(deployment: Deployment, amqp_url: str) -> None:
    answer_id = deployment.ask()
    deployment.final(answer_id)
    broker = RabbitMQBroker(amqp_url)
    try:
        poison_id = "0" * 32
        from guichet.answer.record import AnswerRecord, AskJob
        from guichet.answer.store import AnswerRepository

        AnswerRepository(deployment.answers).put(AnswerRecord.queued(AskJob(poison_id, "?")))
        broker.publish(deployment.env["GUICHET_ASK_QUEUE"], b"{not json", message_id=poison_id)
        record = deployment.final(poison_id)
    finally:
        broker.close()
    assert record["status"] == "failed" and record["error"]["message"]


def test_llm_down_gives_an_extractive_record(deployment: Deployment) -> None:
    deployment.llm.down()
    answer_id = deployment.ask()
    record = deployment.final(answer_id)
    assert record["status"] == "done" and record["mode"] == "extractive"
    assert "modèle de langage" in record["notice"] and record["sources"]
