"""The connection and channel that RabbitMQBroker's publish/get/depth/declare share.

pika is not thread-safe: they take turns behind a lock. The channel is in confirm mode, so a publish
returns only once RabbitMQ has taken the message (or raises BrokerError).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pika
import pika.exceptions as px

from guichet.ports.broker import BrokerError

log = logging.getLogger(__name__)

T = TypeVar("T")


class SharedChannel:
    def __init__(self, params: pika.URLParameters) -> None:
        self._params = params
        self._lock = threading.Lock()
        self._connection: Any = None
        self._channel: Any = None

    def publish(
        self, exchange: str, routing_key: str, body: bytes, message_id: str, headers: dict[str, str]
    ) -> None:
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message_id,
            timestamp=int(time.time()),
            headers=headers,
        )

        def send(channel: Any) -> None:
            channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)

        self.run(f"publication vers {routing_key!r}", send, retry=True)

    def run(self, what: str, action: Callable[[Any], T], *, retry: bool = False) -> T:
        """Run action(channel) on the shared channel; any pika error becomes BrokerError.

        A dropped connection is reopened and, when retry is set, the action retried once: publishing
        twice is allowed (at-least-once), losing a publish is not.
        """
        with self._lock:
            for attempt in (1, 2):
                try:
                    return action(self._open_channel())
                except (px.UnroutableError, px.NackError) as exc:
                    raise BrokerError(f"{what} : message non confirmé par RabbitMQ ({exc!r})") from exc
                except px.AMQPError as exc:
                    # A channel closed by the broker (404, 406...) or a lost connection: start afresh.
                    self._reset(connection_lost=isinstance(exc, px.AMQPConnectionError))
                    if not (retry and attempt == 1 and isinstance(exc, px.AMQPConnectionError)):
                        raise BrokerError(f"{what} : {exc!r}") from exc
            raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            close_quietly(self._connection)
            self._connection = self._channel = None

    def _open_channel(self) -> Any:
        if self._connection is None or not self._connection.is_open:
            self._connection = pika.BlockingConnection(self._params)
            self._channel = None
        if self._channel is None or not self._channel.is_open:
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
        return self._channel

    def _reset(self, *, connection_lost: bool) -> None:
        if connection_lost:
            close_quietly(self._connection)
            self._connection = None
        self._channel = None


def close_quietly(connection: Any) -> None:
    if connection is None or not connection.is_open:
        return
    try:
        connection.close()
    except px.AMQPError as exc:  # already dying: nothing left to release
        log.debug("closing RabbitMQ: %r", exc)
