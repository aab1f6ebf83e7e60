"""RabbitMQBroker: the production broker, through pika.

Topology made by declare(queue):
- "<queue>": durable quorum queue, x-delivery-limit, dead-lettering to the DLX with routing key <queue>;
- the DLX (durable direct exchange) and "<queue>.dead" (durable quorum queue) bound on it with key <queue>;
- "<queue>.dead.dead" (durable quorum queue) bound on the DLX with key "<queue>.dead": where the
  consumer of the dead-letter queue parks what it cannot handle;
- the delay queues of the retry backoffs, "<delay_prefix>.<ms>", shared by every work queue
  (see _rabbitmq_topology.py).

pika is not thread-safe: publish/get/depth/declare borrow a connection from a small pool (see
_rabbitmq_channel.py: a resource alarm makes a publish fail within blocked_timeout), and each consume()
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
    retry_delays,
)
from guichet.ports.brokers._rabbitmq_channel import DEFAULT_BLOCKED_TIMEOUT, SharedChannel
from guichet.ports.brokers._rabbitmq_consume import consume
from guichet.ports.brokers._rabbitmq_delivery import Policy
from guichet.ports.brokers._rabbitmq_messages import LIMIT_REASON, REJECTED_REASON, envelope
from guichet.ports.brokers._rabbitmq_topology import (
    DEFAULT_DELAY_PREFIX,
    delay_name,
    delay_queue_arguments,
    work_queue_arguments,
)
from guichet.ports.records import Envelope

__all__ = [
    "LIMIT_REASON",
    "REJECTED_REASON",
    "RabbitMQBroker",
    "delay_name",
    "delay_queue_arguments",
    "work_queue_arguments",
]


class RabbitMQBroker:
    def __init__(
        self,
        url: str,
        *,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        dead_letter_exchange: str = "guichet.dlx",
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        max_retry_backoff: float = DEFAULT_MAX_RETRY_BACKOFF,
        delay_prefix: str = DEFAULT_DELAY_PREFIX,
        blocked_timeout: float = DEFAULT_BLOCKED_TIMEOUT,
    ) -> None:
        if max_deliveries < 1:
            raise ValueError("max_deliveries doit être au moins 1")
        check_retry_backoff(retry_backoff, max_retry_backoff)
        self.max_deliveries = max_deliveries
        self.retry_backoff = retry_backoff
        self.max_retry_backoff = max_retry_backoff
        self.dead_letter_exchange = dead_letter_exchange
        self.delay_prefix = delay_prefix
        self._params = pika.URLParameters(url)
        self._shared = SharedChannel(self._params, blocked_timeout)

    # --- Broker ----------------------------------------------------------------------------------------

    def declare(self, queue: str) -> None:
        dead = dead_letter_queue(queue)
        parked = dead_letter_queue(dead)
        quorum = {"x-queue-type": "quorum"}
        arguments = work_queue_arguments(queue, self.max_deliveries, self.dead_letter_exchange)

        def declare_all(channel: Any) -> None:
            for seconds in retry_delays(self.max_deliveries, self.retry_backoff, self.max_retry_backoff):
                name = delay_name(self.delay_prefix, seconds)
                channel.exchange_declare(name, "fanout", durable=True)
                channel.queue_declare(name, durable=True, arguments=delay_queue_arguments(seconds))
                channel.queue_bind(name, name)
            channel.exchange_declare(self.dead_letter_exchange, "direct", durable=True)
            channel.queue_declare(dead, durable=True, arguments=quorum)
            channel.queue_bind(dead, self.dead_letter_exchange, routing_key=queue)
            channel.queue_declare(parked, durable=True, arguments=quorum)
            channel.queue_bind(parked, self.dead_letter_exchange, routing_key=dead)
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
            self.delay_prefix,
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

    def ping(self) -> None:
        self._shared.probe(f"{self.delay_prefix}.ping")

    def close(self) -> None:
        self._shared.close()
