"""One delivery to a RabbitMQ consumer: run the handler, then ack, requeue or dead-letter the message.

The handler runs in a helper thread while the consuming thread keeps pumping the connection, so that
heartbeats flow during long handlers (an LLM answer can take a minute); the ack is sent from the
consuming thread after the handler returns. After a failure, the retry backoff is spent pumping the
connection too (never asleep: heartbeats go on), the message unacked, and then nacked.

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

from guichet.ports.broker import REASON_HEADER, BrokerError, Handler, Reject, retry_delay
from guichet.ports.brokers._rabbitmq_messages import LIMIT_REASON, envelope
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
        try:
            future.result()
        except Reject as exc:
            log.info("message %s rejected: %s", message.message_id, exc.reason)
            dead_lettered = self._dead_letter(message, exc.reason)
        except Exception:
            if message.delivery_count + 1 < self._policy.max_deliveries:
                self._requeue_later(method.delivery_tag, message)
                return
            log.exception("message %s: failed on its last delivery, dead-lettered", message.message_id)
            dead_lettered = self._dead_letter(message, LIMIT_REASON)
        else:
            dead_lettered = True  # nothing to dead-letter: acked
        _cancel_if_stopping(self._channel, self._stop)
        if dead_lettered:
            self._channel.basic_ack(method.delivery_tag)
        else:  # the work queue's own x-dead-letter-exchange takes it
            self._channel.basic_nack(method.delivery_tag, requeue=False)

    def _run(self, message: Envelope) -> Future[None]:
        """Run the handler in the helper thread, pumping the connection until it is done."""
        future: Future[None] = self._pool.submit(self._handler, message)
        # Wake process_data_events as soon as the handler ends (the one thread-safe pika call).
        future.add_done_callback(lambda _f: _wake(self._connection))
        while not future.done():
            self._connection.process_data_events(time_limit=WAKE_S)
        return future

    def _requeue_later(self, delivery_tag: Any, message: Envelope) -> None:
        """Called while handling the handler's exception: wait out the backoff, then requeue."""
        policy = self._policy
        delay = retry_delay(message.delivery_count, policy.retry_backoff, policy.max_retry_backoff)
        log.warning("message %s: failed, requeued in %.1f s", message.message_id, delay, exc_info=True)
        _pump(self._connection, delay, self._stop)
        _cancel_if_stopping(self._channel, self._stop)
        self._channel.basic_nack(delivery_tag, requeue=True)  # the quorum queue counts it

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


def _cancel_if_stopping(channel: Any, stop: threading.Event) -> None:
    # Settling frees a prefetch slot: when stopping, cancel the consumer first, or RabbitMQ may fill that
    # slot with a message this consumer would only hand back at close, one delivery count later.
    if stop.is_set():
        channel.stop_consuming()


def _wake(connection: Any) -> None:
    try:
        connection.add_callback_threadsafe(lambda: None)
    except Exception as exc:  # the connection died meanwhile: the consume loop already knows
        log.debug("could not wake the RabbitMQ loop: %r", exc)
