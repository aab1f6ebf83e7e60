"""`guichet worker answer|index` as deployed: each process serves /metrics on GUICHET_METRICS_PORT, with
the depth of the queues it does not consume read from the broker at scrape time."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from guichet import metrics
from guichet.ports.broker import dead_letter_queue
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.brokers.rabbitmq import RabbitMQBroker
from guichet.testing.helpers import free_port, wait_for
from tests.unit.test_metrics import depths, no_queues_left_tracked  # noqa: F401

WAITING = 3  # messages left in the queue the worker does not consume


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return {}
    return {
        f.name: {tuple(sorted(s.labels.items())): s.value for s in f.samples}
        for f in text_string_to_metric_families(text)
    }


@pytest.mark.parametrize(
    ("worker", "other_queue", "family"),
    [
        ("answer", "guichet.index", "guichet_answers_in_flight"),
        ("index", "guichet.ask", "guichet_index_events"),
    ],
)
def test_worker_process_serves_its_metrics(
    worker: str, other_queue: str, family: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    broker = MemoryBroker(data / "queues")  # the worker opens the same embedded queues (ADR 0006)
    broker.declare(other_queue)
    for _ in range(WAITING):
        broker.publish(other_queue, b"{}")
    broker.close()
    port = free_port()
    env = {
        **os.environ,
        "GUICHET_DATA_DIR": str(data),
        "GUICHET_METRICS_HOST": "127.0.0.1",
        "GUICHET_METRICS_PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "guichet", "worker", worker], env=env, stderr=subprocess.PIPE, text=True
    )

    seen: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}

    def ready() -> bool:
        # The first scrapes may come before the worker is up, or show NaN while it opens the queues.
        seen.update(scrape(port))
        return seen.get("guichet_queue_depth", {}).get((("queue", other_queue),)) == WAITING

    try:
        wait_for(lambda: ready() or process.poll() is not None, 120)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert seen["guichet_queue_depth"][(("queue", f"{other_queue}.dead"),)] == 0
        assert family in seen
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0, process.stderr.read() if process.stderr else ""
    assert scrape(port) == {}  # the endpoint went away with the worker


@pytest.mark.rabbitmq
def test_rabbitmq_queue_depths_at_scrape_time(amqp_url: str, unique_name: Callable[[str], str]) -> None:
    queue, missing = unique_name("ask"), unique_name("absent")
    broker = RabbitMQBroker(amqp_url)
    try:
        broker.declare(queue)
        for _ in range(WAITING):
            broker.publish(queue, b"{}")
        metrics.track_queues(broker.depth, [queue, dead_letter_queue(queue), missing])
        seen = depths()
        assert seen[queue] == WAITING and seen[dead_letter_queue(queue)] == 0 and math.isnan(seen[missing])
        broker.publish(queue, b"{}")  # the channel the missing queue closed was replaced
        assert depths()[queue] == WAITING + 1
    finally:
        broker.close()


def test_an_unreachable_rabbitmq_shows_nan_not_a_failed_scrape() -> None:
    broker = RabbitMQBroker(f"amqp://guest:guest@127.0.0.1:{free_port()}/?connection_attempts=1")
    try:
        metrics.track_queues(broker.depth, ["guichet.ask"])
        assert math.isnan(depths()["guichet.ask"])
    finally:
        broker.close()
