"""RabbitMQBroker: the production broker, through pika.

Topology made by declare(queue):
- "<queue>": durable quorum queue, x-delivery-limit, dead-lettering to the DLX with routing key <queue>;
- the DLX (durable direct exchange) and "<queue>.dead" (durable quorum queue) bound on it with key <queue>.

pika is not thread-safe: publish/get/depth/declare share one connection behind a lock, and each consume()
call opens its own (see _rabbitmq_consume.py; how each delivery is handled and settled:
_rabbitmq_delivery.py). consume() only ends when stop is set.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pika

from guichet.ports.broker import (
    DEFAULT_MAX_DELIVERIES,
    DEFAULT_MAX_RETRY_BACKOFF,
    DEFAULT_RETRY_BACKOFF,
    Handler,
    check_retry_backoff,
    dead_letter_queue,
)
from guichet.ports.brokers._rabbitmq_channel import SharedChannel
from guichet.ports.brokers._rabbitmq_consume import consume
from guichet.ports.brokers._rabbitmq_delivery import Policy
from guichet.ports.brokers._rabbitmq_messages import LIMIT_REASON, REJECTED_REASON, envelope
from guichet.ports.records import Envelope

__all__ = ["LIMIT_REASON", "REJECTED_REASON", "RabbitMQBroker", "work_queue_arguments"]


class RabbitMQBroker:
    def __init__(
        self,
        url: str,
        *,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        dead_letter_exchange: str = "guichet.dlx",
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        max_retry_backoff: float = DEFAULT_MAX_RETRY_BACKOFF,
    ) -> None:
        if max_deliveries < 1:
            raise ValueError("max_deliveries doit être au moins 1")
        check_retry_backoff(retry_backoff, max_retry_backoff)
        self.max_deliveries = max_deliveries
        self.retry_backoff = retry_backoff
        self.max_retry_backoff = max_retry_backoff
        self.dead_letter_exchange = dead_letter_exchange
        self._params = pika.URLParameters(url)
        self._shared = SharedChannel(self._params)

    # --- Broker ----------------------------------------------------------------------------------------

    def declare(self, queue: str) -> None:
        dead = dead_letter_queue(queue)
        quorum = {"x-queue-type": "quorum"}
        arguments = work_queue_arguments(queue, self.max_deliveries, self.dead_letter_exchange)

        def declare_all(channel: Any) -> None:
            channel.exchange_declare(self.dead_letter_exchange, "direct", durable=True)
            channel.queue_declare(dead, durable=True, arguments=quorum)
            channel.queue_bind(dead, self.dead_letter_exchange, routing_key=queue)
            channel.queue_declare(queue, durable=True, arguments=arguments)

        self._shared.run(f"déclaration de {queue!r}", declare_all)

    def publish(
        self, queue: str, body: bytes, *, message_id: str = "", headers: dict[str, str] | None = None
    ) -> None:
        self._shared.publish("", queue, body, message_id or uuid.uuid4().hex, dict(headers or {}))

    def consume(self, queue: str, handler: Handler, *, stop: threading.Event, prefetch: int = 1) -> None:
        policy = Policy(
            self.max_deliveries,
            self.retry_backoff,
            self.max_retry_backoff,
            self.dead_letter_exchange,
            self._shared.publish,
        )
        consume(self._params, queue, handler, stop, prefetch, policy)

    def get(self, queue: str) -> Envelope | None:
        def take(channel: Any) -> Envelope | None:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            return None if method is None else envelope(method, properties, body)

        return self._shared.run(f"lecture de {queue!r}", take)

    def depth(self, queue: str) -> int:
        def count(channel: Any) -> int:
            return int(channel.queue_declare(queue, passive=True).method.message_count)

        return self._shared.run(f"profondeur de {queue!r}", count)

    def close(self) -> None:
        self._shared.close()


def work_queue_arguments(queue: str, max_deliveries: int, dead_letter_exchange: str) -> dict[str, Any]:
    """The arguments of a work queue; infra/rabbitmq/definitions.json must declare the same ones."""
    return {
        "x-queue-type": "quorum",
        # RabbitMQ allows limit + 1 deliveries (see _rabbitmq_messages.py): this makes it max_deliveries.
        "x-delivery-limit": max_deliveries - 1,
        "x-dead-letter-exchange": dead_letter_exchange,
        "x-dead-letter-routing-key": queue,
    }
