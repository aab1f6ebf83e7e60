"""Helpers for tests of code built on guichet (like dramatiq's stub broker helpers)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from guichet.ports.answer_stream import AnswerEvent, AnswerStream


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.02) -> None:
    """Poll condition until it holds; AssertionError after timeout (generous: it only bounds a failure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def delete_queues(amqp_url: str, names: Sequence[str]) -> None:
    """Deletes these RabbitMQ queues or streams and their ".dead" queues; a missing one is no error."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        for name in names:
            for queue in (name, f"{name}.dead"):
                channel = connection.channel()
                try:
                    channel.queue_delete(queue)  # RabbitMQ answers delete-ok for a missing queue too
                    channel.close()
                except pika.exceptions.AMQPChannelError:
                    pass
    finally:
        connection.close()


class RecordingAnswerStream:
    """Wraps an answer stream and keeps every event published through it (a subscription ends at the
    first terminal event; tests often need all of them, redeliveries included)."""

    def __init__(self, stream: AnswerStream) -> None:
        self._stream = stream
        self.published: list[AnswerEvent] = []

    def publish(self, event: AnswerEvent) -> None:
        self._stream.publish(event)
        self.published.append(event)

    def subscribe(
        self, answer_id: str, *, since: float, stop: threading.Event, heartbeat: float = 15.0
    ) -> Iterator[AnswerEvent | None]:
        return self._stream.subscribe(answer_id, since=since, stop=stop, heartbeat=heartbeat)

    def events(self, answer_id: str) -> list[AnswerEvent]:
        return [e for e in self.published if e.answer_id == answer_id]

    def ping(self) -> bool:
        return self._stream.ping()

    def close(self) -> None:
        self._stream.close()
