"""The ask path as deployed: `guichet function` and `guichet worker answer` in their own processes, real
RabbitMQ (quorum queue, streams), answers in an S3 bucket (moto server), a fake OpenAI-compatible LLM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from guichet.ports.brokers.rabbitmq import RabbitMQBroker
from guichet.ports.llms.fake_server import FakeOpenAIServer
from guichet.ports.stores.s3 import S3ObjectStore
from guichet.serving import sample_corpus_dir
from guichet.testing import delete_queues, free_port, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.s3, pytest.mark.slow]

QUESTION = "Comment faire une première demande de carte d'identité ?"
FICHES = ("F1341.xml", "F358.xml", "F90011.xml")  # a small index: the bundled embedder is slow here


def reply(messages: list[dict[str, Any]]) -> str:
    return (
        "Faites une pré-demande en ligne puis prenez rendez-vous en mairie [1]. "
        "Apportez une photo d'identité récente [1]. Le délai dépend de la mairie [2]."
    )


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("indexed")
    corpus = data / "corpus"
    corpus.mkdir()
    for name in FICHES:
        (corpus / name).write_bytes((sample_corpus_dir() / name).read_bytes())
    env = {**os.environ, "GUICHET_DATA_DIR": str(data)}
    env.pop("GUICHET_BROKER_URL", None)
    subprocess.run([sys.executable, "-m", "guichet", "ingest", str(corpus)], env=env, check=True, timeout=300)
    return data / "index"


class Deployment:
    def __init__(
        self, env: dict[str, str], port: int, llm: FakeOpenAIServer, answers: S3ObjectStore, logs: Path
    ) -> None:
        self.env, self.llm, self.answers, self.logs = env, llm, answers, logs
        self.url = f"http://127.0.0.1:{port}"
        self.function = self._start("function", "--port", str(port))
        self.worker = self._start("worker", "answer")
        wait_for(self._ready, timeout=60)

    def _start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{args[-1]}.log").open("ab")  # read them when a test fails
        return subprocess.Popen(
            [sys.executable, "-m", "guichet", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def restart_worker(self) -> None:
        self.worker = self._start("worker", "answer")

    def ask(self, question: str = QUESTION) -> str:
        response = httpx.post(f"{self.url}/v1/ask", json={"question": question})
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def record(self, answer_id: str) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/v1/answers/{answer_id}").json())

    def final(self, answer_id: str, timeout: float = 90) -> dict[str, Any]:
        wait_for(lambda: self.record(answer_id)["status"] in ("done", "failed"), timeout=timeout)
        return self.record(answer_id)

    def stop(self) -> None:
        for process in (self.function, self.worker):
            process.send_signal(signal.SIGTERM)
        for process in (self.function, self.worker):
            try:
                process.wait(timeout=30)
            finally:
                process.kill()


@pytest.fixture
def deployment(
    amqp_url: str, moto_s3: str, unique_name: Callable[[str], str], index_dir: Path, tmp_path: Path
) -> Iterator[Deployment]:
    queue, bucket, streams = unique_name("ask"), unique_name("answers"), unique_name("answers-live")
    answers = S3ObjectStore(bucket, endpoint_url=moto_s3, create_bucket=True)
    with FakeOpenAIServer(reply, delta_chars=6, delay=0.01) as llm:
        env = {
            **os.environ,
            "GUICHET_DATA_DIR": str(tmp_path / "data"),
            "GUICHET_INDEX_URL": str(index_dir),
            "GUICHET_BROKER_URL": amqp_url,
            "GUICHET_ASK_QUEUE": queue,
            "GUICHET_INDEX_QUEUE": unique_name("index"),
            "GUICHET_ANSWERS_URL": f"s3://{bucket}",
            "GUICHET_S3_ENDPOINT": moto_s3,
            "GUICHET_ANSWER_STREAM_PREFIX": streams,
            "GUICHET_ANSWER_STREAM_SHARDS": "2",
            "GUICHET_LLM_URL": llm.url,
            "GUICHET_LLM_RETRIES": "1",
            "GUICHET_LLM_RETRY_BACKOFF": "0.05",
            "GUICHET_RETRY_BACKOFF": "0.05",
            "GUICHET_MAX_DELIVERIES": "3",
            "GUICHET_ANSWER_CONCURRENCY": "2",
        }
        deployment = Deployment(env, free_port(), llm, answers, tmp_path)
        try:
            yield deployment
        finally:
            deployment.stop()
            delete_queues(amqp_url, [f"{streams}.0", f"{streams}.1"])


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
    assert record["sources"] and all(s["url"].startswith("https://") for s in record["sources"])
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
        from guichet.answer_record import AnswerRecord, AskJob
        from guichet.answer_store import AnswerRepository

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
