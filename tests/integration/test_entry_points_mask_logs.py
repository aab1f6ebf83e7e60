"""Every entry point goes through the process edge: a personal identifier never reaches its log.

Each entry point runs as a real process against RabbitMQ and is made to log a line that carries an e-mail
address (a rejected job id, a stored object named after a citizen, a search query in the access log).
The masked placeholder in the log proves the line was written; the address must not be there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from guichet.indexing.notifications import build_bucket_notification
from guichet.ports.brokers.rabbitmq import RabbitMQBroker
from guichet.testing.helpers import free_port, wait_for

pytestmark = [pytest.mark.rabbitmq]

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = "jean.dupont@exemple.fr"
MASKED = "[EMAIL]"

ANSWER_WORKERS = {
    "workers/answer.py": [sys.executable, str(ROOT / "workers" / "answer.py")],
    "guichet worker answer": [sys.executable, "-m", "guichet", "worker", "answer"],
}
INDEX_WORKERS = {
    "workers/index.py": [sys.executable, str(ROOT / "workers" / "index.py")],
    "guichet worker index": [sys.executable, "-m", "guichet", "worker", "index"],
}
FUNCTIONS = {
    "uvicorn functions.app:app": [
        sys.executable,
        "-m",
        "uvicorn",
        "functions.app:app",
        "--host",
        "127.0.0.1",
    ],
    "guichet function": [sys.executable, "-m", "guichet", "function", "--host", "127.0.0.1"],
}


@dataclass(frozen=True)
class Queues:
    ask: str
    index: str


@pytest.fixture
def queues(amqp_url: str, unique_name: Callable[[str], str]) -> Iterator[Queues]:
    names = Queues(unique_name("ask"), unique_name("index"))
    broker = RabbitMQBroker(amqp_url)
    broker.declare(names.ask)
    broker.declare(names.index)
    broker.close()
    yield names


def _run_until_logged(
    command: list[str], amqp_url: str, queues: Queues, tmp_path: Path, act: Callable[[], None]
) -> str:
    env = {
        **os.environ,
        "GUICHET_DATA_DIR": str(tmp_path / "data"),
        "GUICHET_BROKER_URL": amqp_url,
        "GUICHET_ASK_QUEUE": queues.ask,
        "GUICHET_INDEX_QUEUE": queues.index,
        "GUICHET_METRICS_PORT": "0",
        "GUICHET_LLM_URL": "",
        "PYTHONPATH": str(ROOT),  # functions.app, as in the image
    }
    log = tmp_path / "log"
    with log.open("w") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        act()
        wait_for(lambda: MASKED in log.read_text() or process.poll() is not None, timeout=90)
    finally:
        process.terminate()
        process.wait(timeout=60)
    text = log.read_text()
    assert MASKED in text, text[-3000:]  # the line was written...
    return text


def _publish(amqp_url: str, queue: str, body: bytes) -> Callable[[], None]:
    def publish() -> None:
        broker = RabbitMQBroker(amqp_url)
        broker.publish(queue, body)
        broker.close()

    return publish


@pytest.mark.parametrize("name", list(ANSWER_WORKERS))
def test_answer_worker_masks_a_rejected_job(name: str, amqp_url: str, queues: Queues, tmp_path: Path) -> None:
    job = json.dumps({"id": ADDRESS, "question": "Comment refaire une carte d'identité ?", "ts": 1.0})
    act = _publish(amqp_url, queues.ask, job.encode())
    assert ADDRESS not in _run_until_logged(ANSWER_WORKERS[name], amqp_url, queues, tmp_path, act)


@pytest.mark.parametrize("name", list(INDEX_WORKERS))
def test_index_worker_masks_an_object_key(name: str, amqp_url: str, queues: Queues, tmp_path: Path) -> None:
    key = f"usagers/{ADDRESS}.txt"  # named after a citizen, and already gone from the store
    event = build_bucket_notification(
        "s3:ObjectCreated:Put", "documents", key, size=10, etag="e", sequencer="1"
    )
    act = _publish(amqp_url, queues.index, event)
    assert ADDRESS not in _run_until_logged(INDEX_WORKERS[name], amqp_url, queues, tmp_path, act)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_functions_mask_the_access_log(name: str, amqp_url: str, queues: Queues, tmp_path: Path) -> None:
    port = free_port()

    def search() -> None:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), timeout=90)
        query = {"q": f"ma fille {ADDRESS} a perdu sa carte"}
        httpx.get(f"http://127.0.0.1:{port}/v1/search", params=query, timeout=10)

    text = _run_until_logged([*FUNCTIONS[name], "--port", str(port)], amqp_url, queues, tmp_path, search)
    assert ADDRESS not in text and ADDRESS.replace("@", "%40") not in text  # ...masked


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
