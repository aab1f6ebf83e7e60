"""RabbitMQBroker.consume(): one connection per call, reopened after any failure until stop is set.

A lost connection, a closed channel (a queue deleted or not yet declared...) or any other error outside
the handler is logged, waited out (0.5 s doubling up to 30 s, cut short by stop) and the consumer
reconnects; RabbitMQ requeues what the dead channel left unacked. A consumer that stops hands back the
deliveries it took but never ran itself, uncounted (_hand_back_unrun), before it closes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pika
import pika.exceptions as px

from guichet.ports.broker import Handler
from guichet.ports.brokers._rabbitmq_channel import close_quietly
from guichet.ports.brokers._rabbitmq_delivery import WAKE_S, Deliverer, Delivery, Policy

log = logging.getLogger(__name__)

_BACKOFF_MIN_S, _BACKOFF_MAX_S = 0.5, 30.0


def consume(
    params: pika.URLParameters,
    queue: str,
    handler: Handler,
    stop: threading.Event,
    prefetch: int,
    policy: Policy,
) -> None:
    delay = _BACKOFF_MIN_S
    while not stop.is_set():
        try:
            connection = pika.BlockingConnection(params)
        except px.AMQPConnectionError as exc:
            log.warning("RabbitMQ unreachable (%r); retrying in %.1f s", exc, delay)
            stop.wait(delay)
            delay = min(delay * 2, _BACKOFF_MAX_S)
            continue
        started = time.monotonic()
        try:
            _serve(connection, queue, handler, stop, prefetch, policy)
        except px.AMQPConnectionError as exc:
            # Reconnect at once: if RabbitMQ is really gone, connecting fails and backs off.
            log.warning("RabbitMQ connection lost while consuming %r (%r)", queue, exc)
            delay = _BACKOFF_MIN_S
            continue
        except Exception:  # a closed channel, a failed ack...: wait it out, then reconnect
            if time.monotonic() - started > _BACKOFF_MAX_S:
                delay = _BACKOFF_MIN_S  # it had been serving fine for a while
            log.exception("consuming %r interrupted; resuming in %.1f s", queue, delay)
            stop.wait(delay)
            delay = min(delay * 2, _BACKOFF_MAX_S)
            continue
        finally:
            close_quietly(connection)


def _serve(
    connection: Any, queue: str, handler: Handler, stop: threading.Event, prefetch: int, policy: Policy
) -> None:
    channel = connection.channel()
    channel.basic_qos(prefetch_count=prefetch)
    pending: deque[Delivery] = deque()
    channel.basic_consume(queue, lambda _ch, method, props, body: pending.append((method, props, body)))
    with ThreadPoolExecutor(1, thread_name_prefix=f"guichet-{queue}") as pool:
        deliverer = Deliverer(connection, channel, pool, queue, handler, stop, policy)
        while not stop.is_set():
            connection.process_data_events(time_limit=WAKE_S)
            while pending and not stop.is_set():
                deliverer.deliver(pending.popleft())
        _hand_back_unrun(connection, channel, pending, deliverer)


def _hand_back_unrun(connection: Any, channel: Any, pending: deque[Delivery], deliverer: Deliverer) -> None:
    """Stopping: the deliveries taken but never run go back to the queue uncounted.

    Left unacked, RabbitMQ would requeue them when the connection closes and a quorum queue counts that
    return as a delivery: every stop would eat one attempt of a job it never ran (and one on its last
    attempt would be failed without being tried). So the consumer is cancelled first (nothing more
    comes), then each is republished with its attempt count unchanged and acked, as Requeue does.
    Not covered: a delivery RabbitMQ pushed into a free prefetch slot while the cancel was on its way.
    pika rejects it with requeue (it offers no way to take it) and the queue counts that return: one
    attempt, for a job published at the very moment a worker stops with a free slot. A worker stopped
    mid-job cancels before it acks (_rabbitmq_delivery._cancel_if_stopping): with the default prefetch
    of 1 its slot is full, nothing is in flight.
    """
    connection.process_data_events(time_limit=0)  # what has already arrived joins pending
    channel.stop_consuming()
    while pending:
        deliverer.hand_back(pending.popleft())
