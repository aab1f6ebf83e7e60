"""The Broker contract (ports/broker.py), run on every implementation."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from guichet.ports.broker import (
    ATTEMPT_HEADER,
    REASON_HEADER,
    Broker,
    BrokerError,
    Handler,
    Reject,
    Requeue,
    dead_letter_queue,
)
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.records import Envelope
from guichet.testing.helpers import delete_delay_queues, wait_for

TIMEOUT = 10.0
# The brokers under test back off this little before a requeue (1 s by default): the tests stay fast.
FAST_BACKOFF = 0.02
MakeBroker = Callable[..., Broker]


class ConsumerDied(BaseException):
    """Raised by a handler to stop its consumer dead, without ack or nack (BaseException: uncaught)."""


@contextmanager
def consuming(broker: Broker, queue: str, handler: Handler, prefetch: int = 1) -> Iterator[dict[str, Any]]:
    """consume() in a thread; stopped (and required to return) on exit. Yields what it raised."""
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            broker.consume(queue, handler, stop=stop, prefetch=prefetch)
        except BaseException as exc:
            outcome["raised"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield outcome
    finally:
        stop.set()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "consume() did not return after stop"


class BrokerContract:
    """Subclasses provide make_broker (a factory fixture) and reopen (what a process restart does)."""

    @pytest.fixture
    def make_broker(self) -> MakeBroker:
        raise NotImplementedError

    def reopen(self, broker: Broker, make_broker: MakeBroker) -> Broker:
        raise NotImplementedError

    @pytest.fixture
    def queue(self, unique_name: Callable[[str], str]) -> str:
        return unique_name("contract")

    @pytest.fixture
    def broker(self, make_broker: MakeBroker, queue: str) -> Broker:
        broker = make_broker()
        broker.declare(queue)
        return broker

    def test_declare_is_idempotent(self, broker: Broker, queue: str) -> None:
        broker.declare(queue)
        broker.publish(queue, b"x")
        broker.declare(queue)
        assert broker.depth(queue) == 1
        assert broker.depth(dead_letter_queue(queue)) == 0

    def test_publish_to_undeclared_queue_fails(self, broker: Broker, queue: str) -> None:
        with pytest.raises(BrokerError):
            broker.publish(f"{queue}-absent", b"x")

    def test_publish_consume_ack(self, broker: Broker, queue: str) -> None:
        for body in (b"un", b"deux", b"trois"):
            broker.publish(queue, body)
        received: list[bytes] = []
        with consuming(broker, queue, lambda envelope: received.append(envelope.body)):
            wait_for(lambda: len(received) == 3)
        assert sorted(received) == sorted([b"un", b"deux", b"trois"])
        wait_for(lambda: broker.depth(queue) == 0)
        assert broker.get(queue) is None, "an acknowledged message came back"

    def test_message_id_and_headers_round_trip(self, broker: Broker, queue: str) -> None:
        headers = {"x-trace": "abc-123", "langue": "français"}
        broker.publish(queue, "données é".encode(), message_id="msg-1", headers=headers)
        envelope = _get(broker, queue)
        assert envelope.body == "données é".encode()
        assert envelope.message_id == "msg-1"
        assert headers.items() <= envelope.headers.items()
        assert (envelope.redelivered, envelope.delivery_count) == (False, 0)

    def test_message_id_is_generated_when_empty(self, broker: Broker, queue: str) -> None:
        broker.publish(queue, b"x")
        assert _get(broker, queue).message_id

    def test_handler_exception_redelivers(self, broker: Broker, queue: str) -> None:
        broker.publish(queue, b"fragile", message_id="m")
        seen: list[Envelope] = []

        def handler(envelope: Envelope) -> None:
            seen.append(envelope)
            if len(seen) < 3:
                raise RuntimeError("panne passagère")

        with consuming(broker, queue, handler):
            wait_for(lambda: len(seen) == 3)
        assert [(e.redelivered, e.delivery_count) for e in seen] == [(False, 0), (True, 1), (True, 2)]
        # The count travels in the message, not in the broker's own counter (RabbitMQ >= 4.3 no longer
        # counts a nack with requeue).
        assert [e.headers.get(ATTEMPT_HEADER) for e in seen] == [None, "1", "2"]
        wait_for(lambda: broker.depth(queue) == 0)
        assert broker.depth(dead_letter_queue(queue)) == 0

    def test_reject_dead_letters_with_reason(self, broker: Broker, queue: str) -> None:
        broker.publish(queue, b"<pas du xml", message_id="poison", headers={"origine": "test"})
        calls: list[Envelope] = []

        def handler(envelope: Envelope) -> None:
            calls.append(envelope)
            raise Reject("XML invalide")

        dead = dead_letter_queue(queue)
        with consuming(broker, queue, handler):
            wait_for(lambda: broker.depth(dead) == 1)
        assert len(calls) == 1, "a rejected message was redelivered"
        envelope = _get(broker, dead)
        assert (envelope.body, envelope.message_id) == (b"<pas du xml", "poison")
        assert envelope.headers[REASON_HEADER] == "XML invalide"
        assert envelope.headers["origine"] == "test"
        assert broker.depth(queue) == 0

    def test_max_deliveries_dead_letters(
        self, make_broker: MakeBroker, unique_name: Callable[[str], str]
    ) -> None:
        broker = make_broker(max_deliveries=3)
        queue = unique_name("limit")
        broker.declare(queue)
        broker.publish(queue, b"toujours en panne")
        calls: list[int] = []

        def handler(envelope: Envelope) -> None:
            calls.append(envelope.delivery_count)
            raise RuntimeError("toujours en panne")

        dead = dead_letter_queue(queue)
        with consuming(broker, queue, handler):
            wait_for(lambda: broker.depth(dead) == 1)
        assert calls == [0, 1, 2]
        # The reason names the last error, so that whoever reads the dead-letter queue knows why.
        reason = _get(broker, dead).headers[REASON_HEADER]
        assert reason == "delivery limit reached (3 attempts): RuntimeError: toujours en panne"
        assert broker.depth(queue) == 0

    def test_requeue_is_never_counted_nor_dead_lettered(
        self, make_broker: MakeBroker, unique_name: Callable[[str], str]
    ) -> None:
        broker = make_broker(max_deliveries=2)
        queue = unique_name("requeue")
        broker.declare(queue)
        broker.publish(queue, b"rendu", message_id="rendu")
        seen: list[Envelope] = []

        def handler(envelope: Envelope) -> None:
            seen.append(envelope)
            if len(seen) <= 4:  # twice max_deliveries: a counted outcome would be dead-lettered by now
                raise Requeue("arrêt du worker")

        with consuming(broker, queue, handler):
            wait_for(lambda: len(seen) == 5)
            wait_for(lambda: broker.depth(queue) == 0)
        assert [e.delivery_count for e in seen] == [0] * 5
        assert broker.depth(dead_letter_queue(queue)) == 0
        assert broker.get(queue) is None, "a handled message came back"

    def test_requeue_on_the_last_delivery_keeps_the_message(
        self, make_broker: MakeBroker, unique_name: Callable[[str], str]
    ) -> None:
        broker = make_broker(max_deliveries=2)
        queue = unique_name("last")
        broker.declare(queue)
        broker.publish(queue, b"x")
        seen: list[int] = []

        def handler(envelope: Envelope) -> None:
            seen.append(envelope.delivery_count)
            if len(seen) == 1:
                raise RuntimeError("panne passagère")
            if len(seen) == 2:  # the last allowed delivery, and the worker stops
                raise Requeue("arrêt du worker")

        with consuming(broker, queue, handler):
            wait_for(lambda: len(seen) == 3)
            wait_for(lambda: broker.depth(queue) == 0)
        assert seen == [0, 1, 1]
        assert broker.depth(dead_letter_queue(queue)) == 0

    def test_the_consumer_slot_is_free_during_a_backoff(
        self, make_broker: MakeBroker, unique_name: Callable[[str], str]
    ) -> None:
        broker = make_broker(retry_backoff=5.0, max_retry_backoff=5.0)
        queue = unique_name("slot")
        broker.declare(queue)
        broker.publish(queue, b"A", message_id="A")
        broker.publish(queue, b"B", message_id="B")
        seen: list[str] = []

        def handler(envelope: Envelope) -> None:
            seen.append(envelope.message_id)
            if envelope.message_id == "A" and envelope.delivery_count == 0:
                raise RuntimeError("panne passagère")

        with consuming(broker, queue, handler, prefetch=1):
            # Well under A's 5 s backoff: B cannot wait behind it.
            wait_for(lambda: "B" in seen, timeout=3.0)
            assert seen == ["A", "B"]
            wait_for(lambda: seen.count("A") == 2)
        assert seen == ["A", "B", "A"]

    def test_retry_backoff_delays_redelivery(
        self, make_broker: MakeBroker, unique_name: Callable[[str], str]
    ) -> None:
        backoff = 0.2
        broker = make_broker(max_deliveries=3, retry_backoff=backoff)
        queue = unique_name("backoff")
        broker.declare(queue)
        broker.publish(queue, b"en panne")
        seen: list[tuple[int, float]] = []

        def handler(envelope: Envelope) -> None:
            seen.append((envelope.delivery_count, time.monotonic()))
            raise RuntimeError("panne passagère")

        dead = dead_letter_queue(queue)
        with consuming(broker, queue, handler):
            wait_for(lambda: broker.depth(dead) == 1)
        assert [count for count, _ in seen] == [0, 1, 2]
        (_, first), (_, second), (_, third) = seen
        assert second - first >= backoff, "redelivered before the backoff"
        assert third - second >= 2 * backoff, "the backoff does not grow"
        assert broker.depth(queue) == 0

    def test_stop_during_backoff_is_prompt_and_keeps_the_message(
        self, make_broker: MakeBroker, queue: str
    ) -> None:
        # Longer than the consume loop's wake-up (0.5 s): the message cannot come back to this consumer
        # while it closes (RabbitMQ would then count that return in x-delivery-count).
        broker = make_broker(retry_backoff=1.5, max_retry_backoff=1.5)
        broker.declare(queue)
        broker.publish(queue, b"en attente", message_id="patient")
        calls: list[Envelope] = []

        def handler(envelope: Envelope) -> None:
            calls.append(envelope)
            raise RuntimeError("panne passagère")

        stop = threading.Event()
        thread = threading.Thread(target=broker.consume, args=(queue, handler), kwargs={"stop": stop})
        thread.start()
        wait_for(lambda: len(calls) == 1)
        started = time.monotonic()
        stop.set()
        thread.join(TIMEOUT)
        assert not thread.is_alive()
        assert time.monotonic() - started < 1.5, "stop waited for the backoff"
        assert len(calls) == 1
        wait_for(lambda: broker.depth(queue) == 1)  # back once its backoff is over, not lost
        envelope = _get(broker, queue)
        assert (envelope.body, envelope.message_id) == (b"en attente", "patient")
        assert (envelope.redelivered, envelope.delivery_count) == (True, 1)
        assert envelope.headers[ATTEMPT_HEADER] == "1"
        assert broker.depth(dead_letter_queue(queue)) == 0

    def test_a_stopping_consumer_hands_back_what_it_took_uncounted(self, broker: Broker, queue: str) -> None:
        # prefetch 2: B reaches the consumer while it runs A; it stops after A and never runs B. B must
        # come back as it was: a return that the broker counts would eat one of its attempts.
        broker.publish(queue, b"A", message_id="A")
        broker.publish(queue, b"B", message_id="B", headers={ATTEMPT_HEADER: "1"})
        stop = threading.Event()
        seen: list[str] = []

        def handler(envelope: Envelope) -> None:
            seen.append(envelope.message_id)
            time.sleep(0.3)  # B arrives meanwhile
            stop.set()  # the worker is told to stop while it runs A

        broker.consume(queue, handler, stop=stop, prefetch=2)
        assert seen == ["A"]
        wait_for(lambda: broker.depth(queue) == 1)
        envelope = _get(broker, queue)
        assert (envelope.message_id, envelope.delivery_count) == ("B", 1)
        assert broker.depth(dead_letter_queue(queue)) == 0

    def test_depth_and_get(self, broker: Broker, queue: str) -> None:
        assert broker.get(queue) is None
        broker.publish(queue, b"a")
        broker.publish(queue, b"b")
        wait_for(lambda: broker.depth(queue) == 2)
        assert _get(broker, queue).body == b"a"
        wait_for(lambda: broker.depth(queue) == 1)
        assert _get(broker, queue).body == b"b"
        assert broker.get(queue) is None
        assert broker.depth(queue) == 0

    def test_stop_returns_promptly(self, broker: Broker, queue: str) -> None:
        stop = threading.Event()
        thread = threading.Thread(target=broker.consume, args=(queue, lambda e: None), kwargs={"stop": stop})
        thread.start()
        time.sleep(0.3)
        started = time.monotonic()
        stop.set()
        thread.join(TIMEOUT)
        assert not thread.is_alive()
        assert time.monotonic() - started < 1.5

    def test_unacked_message_survives_consumer_death(
        self, broker: Broker, queue: str, make_broker: MakeBroker
    ) -> None:
        broker.publish(queue, b"en cours", message_id="survivant")

        def handler(envelope: Envelope) -> None:
            raise ConsumerDied  # the process dies mid-handler: no ack, no nack

        with consuming(broker, queue, handler) as outcome:
            wait_for(lambda: "raised" in outcome)
        assert isinstance(outcome["raised"], ConsumerDied)
        restarted = self.reopen(broker, make_broker)
        wait_for(lambda: restarted.depth(queue) == 1)
        envelope = _get(restarted, queue)
        assert (envelope.body, envelope.message_id) == (b"en cours", "survivant")
        assert (envelope.redelivered, envelope.delivery_count) == (True, 1)


def _get(broker: Broker, queue: str) -> Envelope:
    envelope = broker.get(queue)
    assert envelope is not None, f"{queue} is empty"
    return envelope


class TestMemoryBroker(BrokerContract):
    @pytest.fixture
    def make_broker(self, tmp_path: Path) -> Iterator[MakeBroker]:
        opened: list[MemoryBroker] = []

        def make(
            max_deliveries: int = 5, retry_backoff: float = FAST_BACKOFF, max_retry_backoff: float = 1.0
        ) -> MemoryBroker:
            opened.append(
                MemoryBroker(
                    tmp_path / f"broker-{len(opened)}",
                    max_deliveries=max_deliveries,
                    retry_backoff=retry_backoff,
                    max_retry_backoff=max_retry_backoff,
                )
            )
            return opened[-1]

        yield make
        for broker in opened:
            broker.close()

    def reopen(self, broker: Broker, make_broker: MakeBroker) -> Broker:
        assert isinstance(broker, MemoryBroker)
        broker.close()  # the dead process: its taken message is still "taken" in the file
        return MemoryBroker(
            broker_path(broker), max_deliveries=broker.max_deliveries, retry_backoff=broker.retry_backoff
        )

    def test_in_memory_broker_works_without_a_path(self, queue: str) -> None:
        broker = MemoryBroker(None)
        broker.declare(queue)
        broker.publish(queue, b"x")
        assert _get(broker, queue).body == b"x"
        broker.close()

    def test_closed_broker_raises_broker_error(self, broker: MemoryBroker, queue: str) -> None:
        broker.close()
        with pytest.raises(BrokerError):
            broker.publish(queue, b"x")
        with pytest.raises(BrokerError):
            broker.declare(queue)

    def test_join_and_messages_helpers(self, broker: MemoryBroker, queue: str) -> None:
        broker.publish(queue, b"1")
        broker.publish(queue, b"2")
        assert [e.body for e in broker.messages(queue)] == [b"1", b"2"]
        with pytest.raises(TimeoutError):
            broker.join(queue, timeout=0.05)
        handled: list[bytes] = []
        with consuming(broker, queue, lambda e: handled.append(e.body)):
            broker.join(queue, timeout=TIMEOUT)
            assert handled == [b"1", b"2"]  # join waits for the last handler to finish, not just the take
        assert broker.messages(queue) == []

    def test_crash_on_last_delivery_dead_letters_at_reopen(self, tmp_path: Path, queue: str) -> None:
        broker = MemoryBroker(tmp_path, max_deliveries=1)
        broker.declare(queue)
        broker.publish(queue, b"x")
        with consuming(broker, queue, _die) as outcome:
            wait_for(lambda: "raised" in outcome)
        broker.close()
        reopened = MemoryBroker(tmp_path, max_deliveries=1)
        assert reopened.depth(queue) == 0
        assert _get(reopened, dead_letter_queue(queue)).headers[REASON_HEADER] == "delivery limit reached"
        reopened.close()


def broker_path(broker: MemoryBroker) -> Path:
    path = broker.path
    assert path is not None
    return path


def _die(envelope: Envelope) -> None:
    raise ConsumerDied


@pytest.mark.rabbitmq
class TestRabbitMQBroker(BrokerContract):
    @pytest.fixture
    def make_broker(self, amqp_url: str, unique_name: Callable[[str], str]) -> Iterator[MakeBroker]:
        from guichet.ports.brokers.rabbitmq import RabbitMQBroker

        opened: list[RabbitMQBroker] = []
        delay_prefix = unique_name("delay")  # the delay queues of this test only, deleted afterwards

        def make(
            max_deliveries: int = 5, retry_backoff: float = FAST_BACKOFF, max_retry_backoff: float = 1.0
        ) -> RabbitMQBroker:
            opened.append(
                RabbitMQBroker(
                    amqp_url,
                    max_deliveries=max_deliveries,
                    retry_backoff=retry_backoff,
                    max_retry_backoff=max_retry_backoff,
                    delay_prefix=delay_prefix,
                )
            )
            return opened[-1]

        yield make
        for broker in opened:
            broker.close()
        delete_delay_queues(amqp_url, opened)

    def reopen(self, broker: Broker, make_broker: MakeBroker) -> Broker:
        # The consuming connection was closed with the message unacked: RabbitMQ requeued it.
        return make_broker()

    def test_crash_loop_is_dead_lettered_by_rabbitmq_itself(
        self, make_broker: MakeBroker, unique_name: Callable[[str], str]
    ) -> None:
        # No handler ever returns, so only the queue's x-delivery-limit can stop the loop.
        broker = make_broker(max_deliveries=2)
        queue = unique_name("crash")
        broker.declare(queue)
        broker.publish(queue, b"x")
        for _ in range(2):
            with consuming(broker, queue, _die) as outcome:
                wait_for(lambda: "raised" in outcome)
        dead = dead_letter_queue(queue)
        wait_for(lambda: broker.depth(dead) == 1)
        assert broker.depth(queue) == 0
        assert _get(broker, dead).headers[REASON_HEADER] == "delivery limit reached"

    def test_unreachable_broker_is_retried_until_stop(self, caplog: pytest.LogCaptureFixture) -> None:
        from guichet.ports.brokers.rabbitmq import RabbitMQBroker

        with socket.socket() as sock:  # a port where nothing listens
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        broker = RabbitMQBroker(f"amqp://guest:guest@127.0.0.1:{port}/")
        with caplog.at_level(logging.WARNING), consuming(broker, "q", _die) as outcome:
            wait_for(lambda: "RabbitMQ unreachable" in caplog.text)
        assert "raised" not in outcome
        with pytest.raises(BrokerError):
            broker.publish("q", b"x")

    def test_failing_dead_letter_publish_does_not_kill_consume(
        self,
        broker: Broker,
        queue: str,
        amqp_url: str,
        unique_name: Callable[[str], str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        from guichet.ports.brokers.rabbitmq import REJECTED_REASON, RabbitMQBroker

        # Its DLX does not exist: the confirmed dead-letter publish fails (404). The queue itself was
        # declared by `broker`, so its own x-dead-letter-exchange is the real DLX.
        misconfigured = RabbitMQBroker(amqp_url, dead_letter_exchange=unique_name("absent"))
        broker.publish(queue, b"<pas du xml", message_id="poison")
        seen: list[Envelope] = []

        def handler(envelope: Envelope) -> None:
            seen.append(envelope)
            if envelope.message_id == "poison":
                raise Reject("XML invalide")

        dead = dead_letter_queue(queue)
        try:
            with caplog.at_level(logging.ERROR), consuming(misconfigured, queue, handler) as outcome:
                wait_for(lambda: broker.depth(dead) == 1)
                broker.publish(queue, b"sain", message_id="sain")
                wait_for(lambda: len(seen) == 2)
                wait_for(lambda: broker.depth(queue) == 0)
                assert "raised" not in outcome
        finally:
            misconfigured.close()
        assert "raised" not in outcome
        assert [e.message_id for e in seen] == ["poison", "sain"], "the rejected message came back"
        assert "publishing to" in caplog.text
        envelope = _get(broker, dead)
        assert (envelope.body, envelope.message_id) == (b"<pas du xml", "poison")
        assert envelope.headers[REASON_HEADER] == REJECTED_REASON
        assert broker.depth(queue) == 0

    def test_consume_waits_for_a_missing_queue(
        self, make_broker: MakeBroker, unique_name: Callable[[str], str], caplog: pytest.LogCaptureFixture
    ) -> None:
        broker = make_broker()
        queue = unique_name("later")
        seen: list[Envelope] = []
        with caplog.at_level(logging.ERROR), consuming(broker, queue, seen.append) as outcome:
            wait_for(lambda: "interrupted" in caplog.text)  # 404 on basic_consume: logged, retried
            broker.declare(queue)
            broker.publish(queue, b"enfin")
            wait_for(lambda: len(seen) == 1)
        assert "raised" not in outcome
        assert seen[0].body == b"enfin"

    def test_consumer_reconnects_when_its_connection_drops(
        self, broker: Broker, queue: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import pika

        connections: list[Any] = []
        real_connection = pika.BlockingConnection

        def recording_connection(*args: Any, **kwargs: Any) -> Any:
            connections.append(real_connection(*args, **kwargs))
            return connections[-1]

        monkeypatch.setattr(pika, "BlockingConnection", recording_connection)  # what rabbitmq.py calls
        broker.publish(queue, b"x")
        seen: list[Envelope] = []

        def handler(envelope: Envelope) -> None:
            seen.append(envelope)
            if len(seen) == 1:  # cut the consumer's socket under pika (reaches into pika internals)
                connections[-1]._impl._transport._sock.shutdown(socket.SHUT_RDWR)

        with consuming(broker, queue, handler) as outcome:
            wait_for(lambda: len(seen) == 2)
        assert "raised" not in outcome
        assert [(e.redelivered, e.delivery_count) for e in seen] == [(False, 0), (True, 1)]
        wait_for(lambda: broker.depth(queue) == 0)


def test_a_queue_declared_with_other_arguments_is_used_as_it_is(
    amqp_url: str, unique_name: Callable[[str], str]
) -> None:
    """Another deployment (or a rolling update) with another GUICHET_MAX_DELIVERIES must not stop a
    process at start-up: RabbitMQ refuses to redeclare a queue with other arguments (406)."""
    from guichet.ports.brokers.rabbitmq import RabbitMQBroker

    queue, delay_prefix = unique_name("shared"), unique_name("delay")
    first = RabbitMQBroker(amqp_url, max_deliveries=4, delay_prefix=delay_prefix)
    second = RabbitMQBroker(amqp_url, max_deliveries=2, delay_prefix=delay_prefix)
    try:
        first.declare(queue)
        second.declare(queue)
        second.publish(queue, b"toujours utilisable")
        assert first.depth(queue) == 1
    finally:
        first.close()
        second.close()
        delete_delay_queues(amqp_url, [first, second])
