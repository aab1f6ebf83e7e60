"""The relay's reader of RabbitMQAnswerStream: every shard, on one connection, from one thread.

The first attach is at a timestamp (start minus OFFSET_SLACK_S, after a confirmed marker: see
_rabbitmq_stream_read.py for why both); each delivery carries its numeric offset (header
x-stream-offset), so an attach after a lost connection resumes right after the last event read: nothing
is skipped, nothing read twice. Deliveries are acked in batches (streams need acks to send more).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pika
import pika.exceptions as px

from guichet.ports.answer_stream import AnswerEvent, AnswerStreamError
from guichet.ports.answer_streams._rabbitmq_stream_read import MARKER_TYPE, OFFSET_SLACK_S, WAKE_S, _mark
from guichet.ports.brokers._rabbitmq_channel import close_quietly

PREFETCH = 1000
QUIET_S = 1.0


class ShardTail:
    def __init__(self, params: pika.URLParameters, streams: list[str]) -> None:
        self._params = params
        self._streams = streams
        self._next: dict[str, int] = {}  # stream → numeric offset of the next event to read
        self._closed = threading.Event()

    def events(self, start: float, stop: threading.Event) -> Iterator[AnswerEvent | None]:
        if self._closed.is_set():
            return
        try:
            connection = pika.BlockingConnection(self._params)
        except px.AMQPError as exc:
            raise AnswerStreamError(f"RabbitMQ injoignable pour le relais des réponses : {exc!r}") from exc
        try:
            yield from self._read(connection, start, stop)
        except px.AMQPError as exc:
            if stop.is_set() or self._closed.is_set():
                return
            raise AnswerStreamError(f"lecture des flux de réponses interrompue : {exc!r}") from exc
        finally:
            close_quietly(connection)

    def close(self) -> None:
        """events() ends at its next wake (and closes its connection); the relay then stops for good."""
        self._closed.set()

    def _read(self, connection: Any, start: float, stop: threading.Event) -> Iterator[AnswerEvent | None]:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=PREFETCH)
        batch: list[tuple[int, Any, bytes]] = []
        for stream in self._streams:
            offset = self._next.get(stream)
            if offset is None:
                _mark(channel, stream)
            position: Any = (
                offset
                if offset is not None
                else datetime.fromtimestamp(max(0.0, start - OFFSET_SLACK_S), tz=UTC)
            )
            channel.basic_consume(
                stream,
                on_message_callback=lambda _ch, method, props, body, s=stream: batch.append(
                    (method.delivery_tag, (s, props), body)
                ),
                arguments={"x-stream-offset": position},
            )
        quiet_since = time.monotonic()
        while not stop.is_set() and not self._closed.is_set():
            connection.process_data_events(time_limit=WAKE_S)
            if not batch:
                if time.monotonic() - quiet_since >= QUIET_S:
                    yield None
                    quiet_since = time.monotonic()
                continue
            received, batch[:] = list(batch), []
            channel.basic_ack(received[-1][0], multiple=True)
            for _tag, (stream, props), body in received:
                event = self._event(stream, props, body, start)
                if event is not None:
                    yield event
            quiet_since = time.monotonic()

    def _event(self, stream: str, props: Any, body: bytes, start: float) -> AnswerEvent | None:
        headers = props.headers or {}
        offset = headers.get("x-stream-offset")
        if isinstance(offset, int):
            self._next[stream] = offset + 1
        if props.type == MARKER_TYPE or not headers.get("answer_id"):
            return None
        try:
            event = AnswerEvent.from_json(body)
        except (ValueError, KeyError, TypeError):
            return None  # logged by no one: the per-answer readers skip it the same way
        return event if event.ts >= start else None
