"""The analytics path as deployed: events on a RabbitMQ quorum queue, the analytics consumer of an answer
worker, PostgreSQL (a database of this test's own). Duplicates count once; an unreadable event is
dead-lettered with its reason and nothing is counted for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from guichet.answer.worker import analytics_consumer
from guichet.pilotage.events import AnswerEvent, RatingEvent
from guichet.ports.broker import REASON_HEADER, dead_letter_queue
from guichet.settings import Settings
from guichet.testing.helpers import wait_for
from guichet.wiring import Stack
from tests.contracts.test_analytics_store_contract import drop_database, fresh_database, postgres_admin_url

pytestmark = [pytest.mark.rabbitmq]


@pytest.fixture
def stack(amqp_url: str, unique_name: Callable[[str], str], tmp_path: Path) -> Iterator[Stack]:
    admin = postgres_admin_url()
    name, url = fresh_database(admin)
    settings = Settings(
        data_dir=tmp_path, broker_url=amqp_url, analytics_url=url, analytics_queue=unique_name("analytics"),
        ask_queue=unique_name("ask"), index_queue=unique_name("index"), retry_backoff=0.05,
    )  # fmt: skip
    stack = Stack(settings)
    try:
        yield stack
    finally:
        stack.close()
        drop_database(admin, name)


def test_events_through_rabbitmq_into_postgresql(stack: Stack) -> None:
    queue = stack.settings.analytics_queue
    now = time.time()
    answer = AnswerEvent(
        "a" * 32, now, "fs-lyon-8", "particuliers", "Logement", "done", "generated", True, 0.7, 3
    )
    rating = RatingEvent("b" * 32, now, "a" * 32, now, "fs-lyon-8", "Logement", "down", ("inexact",))
    for event in (answer, answer, rating):  # the answer twice: a republished event after a redelivery
        stack.broker.publish(queue, event.to_json(), message_id=f"{event.kind}:{event.id}")
    stack.broker.publish(queue, b'{"kind": "answer", "id": "x"}', message_id="answer:x")
    stop = threading.Event()
    consumer = analytics_consumer(stack, stop)
    try:
        wait_for(lambda: stack.broker.depth(queue) == 0 and stack.analytics.counts() == (1, 1), timeout=30)
        dead = None
        wait_for(lambda: stack.broker.depth(dead_letter_queue(queue)) == 1, timeout=30)
        dead = stack.broker.get(dead_letter_queue(queue))
    finally:
        stop.set()
        consumer.join(10)
    assert dead is not None and "illisible" in dead.headers[REASON_HEADER]
    assert stack.analytics.counts() == (1, 1)
    assert stack.settings.analytics_url.startswith("postgresql://")
