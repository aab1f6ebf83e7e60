"""The reading side of RabbitMQAnswerStream: one answer's events, from its shard, since a timestamp.

Each reader has its own connection (closed however the generator ends). It attaches to the shard at a
timestamp a little before `since`: RabbitMQ starts at a whole chunk and stamps chunks with its own clock,
so the slack covers both (clocks of the broker and of the replica that created the job may differ by up
to OFFSET_SLACK_S), and events older than `since` (or of other answers) are skipped here. Events are
filtered by the worker's own `ts`: the worker's clock must not lag the job creator's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pika
import pika.exceptions as px

from guichet.ports.answer_stream import AnswerEvent, AnswerStreamError
from guichet.ports.brokers._rabbitmq_channel import close_quietly

log = logging.getLogger(__name__)

# Streams only deliver with a prefetch, and need acks to send more.
PREFETCH = 200
OFFSET_SLACK_S = 5.0
MARKER_TYPE = "guichet.reader-marker"
# How often a quiet reader looks at stop.
WAKE_S = 0.2


def read(
    params: pika.URLParameters,
    stream: str,
    answer_id: str,
    since: float,
    stop: threading.Event,
    heartbeat: float,
) -> Iterator[AnswerEvent | None]:
    try:
        connection = pika.BlockingConnection(params)
    except px.AMQPError as exc:
        raise AnswerStreamError(f"RabbitMQ injoignable pour lire {stream!r} : {exc!r}") from exc
    try:
        yield from _events(connection, stream, answer_id, since, stop, heartbeat)
    except px.AMQPError as exc:
        raise AnswerStreamError(f"lecture du flux {stream!r} interrompue : {exc!r}") from exc
    finally:
        close_quietly(connection)


def _events(
    connection: Any, stream: str, answer_id: str, since: float, stop: threading.Event, heartbeat: float
) -> Iterator[AnswerEvent | None]:
    channel = connection.channel()
    channel.basic_qos(prefetch_count=PREFETCH)
    _mark(channel, stream)
    offset = datetime.fromtimestamp(max(0.0, since - OFFSET_SLACK_S), tz=UTC)
    deliveries = channel.consume(
        stream, arguments={"x-stream-offset": offset}, inactivity_timeout=min(heartbeat, WAKE_S)
    )
    quiet_since = time.monotonic()
    for method, properties, body in deliveries:
        if stop.is_set():
            return
        if method is not None:
            channel.basic_ack(method.delivery_tag)
            event = _match(properties, body, answer_id, since)
            if event is not None:
                yield event
                if event.terminal:
                    return
                quiet_since = time.monotonic()
                continue
        if time.monotonic() - quiet_since >= heartbeat:
            yield None
            quiet_since = time.monotonic()


def _mark(channel: Any, stream: str) -> None:
    """Publish an empty marker (of no answer) to stream, and wait for its confirm.

    When no chunk is as recent as the offset, RabbitMQ 3.10 attaches at the end of the log, and an event
    written at that very moment can be missed (seen about once in 50 attaches to an empty stream). The
    confirmed marker is such a chunk: the offset then always lands inside the log.
    """
    channel.confirm_delivery()
    properties = pika.BasicProperties(headers={"answer_id": ""}, type=MARKER_TYPE)
    channel.basic_publish("", stream, b"", properties, mandatory=True)


def _match(properties: Any, body: bytes, answer_id: str, since: float) -> AnswerEvent | None:
    """The event in body when it is answer_id's and not older than since; None otherwise."""
    headers = properties.headers or {}
    if headers.get("answer_id", answer_id) != answer_id:
        return None  # another answer of the shard: skipped without parsing it
    try:
        event = AnswerEvent.from_json(body)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("unreadable event skipped in the answer stream: %r", exc)
        return None
    if event.answer_id != answer_id or event.ts < since:
        return None
    return event
