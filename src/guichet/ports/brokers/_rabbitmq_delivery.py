"""One delivery to a RabbitMQ consumer: run the handler, then ack, requeue or dead-letter the message.

The handler runs in a helper thread while the consuming thread keeps pumping the connection, so that
heartbeats flow during long handlers (an LLM answer can take a minute); the ack is sent from the
consuming thread after the handler returns. After a failure the message is republished, confirmed, to
the delay queue of its backoff with its attempt count in a header, then acked: the slot is free at once
(see _rabbitmq_topology.py). Requeue republishes it to the work queue, its count unchanged. Should that
publish fail (a delay queue missing), the backoff is waited out in the slot, pumping the connection,
and the message republished to the work queue; failing that too, it is nacked with requeue.

When the dead-letter publish of a rejected (or exhausted) message fails (the DLX missing, unroutable,
unconfirmed), the message is nacked without requeue instead, so that the work queue's own
x-dead-letter-exchange takes it (with x-death reason "rejected" instead of our reason header), rather
than the worker crashing and looping on it. If that nack fails too, the channel is gone: RabbitMQ
requeues the message and the consumer reconnects after its backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from guichet.ports.broker import (
    ATTEMPT_HEADER,
    REASON_HEADER,
    BrokerError,
    Handler,
    Reject,
    Requeue,
    limit_reason,
    retry_delay,
)
from guichet.ports.brokers._rabbitmq_messages import envelope
from guichet.ports.brokers._rabbitmq_topology import delay_name
from guichet.ports.records import Envelope

log = logging.getLogger(__name__)

WAKE_S = 0.5  # the consume loop re-checks stop at least this often
Delivery = tuple[Any, Any, bytes]  # pika's Basic.Deliver, BasicProperties, body
# (exchange, routing key, body, message_id, headers): a confirmed publish, BrokerError when it fails.
Publish = Callable[[str, str, bytes, str, dict[str, str]], None]


@dataclass(frozen=True)
class Policy:
    """RabbitMQBroker's settings for failed and rejected messages, and its publisher."""

    max_deliveries: int
    retry_backoff: float
    max_retry_backoff: float
    dead_letter_exchange: str
    delay_prefix: str
    publish: Publish


class Deliverer:
    """Hands the deliveries of one consuming channel to handler, one at a time, and settles each."""

    def __init__(
        self,
        connection: Any,
        channel: Any,
        pool: ThreadPoolExecutor,
        queue: str,
        handler: Handler,
        stop: threading.Event,
        policy: Policy,
    ) -> None:
        self._connection = connection
        self._channel = channel
        self._pool = pool
        self._queue = queue
        self._handler = handler
        self._stop = stop
        self._policy = policy

    def deliver(self, delivery: Delivery) -> None:
        method, properties, body = delivery
        message = envelope(method, properties, body)
        future = self._run(message)  # outside the try: a pika error while pumping is not the handler's
        settled: bool | None
        try:
            future.result()
        except Reject as exc:
            log.info("message %s rejected: %s", message.message_id, exc.reason)
            settled = self._dead_letter(message, exc.reason)
        except Requeue as exc:
            log.info("message %s handed back: %s", message.message_id, exc.reason)
            settled = self._send_back(message, message.delivery_count, 0.0)
        except Exception as exc:
            attempts = message.delivery_count + 1
            if attempts < self._policy.max_deliveries:
                policy = self._policy
                delay = retry_delay(message.delivery_count, policy.retry_backoff, policy.max_retry_backoff)
                log.warning("message %s: failed, retried in %.1f s", message.message_id, delay, exc_info=True)
                settled = self._send_back(message, attempts, delay)
            else:
                log.exception("message %s: failed on its last delivery, dead-lettered", message.message_id)
                settled = self._dead_letter(message, limit_reason(attempts, exc))
        else:
            settled = True  # nothing to move: acked
        self._settle(method.delivery_tag, settled)

    def hand_back(self, delivery: Delivery) -> None:
        """Return a delivery that was never run to the work queue, its attempt not counted."""
        method, properties, body = delivery
        message = envelope(method, properties, body)
        log.info("message %s taken while stopping: handed back uncounted", message.message_id)
        self._settle(method.delivery_tag, self._send_back(message, message.delivery_count, 0.0))

    def _settle(self, delivery_tag: Any, settled: bool | None) -> None:
        """Ack what was moved (True), nack a failed dead letter (False) or requeue the message (None)."""
        _cancel_if_stopping(self._connection, self._channel, self._stop)
        if settled:
            self._channel.basic_ack(delivery_tag)
        elif settled is None:
            self._channel.basic_nack(delivery_tag, requeue=True)
        else:  # the work queue's own x-dead-letter-exchange takes it
            self._channel.basic_nack(delivery_tag, requeue=False)

    def _run(self, message: Envelope) -> Future[None]:
        """Run the handler in the helper thread, pumping the connection until it is done."""
        future: Future[None] = self._pool.submit(self._handler, message)
        # Wake process_data_events as soon as the handler ends (the one thread-safe pika call).
        future.add_done_callback(lambda _f: _wake(self._connection))
        while not future.done():
            self._connection.process_data_events(time_limit=WAKE_S)
        return future

    def _send_back(self, message: Envelope, attempts: int, delay: float) -> bool | None:
        """Republish to the work queue, after delay seconds in a delay queue; None when that failed."""
        headers = {**message.headers, ATTEMPT_HEADER: str(attempts)}
        exchange = delay_name(self._policy.delay_prefix, delay) if delay > 0 else ""
        route = (exchange, self._queue)
        try:
            self._policy.publish(*route, message.body, message.message_id, headers)
            return True
        except BrokerError:
            log.exception("message %s: publishing to %r failed", message.message_id, route[0])
        if delay > 0:
            _pump(self._connection, delay, self._stop)  # the slot waits instead of the delay queue
        try:
            self._policy.publish("", self._queue, message.body, message.message_id, headers)
            return True
        except BrokerError:
            log.exception("message %s: republishing failed, nacked with requeue", message.message_id)
            return None

    def _dead_letter(self, message: Envelope, reason: str) -> bool:
        """Publish to the DLX (confirmed before the ack: a crash in between duplicates, never loses).

        False when that failed: the caller then nacks without requeue (see the module docstring).
        """
        headers = {**message.headers, REASON_HEADER: reason}
        exchange = self._policy.dead_letter_exchange
        try:
            self._policy.publish(exchange, self._queue, message.body, message.message_id, headers)
        except BrokerError:
            log.exception(
                "message %s (reason: %s): publishing to %r failed; rejected to the dead-letter queue of %r",
                message.message_id,
                reason,
                exchange,
                self._queue,
            )
            return False
        return True


def _pump(connection: Any, seconds: float, stop: threading.Event) -> None:
    """Keep the connection serving (heartbeats) for seconds, or until stop is seen (within WAKE_S)."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        connection.process_data_events(time_limit=min(remaining, WAKE_S))


def _cancel_if_stopping(connection: Any, channel: Any, stop: threading.Event) -> None:
    # Settling frees a prefetch slot: when stopping, cancel the consumer first, or RabbitMQ may fill that
    # slot with a message this consumer would only hand back. What has already arrived is dispatched to
    # the consumer's callback first: pika would reject what is still unread at the cancel with requeue,
    # and a quorum queue counts that as a delivery (the consume loop hands those back uncounted).
    if stop.is_set():
        connection.process_data_events(time_limit=0)
        channel.stop_consuming()


def _wake(connection: Any) -> None:
    try:
        connection.add_callback_threadsafe(lambda: None)
    except Exception as exc:  # the connection died meanwhile: the consume loop already knows
        log.debug("could not wake the RabbitMQ loop: %r", exc)
