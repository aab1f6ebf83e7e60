"""Broker port: durable queues with at-least-once delivery.

Implementations: brokers/memory.py (in-process, persisted in the data folder: the embedded default),
brokers/rabbitmq.py (RabbitMQ through pika: quorum queues, persistent messages, publisher confirms,
a dead-letter exchange, manual acks).

Semantics every implementation honours (tests/contracts/test_broker_contract.py):
- declare(queue) creates the queue, its dead-letter queue "<queue>.dead" and the parking queue
  "<queue>.dead.dead" where a consumer of "<queue>.dead" rejects what it cannot handle; idempotent.
- publish() returns only once the broker has taken responsibility for the message (confirm);
  it raises BrokerError otherwise.
- consume() calls handler(envelope) for each message and blocks until stop is set.
  * handler returns -> the message is acknowledged (so store the result BEFORE returning);
  * handler raises Reject(reason) -> the message goes to "<queue>.dead" with header
    "x-guichet-reason" = reason, and is acknowledged on the work queue;
  * handler raises Requeue(reason) -> the message goes back to the work queue at once, its attempt
    not counted: it can never be dead-lettered this way (a worker shutting down hands its job over);
  * handler raises anything else -> the attempt is counted: the message waits
    min(retry_backoff * 2**delivery_count, max_retry_backoff) seconds in a delay queue, then comes back
    with header "x-guichet-attempt" = its number of counted deliveries so far. The consumer's slot is
    free during that wait (it handles other messages), and stop is never held up by it. The delivery
    number max_deliveries that fails is dead-lettered with reason
    "delivery limit reached (N attempts): <the last error>".
  The attempt count lives in the message, never in the broker's own counter (RabbitMQ >= 4.3 no longer
  counts a nack with requeue in x-delivery-count). Envelope.delivery_count = that header + the
  deliveries the broker itself counted since (a consumer that died mid-handler), so a crash loop is
  dead-lettered too. Handlers must tolerate redelivery (envelope.redelivered / delivery_count).
- get(queue) takes one message without a handler (acked at once): for tests, tools and the DLQ.
- depth(queue) is the number of ready messages.
- ping() raises BrokerError unless a publish would be accepted now (readiness: a RabbitMQ resource
  alarm makes it fail within the broker's blocked timeout).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from guichet.ports.records import Envelope

REASON_HEADER = "x-guichet-reason"
ATTEMPT_HEADER = "x-guichet-attempt"  # counted deliveries before this one, set when a retry is republished
LIMIT_REASON = "delivery limit reached"
_ERROR_CHARS = 300  # the last error, as named in a dead-letter reason
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


class Requeue(Exception):
    """Raised by a handler: hand this message back at once, uncounted (e.g. the worker is stopping)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def limit_reason(attempts: int, error: BaseException) -> str:
    """The dead-letter reason of a message whose last allowed delivery failed with error."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return f"{LIMIT_REASON} ({attempts} attempts): {text[:_ERROR_CHARS]}"


def counted_attempts(headers: dict[str, str]) -> int:
    """The attempts a message's ATTEMPT_HEADER says were counted before this delivery (0 if none)."""
    value = headers.get(ATTEMPT_HEADER, "0")
    return int(value) if value.isdigit() else 0


def retry_delays(max_deliveries: int, retry_backoff: float, max_retry_backoff: float) -> list[float]:
    """The distinct backoffs a message can wait (one delay queue each on RabbitMQ), shortest first."""
    found = {retry_delay(n, retry_backoff, max_retry_backoff) for n in range(max_deliveries - 1)}
    return sorted(found)


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

    def ping(self) -> None: ...

    def close(self) -> None: ...
