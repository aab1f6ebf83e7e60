"""The ask path as deployed, for tests: `guichet function` and `guichet worker answer` in their own
processes, real RabbitMQ (quorum queue, streams), answers in an S3 bucket (moto server), a fake
OpenAI-compatible LLM. Used by tests/integration/test_ask_path.py and the fault-injection tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from guichet.ports.stores.s3 import S3ObjectStore
from guichet.process.serve import sample_corpus_dir
from guichet.testing.fake_llm_server import FakeOpenAIServer
from guichet.testing.helpers import free_port, wait_for

QUESTION = "Comment faire une première demande de carte d'identité ?"
FICHES = ("F1341.xml", "F358.xml", "F90011.xml")  # a small index: the bundled embedder is slow here
STREAM_SHARDS = 2


def reply(messages: list[dict[str, Any]]) -> str:
    return (
        "Faites une pré-demande en ligne puis prenez rendez-vous en mairie [1]. "
        "Apportez une photo d'identité récente [1]. Le délai dépend de la mairie [2]."
    )


def build_index(data: Path) -> Path:
    """The index of FICHES, built by `guichet ingest` (bundled embedder) under data; returns its path."""
    corpus = data / "corpus"
    corpus.mkdir()
    for name in FICHES:
        (corpus / name).write_bytes((sample_corpus_dir() / name).read_bytes())
    env = {**os.environ, "GUICHET_DATA_DIR": str(data)}
    env.pop("GUICHET_BROKER_URL", None)
    subprocess.run([sys.executable, "-m", "guichet", "ingest", str(corpus)], env=env, check=True, timeout=300)
    return data / "index"


def ask_path_env(
    *,
    data_dir: Path,
    index_dir: Path,
    amqp_url: str,
    s3_endpoint: str,
    llm_url: str,
    queue: str,
    bucket: str,
    streams: str,
    index_queue: str,
) -> dict[str, str]:
    """The environment of the function and worker processes (fast retries: failures show quickly)."""
    return {
        **os.environ,
        "GUICHET_DATA_DIR": str(data_dir),
        "GUICHET_INDEX_URL": str(index_dir),
        "GUICHET_BROKER_URL": amqp_url,
        "GUICHET_ASK_QUEUE": queue,
        "GUICHET_INDEX_QUEUE": index_queue,
        "GUICHET_ANSWERS_URL": f"s3://{bucket}",
        "GUICHET_S3_ENDPOINT": s3_endpoint,
        "GUICHET_ANSWER_STREAM_PREFIX": streams,
        "GUICHET_ANSWER_STREAM_SHARDS": str(STREAM_SHARDS),
        "GUICHET_LLM_URL": llm_url,
        "GUICHET_LLM_RETRIES": "1",
        "GUICHET_LLM_RETRY_BACKOFF": "0.05",
        "GUICHET_RETRY_BACKOFF": "0.05",
        "GUICHET_MAX_DELIVERIES": "3",
        "GUICHET_ANSWER_CONCURRENCY": "2",
        "GUICHET_METRICS_PORT": "0",  # several workers, and other test runs, on one machine
    }


def stream_names(streams: str) -> list[str]:
    return [f"{streams}.{n}" for n in range(STREAM_SHARDS)]


class Deployment:
    def __init__(
        self, env: dict[str, str], port: int, llm: FakeOpenAIServer, answers: S3ObjectStore, logs: Path
    ) -> None:
        self.env, self.llm, self.answers, self.logs = env, llm, answers, logs
        self.url = f"http://127.0.0.1:{port}"
        self._retired: list[subprocess.Popen[bytes]] = []  # workers replaced by restart_worker()
        self.function = self._start("function", "--port", str(port))
        self.worker = self._start("worker", "answer")
        try:
            wait_for(self.ready, timeout=60)
        except AssertionError:
            self.stop()  # no process outlives a deployment that never became ready
            raise

    @classmethod
    def start(
        cls, env: dict[str, str], llm: FakeOpenAIServer, answers: S3ObjectStore, logs: Path
    ) -> Deployment:
        return cls(env, free_port(), llm, answers, logs)

    def _start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{args[-1]}.log").open("ab")  # read them when a test fails
        return subprocess.Popen(
            [sys.executable, "-m", "guichet", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def readyz(self) -> httpx.Response:
        return httpx.get(f"{self.url}/readyz", timeout=30)

    def restart_worker(self) -> None:
        self._retired.append(self.worker)
        self.worker = self._start("worker", "answer")

    def submit(self, question: str = QUESTION, timeout: float = 30) -> httpx.Response:
        return httpx.post(f"{self.url}/v1/ask", json={"question": question}, timeout=timeout)

    def ask(self, question: str = QUESTION) -> str:
        response = self.submit(question)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def record(self, answer_id: str) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/v1/answers/{answer_id}").json())

    def final(self, answer_id: str, timeout: float = 90) -> dict[str, Any]:
        wait_for(lambda: self.record(answer_id)["status"] in ("done", "failed"), timeout=timeout)
        return self.record(answer_id)

    def stop(self) -> None:
        processes = [self.function, self.worker, *self._retired]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            finally:
                process.kill()
