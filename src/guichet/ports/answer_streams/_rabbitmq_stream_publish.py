"""The publishing side of RabbitMQAnswerStream: a pool of confirm-mode connections.

pika is not thread-safe and the answer worker publishes from several generation threads at once: each
publish borrows an idle connection (or opens one) and gives it back, so concurrent publishers never wait
for each other's confirms and a thread that ends leaves nothing behind. A connection found dropped
(idle ones miss their heartbeats) is replaced and the publish retried once: publishing twice is allowed
(readers skip duplicates), losing an event is not.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions as px

from guichet.ports.answer_stream import AnswerStreamError
from guichet.ports.brokers._rabbitmq_channel import close_quietly

_MAX_IDLE = 16


@dataclass
class _Publisher:
    connection: Any
    channel: Any


class Publishers:
    def __init__(self, params: pika.URLParameters) -> None:
        self._params = params
        self._lock = threading.Lock()
        self._idle: list[_Publisher] = []
        self._closed = False  # then borrowed connections are closed when given back

    def publish(self, stream: str, body: bytes, headers: dict[str, str]) -> None:
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            content_type="application/json",
            timestamp=int(time.time()),
            headers=headers,
        )
        for attempt in (1, 2):
            # A lost connection means the idle ones are most likely lost too (a broker restart, or
            # heartbeats missed while idle): the retry opens a fresh connection.
            publisher = self._take(fresh=attempt == 2)
            try:
                publisher.channel.basic_publish("", stream, body, properties, mandatory=True)
            except (px.UnroutableError, px.NackError) as exc:
                self._give_back(publisher)
                raise AnswerStreamError(
                    f"événement non confirmé par RabbitMQ ({stream!r}) : {exc!r}"
                ) from exc
            except px.AMQPError as exc:
                close_quietly(publisher.connection)
                if isinstance(exc, px.AMQPConnectionError):
                    self._drop_idle()
                if attempt == 2 or not isinstance(exc, px.AMQPConnectionError):
                    raise AnswerStreamError(f"publication vers {stream!r} : {exc!r}") from exc
            else:
                self._give_back(publisher)
                return

    def ping(self) -> bool:
        try:
            publisher = self._take(fresh=True)
        except AnswerStreamError:
            return False
        try:
            publisher.connection.process_data_events(time_limit=0)
        except px.AMQPError:
            close_quietly(publisher.connection)
            return False
        self._give_back(publisher)
        return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for publisher in idle:
            close_quietly(publisher.connection)

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for publisher in idle:
            close_quietly(publisher.connection)

    def _take(self, *, fresh: bool = False) -> _Publisher:
        with self._lock:
            while self._idle and not fresh:
                publisher = self._idle.pop()
                if publisher.connection.is_open and publisher.channel.is_open:
                    return publisher
                close_quietly(publisher.connection)
        try:
            connection = pika.BlockingConnection(self._params)
            channel = connection.channel()
            channel.confirm_delivery()
        except px.AMQPError as exc:
            raise AnswerStreamError(f"RabbitMQ injoignable pour le flux de réponses : {exc!r}") from exc
        return _Publisher(connection, channel)

    def _give_back(self, publisher: _Publisher) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < _MAX_IDLE:
                self._idle.append(publisher)
                return
        close_quietly(publisher.connection)
