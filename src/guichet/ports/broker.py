"""Broker port: durable queues with at-least-once delivery.

Implementations: brokers/memory.py (in-process, persisted in the data folder: the embedded default),
brokers/rabbitmq.py (RabbitMQ through pika: quorum queues, persistent messages, publisher confirms,
a dead-letter exchange, manual acks).

Semantics every implementation honours (tests/contracts/test_broker_contract.py):
- declare(queue) creates the queue and its dead-letter queue "<queue>.dead"; it is idempotent.
- publish() returns only once the broker has taken responsibility for the message (confirm);
  it raises BrokerError otherwise.
- consume() calls handler(envelope) for each message and blocks until stop is set.
  * handler returns -> the message is acknowledged (so store the result BEFORE returning);
  * handler raises Reject(reason) -> the message goes to "<queue>.dead" with header
    "x-guichet-reason" = reason, and is acknowledged on the work queue;
  * handler raises anything else -> the message is requeued; after max_deliveries attempts it is
    dead-lettered (reason "delivery limit reached"). Before the message is requeued the consumer waits
    min(retry_backoff * 2**delivery_count, max_retry_backoff) seconds (constructor parameters, 1 s and
    30 s by default), so that a transient outage (index backend, embedder) does not exhaust every
    in-flight message's deliveries within a fraction of a second; the connection stays alive meanwhile.
    The wait ends early when stop is set, and the message is then requeued at once. The last allowed
    delivery is dead-lettered without waiting.
  Handlers must tolerate redelivery (envelope.redelivered / delivery_count tell them).
- get(queue) takes one message without a handler (acked at once): for tests, tools and the DLQ.
- depth(queue) is the number of ready messages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from guichet.ports.records import Envelope

REASON_HEADER = "x-guichet-reason"
DEFAULT_MAX_DELIVERIES = 5
DEFAULT_RETRY_BACKOFF = 1.0
DEFAULT_MAX_RETRY_BACKOFF = 30.0


class BrokerError(Exception):
    """The broker could not be reached or did not confirm a publish."""


class Reject(Exception):
    """Raised by a handler: this message can never succeed; dead-letter it with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dead"


def retry_delay(delivery_count: int, retry_backoff: float, max_retry_backoff: float) -> float:
    """Seconds to wait before requeuing a message whose delivery number delivery_count + 1 failed."""
    # Capped before the power is taken: 2**delivery_count stays small whatever the count.
    return min(retry_backoff * 2.0 ** min(delivery_count, 62), max_retry_backoff)


def check_retry_backoff(retry_backoff: float, max_retry_backoff: float) -> None:
    """The constructors' check of their retry_backoff / max_retry_backoff parameters."""
    if not 0 <= retry_backoff <= max_retry_backoff:
        raise ValueError("il faut 0 <= retry_backoff <= max_retry_backoff")


Handler = Callable[[Envelope], None]


class Broker(Protocol):
    def declare(self, queue: str) -> None: ...

    def publish(
        self, queue: str, body: bytes, *, message_id: str = "", headers: dict[str, str] | None = None
    ) -> None: ...

    def consume(self, queue: str, handler: Handler, *, stop: threading.Event, prefetch: int = 1) -> None: ...

    def get(self, queue: str) -> Envelope | None: ...

    def depth(self, queue: str) -> int: ...

    def close(self) -> None: ...
