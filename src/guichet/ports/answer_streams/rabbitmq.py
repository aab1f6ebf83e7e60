"""RabbitMQAnswerStream: live answer events in RabbitMQ streams, sharded by answer id.

Topology: `shards` durable streams "<prefix>.<n>" (stream_arguments()), declared once per instance on
first use; infra/rabbitmq/definitions.json declares the default ones. The events of answer X all go to
shard_index(X) (a sha1, so every process agrees), which keeps them in publish order.

publish() goes through a pool of confirm-mode connections (_rabbitmq_stream_publish.py), bounded under a
RabbitMQ resource alarm by blocked_timeout (GUICHET_BROKER_BLOCKED_TIMEOUT, as the broker's); each
subscribe() reads its shard from a timestamp offset on a connection of its own
(_rabbitmq_stream_read.py) and skips the other answers' events. A function process does not subscribe
per stream: its relay (relay.py) reads every shard once through tail() (_rabbitmq_stream_tail.py).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Iterator
from typing import Any

import pika
import pika.exceptions as px

from guichet.ports.answer_stream import DEFAULT_RETENTION_S, AnswerEvent, AnswerStreamError
from guichet.ports.answer_streams._rabbitmq_stream_publish import Publishers
from guichet.ports.answer_streams._rabbitmq_stream_read import read
from guichet.ports.answer_streams._rabbitmq_stream_tail import ShardTail
from guichet.ports.brokers._rabbitmq_channel import DEFAULT_BLOCKED_TIMEOUT, close_quietly

log = logging.getLogger(__name__)

# Retention is applied by whole segments: small ones let old events go soon after `retention`.
SEGMENT_BYTES = 8_000_000
_PRECONDITION_FAILED = 406


class RabbitMQAnswerStream:
    def __init__(
        self,
        url: str,
        *,
        shards: int = 4,
        retention: float = DEFAULT_RETENTION_S,
        prefix: str = "guichet.answers",
        blocked_timeout: float = DEFAULT_BLOCKED_TIMEOUT,
    ) -> None:
        if shards < 1 or retention <= 0:
            raise ValueError("shards doit être au moins 1 et retention positive")
        self.retention = retention
        self.streams = shard_names(prefix, shards)
        self._params = pika.URLParameters(url)
        self._publishers = Publishers(url, blocked_timeout)
        self._declare_lock = threading.Lock()
        self._declared = False
        self._tails: list[ShardTail] = []  # closed with this stream

    def shard(self, answer_id: str) -> str:
        return self.streams[shard_index(answer_id, len(self.streams))]

    def publish(self, event: AnswerEvent) -> None:
        self._declare()
        self._publishers.publish(self.shard(event.answer_id), event.to_json(), {"answer_id": event.answer_id})

    def subscribe(
        self, answer_id: str, *, since: float, stop: threading.Event, heartbeat: float = 15.0
    ) -> Iterator[AnswerEvent | None]:
        self._declare()
        return read(self._params, self.shard(answer_id), answer_id, since, stop, heartbeat)

    def tail(self) -> ShardTail:
        """A reader of every shard for this process's relay (relay.py), on a connection of its own."""
        self._declare()
        tail = ShardTail(self._params, self.streams)
        self._tails.append(tail)
        return tail

    def ping(self) -> bool:
        return self._publishers.ping()

    def close(self) -> None:
        self._publishers.close()
        for tail in self._tails:
            tail.close()

    def _declare(self) -> None:
        with self._declare_lock:
            if self._declared:
                return
            try:
                connection = pika.BlockingConnection(self._params)
            except px.AMQPError as exc:
                raise AnswerStreamError(f"RabbitMQ injoignable pour le flux de réponses : {exc!r}") from exc
            try:
                for stream in self.streams:
                    _declare_stream(connection, stream, stream_arguments(self.retention))
            except px.AMQPError as exc:
                raise AnswerStreamError(f"déclaration des flux de réponses : {exc!r}") from exc
            finally:
                close_quietly(connection)
            self._declared = True


def stream_arguments(retention: float) -> dict[str, Any]:
    """The arguments of a shard stream; infra/rabbitmq/definitions.json must declare the same ones."""
    return {
        "x-queue-type": "stream",
        "x-max-age": f"{max(1, math.ceil(retention))}s",
        "x-stream-max-segment-size-bytes": SEGMENT_BYTES,
    }


def shard_names(prefix: str, shards: int) -> list[str]:
    return [f"{prefix}.{n}" for n in range(shards)]


def shard_index(answer_id: str, shards: int) -> int:
    """The shard of answer_id: the same in every process (unlike hash(), which is salted per process)."""
    digest = hashlib.sha1(answer_id.encode("utf-8"), usedforsecurity=False).hexdigest()
    return int(digest, 16) % shards


def _declare_stream(connection: Any, stream: str, arguments: dict[str, Any]) -> None:
    channel = connection.channel()
    try:
        channel.queue_declare(stream, durable=True, arguments=arguments)
    except px.ChannelClosedByBroker as exc:
        if exc.reply_code != _PRECONDITION_FAILED:
            raise
        # Declared earlier with other arguments (retention changed): the existing stream still works.
        log.warning("stream %r already exists with other arguments (%s); kept as it is", stream, exc)
        return
    channel.close()
