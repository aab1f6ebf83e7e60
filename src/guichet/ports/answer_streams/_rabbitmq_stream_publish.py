"""The publishing side of RabbitMQAnswerStream: a pool of confirm-mode connections.

pika is not thread-safe and the answer worker publishes from several generation threads at once: each
publish borrows an idle connection (or opens one) and gives it back, so concurrent publishers never wait
for each other's confirms. A connection found dropped (idle ones miss their heartbeats) is replaced and
the publish retried once: publishing twice is allowed (readers skip duplicates).

The pool is the broker's own (brokers/_rabbitmq_channel.py), with the same resource-alarm rules: under
a RabbitMQ memory or disk alarm a publish fails within blocked_timeout (GUICHET_BROKER_BLOCKED_TIMEOUT)
instead of waiting for the alarm to clear, and the next ones fail at once until a probe goes through.
An unbounded wait would hold the generation in the middle of its tokens, with its answer record never
stored and its job never acked: the events are a view, the record is the truth (answer/live_events.py).
"""

from __future__ import annotations

import time
from typing import Any

import pika
import pika.exceptions as px

from guichet.ports.answer_stream import AnswerStreamError
from guichet.ports.broker import BrokerError
from guichet.ports.brokers._rabbitmq_channel import DEFAULT_BLOCKED_TIMEOUT, SharedChannel, close_quietly

# Connections in use at once: more than the generation threads of any answer worker, so that none waits.
POOL_SIZE = 64


class Publishers:
    def __init__(self, url: str, blocked_timeout: float = DEFAULT_BLOCKED_TIMEOUT) -> None:
        self._params = pika.URLParameters(url)  # its own: the blocked timeout is for publishers only
        self._shared = SharedChannel(self._params, blocked_timeout, POOL_SIZE)

    def publish(self, stream: str, body: bytes, headers: dict[str, str]) -> None:
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            content_type="application/json",
            timestamp=int(time.time()),
            headers=headers,
        )

        def send(channel: Any) -> None:
            channel.basic_publish("", stream, body, properties, mandatory=True)

        try:
            self._shared.send(stream, send)
        except BrokerError as exc:
            raise AnswerStreamError(f"événement non publié : {exc}") from exc

    def ping(self) -> bool:
        try:
            connection = pika.BlockingConnection(self._params)
        except px.AMQPError:
            return False
        close_quietly(connection)
        return True

    def close(self) -> None:
        self._shared.close()
