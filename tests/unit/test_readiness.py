"""Readiness is what the functions need (broker + answer store), answered within a bound; clients are
built under locks of their own, with a cool-down after a failed build (issue 14, defect 6)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from guichet import wiring
from guichet.api.app import create_app
from guichet.ports.broker import BrokerError
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.index import IndexBackendError
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.stores.local import LocalObjectStore
from guichet.settings import Settings
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.wiring import Stack


class DownStore(LocalObjectStore):
    def ping(self) -> bool:
        return False


class DownIndex(EmbeddedIndex):
    def ping(self) -> bool:
        raise IndexBackendError("Weaviate injoignable")


class StuckIndex(EmbeddedIndex):
    """A black-holed Weaviate: its ping never comes back (until the test lets it go)."""

    release = threading.Event()

    def ping(self) -> bool:
        self.release.wait(30)
        return True


def make(tmp_path: Path, **given: Any) -> Stack:
    settings = Settings(data_dir=tmp_path)
    embedder = HashingEmbedder()
    parts: dict[str, Any] = {
        "broker": MemoryBroker(settings.broker_path),
        "embedder": embedder,
        "index": EmbeddedIndex(settings.index_path, dimension=embedder.dimension),
    }
    return Stack(settings, **{**parts, **given})


@pytest.fixture
def stacks() -> Iterator[list[Stack]]:
    made: list[Stack] = []
    yield made
    for stack in made:
        stack.close()


def test_an_index_or_document_store_outage_is_reported_not_fatal(tmp_path: Path, stacks: list[Stack]) -> None:
    index = DownIndex(tmp_path / "down-index", dimension=HashingEmbedder().dimension)
    stack = make(tmp_path, index=index, store=DownStore(tmp_path / "down-store"))
    stacks.append(stack)
    response = TestClient(create_app(stack)).get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"broker": True, "answers": True, "store": False, "index": False}


def test_a_broker_outage_is_fatal_with_the_ask_paths_code(tmp_path: Path, stacks: list[Stack]) -> None:
    stack = make(tmp_path)
    stacks.append(stack)
    stack.broker.close()
    response = TestClient(create_app(stack)).get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "file_indisponible"


def test_a_black_holed_index_does_not_hold_the_probe(tmp_path: Path, stacks: list[Stack]) -> None:
    stuck = StuckIndex(tmp_path / "stuck", dimension=HashingEmbedder().dimension)
    stack = make(tmp_path, index=stuck)
    stacks.append(stack)
    client = TestClient(create_app(stack))
    answers: list[Any] = []
    probe = threading.Thread(target=lambda: answers.append(client.get("/readyz")), daemon=True)
    probe.start()
    probe.join(15)
    StuckIndex.release.set()
    assert answers, "/readyz waited for a dependency that never answers"
    assert answers[0].status_code == 200 and answers[0].json()["checks"]["index"] is False


def attempt(get: Any, error: type[Exception]) -> bool:
    """Whether get() raised error (anything else fails the test)."""
    try:
        get()
    except error:
        return True
    return False


class FailingBroker(MemoryBroker):
    def declare(self, queue: str) -> None:
        raise BrokerError("RabbitMQ injoignable")


def test_a_failed_build_is_not_retried_within_the_cooldown_and_leaks_no_closer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[FailingBroker] = []

    def build(settings: Settings) -> FailingBroker:
        built.append(FailingBroker(None))
        return built[-1]

    monkeypatch.setattr(wiring, "build_broker", build)
    stack = Stack(Settings(data_dir=tmp_path))
    failed: list[bool] = []
    threads = [
        threading.Thread(target=lambda: failed.append(attempt(lambda: stack.broker, BrokerError)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    failed += [attempt(lambda: stack.broker, BrokerError) for _ in range(5)]
    assert failed == [True] * 13
    assert len(built) == 1, "every caller built its own client"
    assert stack._owned == [], "a closer was kept for a client that was never built"
    with pytest.raises(BrokerError):
        built[0].publish("x", b"")  # the failed client was closed
    stack.close()


def test_a_slow_build_of_one_client_does_not_hold_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    building = threading.Event()
    release = threading.Event()

    def slow_index(settings: Settings, dimension: int) -> Any:
        building.set()
        release.wait(30)
        raise IndexBackendError("Weaviate injoignable")

    monkeypatch.setattr(wiring, "build_index", slow_index)
    stack = Stack(Settings(data_dir=tmp_path), embedder=HashingEmbedder(), broker=MemoryBroker(None))
    slow = threading.Thread(target=lambda: attempt(lambda: stack.index, IndexBackendError), daemon=True)
    slow.start()
    assert building.wait(10)
    served: list[bool] = []
    other = threading.Thread(target=lambda: served.append(stack.answers.ping()), daemon=True)
    other.start()
    other.join(10)
    release.set()
    slow.join(10)
    assert served == [True], "the answer store waited for the index's build"
    stack.close()
