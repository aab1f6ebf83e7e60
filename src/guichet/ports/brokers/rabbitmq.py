"""RabbitMQBroker: the production broker, through pika.

Topology made by declare(queue):
- "<queue>": durable quorum queue, x-delivery-limit, dead-lettering to the DLX with routing key <queue>;
- the DLX (durable direct exchange) and "<queue>.dead" (durable quorum queue) bound on it with key <queue>.

pika is not thread-safe: publish/get/depth/declare share one connection behind a lock, and each consume()
call opens its own. Handlers run in a helper thread while the consuming thread keeps pumping the
connection, so that heartbeats flow during long handlers (an LLM answer can take a minute); the ack is
sent from the consuming thread after the handler returns. After a failure, the retry backoff is spent
pumping the connection too (never asleep: heartbeats go on), the message unacked, and then nacked.

consume() only ends when stop is set: a lost connection, a closed channel (a queue deleted or not yet
declared...) or any other error outside the handler is logged, waited out (0.5 s doubling up to 30 s,
cut short by stop) and the consumer reconnects; RabbitMQ requeues what the dead channel left unacked.
When the dead-letter publish of a rejected (or exhausted) message fails (the DLX missing, unroutable,
unconfirmed), the message is nacked without requeue instead, so that the work queue's own
x-dead-letter-exchange takes it (with x-death reason "rejected" instead of our reason header), rather
than the worker crashing and looping on it. If that nack fails too, the channel is gone: RabbitMQ
requeues the message and the consumer reconnects after its backoff.

Observed on RabbitMQ 3.10: quorum queues set x-delivery-count on every delivery (0 the first time) and
dead-letter a message when it is returned while its count already equals x-delivery-limit, i.e. after
limit + 1 deliveries; such dead letters carry x-death / x-first-death-reason = "delivery_limit".
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import pika
import pika.exceptions as px

from guichet.ports.broker import (
    DEFAULT_MAX_DELIVERIES,
    DEFAULT_MAX_RETRY_BACKOFF,
    DEFAULT_RETRY_BACKOFF,
    REASON_HEADER,
    BrokerError,
    Handler,
    Reject,
    check_retry_backoff,
    dead_letter_queue,
    retry_delay,
)
from guichet.records import Envelope

log = logging.getLogger(__name__)

LIMIT_REASON = "delivery limit reached"
# Read back from x-first-death-reason = "rejected": only the fallback of a failed dead-letter publish
# nacks without requeue, so the original reason is in the consumer's log only.
REJECTED_REASON = "rejeté (publication vers la file morte impossible, raison dans les journaux)"
_WAKE_S = 0.5  # the consume loop re-checks stop at least this often
_BACKOFF_MIN_S, _BACKOFF_MAX_S = 0.5, 30.0
_Delivery = tuple[Any, Any, bytes]  # pika's Basic.Deliver, BasicProperties, body
T = TypeVar("T")


class RabbitMQBroker:
    def __init__(
        self,
        url: str,
        *,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        dead_letter_exchange: str = "guichet.dlx",
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        max_retry_backoff: float = DEFAULT_MAX_RETRY_BACKOFF,
    ) -> None:
        if max_deliveries < 1:
            raise ValueError("max_deliveries doit être au moins 1")
        check_retry_backoff(retry_backoff, max_retry_backoff)
        self.max_deliveries = max_deliveries
        self.retry_backoff = retry_backoff
        self.max_retry_backoff = max_retry_backoff
        self.dead_letter_exchange = dead_letter_exchange
        self._params = pika.URLParameters(url)
        self._lock = threading.Lock()
        self._connection: Any = None
        self._channel: Any = None

    # --- Broker ----------------------------------------------------------------------------------------

    def declare(self, queue: str) -> None:
        dead = dead_letter_queue(queue)
        quorum = {"x-queue-type": "quorum"}
        arguments = work_queue_arguments(queue, self.max_deliveries, self.dead_letter_exchange)

        def declare_all(channel: Any) -> None:
            channel.exchange_declare(self.dead_letter_exchange, "direct", durable=True)
            channel.queue_declare(dead, durable=True, arguments=quorum)
            channel.queue_bind(dead, self.dead_letter_exchange, routing_key=queue)
            channel.queue_declare(queue, durable=True, arguments=arguments)

        self._with_channel(f"déclaration de {queue!r}", declare_all)

    def publish(
        self, queue: str, body: bytes, *, message_id: str = "", headers: dict[str, str] | None = None
    ) -> None:
        self._publish("", queue, body, message_id or uuid.uuid4().hex, dict(headers or {}))

    def consume(self, queue: str, handler: Handler, *, stop: threading.Event, prefetch: int = 1) -> None:
        delay = _BACKOFF_MIN_S
        while not stop.is_set():
            try:
                connection = pika.BlockingConnection(self._params)
            except px.AMQPConnectionError as exc:
                log.warning("RabbitMQ injoignable (%r) ; nouvel essai dans %.1f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)
                continue
            started = time.monotonic()
            try:
                self._serve(connection, queue, handler, stop, prefetch)
            except px.AMQPConnectionError as exc:
                # Reconnect at once: if RabbitMQ is really gone, connecting fails and backs off.
                log.warning("connexion RabbitMQ perdue pendant la consommation de %r (%r)", queue, exc)
                delay = _BACKOFF_MIN_S
                continue
            except Exception:  # a closed channel, a failed ack...: wait it out, then reconnect
                if time.monotonic() - started > _BACKOFF_MAX_S:
                    delay = _BACKOFF_MIN_S  # it had been serving fine for a while
                log.exception("consommation de %r interrompue ; reprise dans %.1f s", queue, delay)
                stop.wait(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)
                continue
            finally:
                _close_quietly(connection)

    def get(self, queue: str) -> Envelope | None:
        def take(channel: Any) -> Envelope | None:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            return None if method is None else _envelope(method, properties, body)

        return self._with_channel(f"lecture de {queue!r}", take)

    def depth(self, queue: str) -> int:
        def count(channel: Any) -> int:
            return int(channel.queue_declare(queue, passive=True).method.message_count)

        return self._with_channel(f"profondeur de {queue!r}", count)

    def close(self) -> None:
        with self._lock:
            _close_quietly(self._connection)
            self._connection = self._channel = None

    # --- consuming ---------------------------------------------------------------------------------------

    def _serve(
        self, connection: Any, queue: str, handler: Handler, stop: threading.Event, prefetch: int
    ) -> None:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=prefetch)
        pending: deque[_Delivery] = deque()
        channel.basic_consume(queue, lambda _ch, method, props, body: pending.append((method, props, body)))
        with ThreadPoolExecutor(1, thread_name_prefix=f"guichet-{queue}") as pool:
            while not stop.is_set():
                connection.process_data_events(time_limit=_WAKE_S)
                while pending and not stop.is_set():
                    self._deliver(connection, channel, pool, queue, handler, stop, pending.popleft())
        # Deliveries still pending are requeued by RabbitMQ when the connection closes.

    def _deliver(
        self,
        connection: Any,
        channel: Any,
        pool: ThreadPoolExecutor,
        queue: str,
        handler: Handler,
        stop: threading.Event,
        delivery: _Delivery,
    ) -> None:
        method, properties, body = delivery
        envelope = _envelope(method, properties, body)
        future: Future[None] = pool.submit(handler, envelope)
        # Wake process_data_events as soon as the handler ends (the one thread-safe pika call).
        future.add_done_callback(lambda _f: _wake(connection))
        while not future.done():
            connection.process_data_events(time_limit=_WAKE_S)
        try:
            future.result()
        except Reject as exc:
            log.info("message %s rejeté : %s", envelope.message_id, exc.reason)
            dead_lettered = self._dead_letter(queue, envelope, exc.reason)
        except Exception:
            if envelope.delivery_count + 1 < self.max_deliveries:
                delay = retry_delay(envelope.delivery_count, self.retry_backoff, self.max_retry_backoff)
                log.warning(
                    "message %s : échec, remis en file dans %.1f s", envelope.message_id, delay, exc_info=True
                )
                _pump(connection, delay, stop)
                _cancel_if_stopping(channel, stop)
                channel.basic_nack(method.delivery_tag, requeue=True)  # the quorum queue counts it
                return
            log.exception("message %s : échec à la dernière livraison, mis de côté", envelope.message_id)
            dead_lettered = self._dead_letter(queue, envelope, LIMIT_REASON)
        else:
            dead_lettered = True  # nothing to dead-letter: acked
        _cancel_if_stopping(channel, stop)
        if dead_lettered:
            channel.basic_ack(method.delivery_tag)
        else:  # the work queue's own x-dead-letter-exchange takes it
            channel.basic_nack(method.delivery_tag, requeue=False)

    def _dead_letter(self, queue: str, envelope: Envelope, reason: str) -> bool:
        """Publish to the DLX (confirmed before the ack: a crash in between duplicates, never loses).

        False when that failed: the caller then nacks without requeue (see the module docstring).
        """
        headers = {**envelope.headers, REASON_HEADER: reason}
        try:
            self._publish(self.dead_letter_exchange, queue, envelope.body, envelope.message_id, headers)
        except BrokerError:
            log.exception(
                "message %s (raison : %s) : publication vers %r impossible ; rejeté vers la file morte de %r",
                envelope.message_id,
                reason,
                self.dead_letter_exchange,
                queue,
            )
            return False
        return True

    # --- the shared (publisher) connection ------------------------------------------------------------------

    def _publish(
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

        self._with_channel(f"publication vers {routing_key!r}", send, retry=True)

    def _with_channel(self, what: str, action: Callable[[Any], T], *, retry: bool = False) -> T:
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
            _close_quietly(self._connection)
            self._connection = None
        self._channel = None


def _envelope(method: Any, properties: Any, body: bytes) -> Envelope:
    raw = properties.headers or {}
    count = raw.get("x-delivery-count", 0)
    headers = {
        k: v.decode() if isinstance(v, bytes) else v for k, v in raw.items() if isinstance(v, str | bytes)
    }
    death = raw.get("x-first-death-reason")
    if REASON_HEADER not in headers and death == "delivery_limit":
        headers[REASON_HEADER] = LIMIT_REASON  # dead-lettered by RabbitMQ itself (e.g. a crash loop)
    elif REASON_HEADER not in headers and death == "rejected":
        headers[REASON_HEADER] = REJECTED_REASON  # our fallback when the dead-letter publish failed
    return Envelope(
        body=bytes(body),
        message_id=properties.message_id or "",
        redelivered=bool(method.redelivered) or count > 0,
        delivery_count=int(count),
        headers=headers,
    )


def _pump(connection: Any, seconds: float, stop: threading.Event) -> None:
    """Keep the connection serving (heartbeats) for seconds, or until stop is seen (within _WAKE_S)."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        connection.process_data_events(time_limit=min(remaining, _WAKE_S))


def _cancel_if_stopping(channel: Any, stop: threading.Event) -> None:
    # Settling frees a prefetch slot: when stopping, cancel the consumer first, or RabbitMQ may fill that
    # slot with a message this consumer would only hand back at close, one delivery count later.
    if stop.is_set():
        channel.stop_consuming()


def _wake(connection: Any) -> None:
    try:
        connection.add_callback_threadsafe(lambda: None)
    except Exception as exc:  # the connection died meanwhile: the consume loop already knows
        log.debug("réveil de la boucle RabbitMQ impossible : %r", exc)


def _close_quietly(connection: Any) -> None:
    if connection is None or not connection.is_open:
        return
    try:
        connection.close()
    except px.AMQPError as exc:  # already dying: nothing left to release
        log.debug("fermeture RabbitMQ : %r", exc)


def work_queue_arguments(queue: str, max_deliveries: int, dead_letter_exchange: str) -> dict[str, Any]:
    """The arguments of a work queue; infra/rabbitmq/definitions.json must declare the same ones."""
    return {
        "x-queue-type": "quorum",
        # RabbitMQ allows limit + 1 deliveries (see module docstring): this makes it max_deliveries.
        "x-delivery-limit": max_deliveries - 1,
        "x-dead-letter-exchange": dead_letter_exchange,
        "x-dead-letter-routing-key": queue,
    }
