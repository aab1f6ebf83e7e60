"""The answer worker's outcomes through both brokers (MemoryBroker and RabbitMQBroker), not by calling
the handlers: a graceful stop on the last delivery hands the job back (issue 14, defect 2); the
dead-letter consumer parks what it cannot read and goes on, and waits out an answer store outage
(defect 3). The answerer is a stand-in (the generation is not what these tests are about)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from guichet.answer.generation import GenerationStopped
from guichet.answer.handlers import UNREADABLE, AnswerJobHandler, DeadJobHandler
from guichet.answer.record import AnswerRecord, AskJob, new_answer_id
from guichet.answer.store import AnswerRepository
from guichet.ports.answer_streams.local import LocalAnswerStream
from guichet.ports.broker import ATTEMPT_HEADER, REASON_HEADER, Broker, Handler, dead_letter_queue
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.records import Envelope
from guichet.ports.store import StoredObject, StoreError
from guichet.ports.stores.local import LocalObjectStore
from guichet.testing.helpers import delete_delay_queues, wait_for

MAX_DELIVERIES = 3
QUESTION = "Comment renouveler une carte d'identité ?"


@pytest.fixture(params=["memory", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def broker(
    request: pytest.FixtureRequest, tmp_path: Path, unique_name: Callable[[str], str]
) -> Iterator[Broker]:
    if request.param == "memory":
        memory = MemoryBroker(tmp_path / "queues", max_deliveries=MAX_DELIVERIES, retry_backoff=0.01)
        yield memory
        memory.close()
        return
    from guichet.ports.brokers.rabbitmq import RabbitMQBroker

    amqp_url = request.getfixturevalue("amqp_url")
    rabbit = RabbitMQBroker(
        amqp_url, max_deliveries=MAX_DELIVERIES, retry_backoff=0.01, max_retry_backoff=0.05,
        delay_prefix=unique_name("delay"),
    )  # fmt: skip
    yield rabbit
    rabbit.close()
    delete_delay_queues(amqp_url, [rabbit])


@pytest.fixture
def queue(broker: Broker, unique_name: Callable[[str], str], request: pytest.FixtureRequest) -> str:
    if "rabbitmq" in request.node.callspec.id:
        request.getfixturevalue("amqp_url")  # so that unique_name deletes the queues afterwards
    name = unique_name("ask")
    broker.declare(name)
    return name


class Running:
    """consume() in a thread, counting the handler's calls; stopped on exit (its stop may be given)."""

    def __init__(
        self, broker: Broker, queue: str, handler: Handler, stop: threading.Event | None = None
    ) -> None:
        self.calls = 0
        self.stop = stop or threading.Event()

        def counted(envelope: Envelope) -> None:
            self.calls += 1
            handler(envelope)

        self._thread = threading.Thread(
            target=broker.consume, args=(queue, counted), kwargs={"stop": self.stop}, daemon=True
        )

    def __enter__(self) -> Running:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(10)
        assert not self._thread.is_alive()


class StoppingAnswerer:
    """An answerer cut by the worker's stop: GenerationStopped once stop is set, as Answerer raises it."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def answer(self, *args: Any) -> AnswerRecord:
        self._stop.wait()
        raise GenerationStopped("arrêt du worker pendant la génération")


def test_a_graceful_stop_on_the_last_delivery_hands_the_job_back(
    broker: Broker, queue: str, tmp_path: Path
) -> None:
    answers = AnswerRepository(LocalObjectStore(tmp_path / "answers"))
    stream = LocalAnswerStream(tmp_path / "events.sqlite3")
    job = AskJob(new_answer_id(), QUESTION)
    answers.put(AnswerRecord.queued(job))
    last = {ATTEMPT_HEADER: str(MAX_DELIVERIES - 1)}  # two counted failures already: this is the last
    broker.publish(queue, job.to_json(), message_id=job.id, headers=last)
    for _ in range(2):  # handed back, taken again by the next worker, handed back again
        stop = threading.Event()
        handler = AnswerJobHandler(answers, stream, StoppingAnswerer(stop), max_deliveries=MAX_DELIVERIES)  # type: ignore[arg-type]
        with Running(broker, queue, handler, stop) as running:
            wait_for(lambda: running.calls == 1)
        assert running.calls == 1
        wait_for(lambda: broker.depth(queue) == 1)
    assert broker.depth(dead_letter_queue(queue)) == 0, "a stopped job was dead-lettered"
    envelope = broker.get(queue)
    # Handed back uncounted, however often: a stopping worker counts no attempt for a job it did not finish.
    assert envelope is not None and envelope.delivery_count == MAX_DELIVERIES - 1
    record = answers.get(job.id)
    assert record is not None and record.status == "running"
    stream.close()


def test_the_dead_letter_consumer_parks_poison_and_goes_on(
    broker: Broker, queue: str, tmp_path: Path
) -> None:
    answers = AnswerRepository(LocalObjectStore(tmp_path / "answers"))
    stream = LocalAnswerStream(tmp_path / "events.sqlite3")
    dead = dead_letter_queue(queue)
    poisoned, healthy = AskJob(new_answer_id(), QUESTION), AskJob(new_answer_id(), QUESTION)
    answers.store.put(f"answers/{poisoned.id}.json", b'{"id": "tronqu', "application/json")
    answers.put(AnswerRecord.queued(healthy).running(3))
    broker.publish(dead, b"pas du json", message_id="illisible")
    broker.publish(dead, poisoned.to_json(), message_id=poisoned.id)
    broker.publish(dead, healthy.to_json(), message_id=healthy.id)
    with Running(broker, dead, DeadJobHandler(answers, stream)):
        wait_for(lambda: getattr(answers.get(healthy.id), "status", "") == "failed")
        wait_for(lambda: broker.depth(dead_letter_queue(dead)) == 2)
    parked = {
        e.message_id: e.headers[REASON_HEADER]
        for e in iter(lambda: broker.get(dead_letter_queue(dead)), None)
    }
    assert parked["illisible"] == UNREADABLE
    assert "enregistrement de réponse illisible (JSONDecodeError)" in parked[poisoned.id]
    repaired = answers.get(poisoned.id)  # its reader learns that it failed
    assert repaired is not None and repaired.status == "failed"
    assert broker.depth(dead) == 0
    stream.close()


class FlakyStore(LocalObjectStore):
    """The answer store, unreachable for its first `failures` writes."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> StoredObject:
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("stockage injoignable")
        return super().put(key, data, content_type)


class QuickWait(threading.Event):
    def wait(self, timeout: float | None = None) -> bool:
        return super().wait(0.01)


def test_the_dead_letter_consumer_waits_out_a_store_outage(
    broker: Broker, queue: str, tmp_path: Path
) -> None:
    store = FlakyStore(tmp_path / "answers", failures=0)
    answers = AnswerRepository(store)
    stream = LocalAnswerStream(tmp_path / "events.sqlite3")
    job = AskJob(new_answer_id(), QUESTION)
    answers.put(AnswerRecord.queued(job).running(3))
    store.failures = 4  # more than max_deliveries: a counted retry would have parked it
    dead = dead_letter_queue(queue)
    broker.publish(dead, job.to_json(), message_id=job.id)
    with Running(broker, dead, DeadJobHandler(answers, stream, QuickWait())):
        wait_for(lambda: getattr(answers.get(job.id), "status", "") == "failed")
        wait_for(lambda: broker.depth(dead) == 0)
    assert broker.depth(dead_letter_queue(dead)) == 0
    stream.close()
