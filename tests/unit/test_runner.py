"""Consumers fail loudly: a crashed consumer stops the process and shows in readiness."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from guichet.api.app import create_app
from guichet.ports.broker import Handler
from guichet.ports.brokers.memory import MemoryBroker
from guichet.process.consumers import consume_in_thread
from guichet.wiring import Stack


class CrashingBroker(MemoryBroker):
    def consume(self, queue: str, handler: Handler, *, stop: threading.Event, prefetch: int = 1) -> None:
        raise OSError("disque plein")


def test_a_crashed_consumer_sets_stop_and_keeps_its_error() -> None:
    stop = threading.Event()
    consumer = consume_in_thread(CrashingBroker(None), "q", lambda envelope: None, stop)
    consumer.join(timeout=5)
    assert not consumer.alive and stop.is_set()
    assert isinstance(consumer.error, OSError)


def test_readiness_reports_a_dead_worker(embedded_stack: Stack) -> None:
    stop = threading.Event()
    dead = consume_in_thread(CrashingBroker(None), "q", lambda envelope: None, stop)
    dead.join(timeout=5)
    client = TestClient(create_app(embedded_stack, workers=[dead]))
    response = client.get("/readyz")
    assert response.status_code == 503 and "worker" in response.json()["error"]["message"]
