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
    dead-lettered (reason "delivery limit reached").
  Handlers must tolerate redelivery (envelope.redelivered / delivery_count tell them).
- get(queue) takes one message without a handler (acked at once): for tests, tools and the DLQ.
- depth(queue) is the number of ready messages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from guichet.records import Envelope

REASON_HEADER = "x-guichet-reason"
DEFAULT_MAX_DELIVERIES = 5


class BrokerError(Exception):
    """The broker could not be reached or did not confirm a publish."""


class Reject(Exception):
    """Raised by a handler: this message can never succeed; dead-letter it with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dead"


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
