"""The connections that RabbitMQBroker's publish/get/depth/declare use, a few at a time.

pika is not thread-safe: each call borrows one connection (and its confirm-mode channel) from a small
pool, alone, and gives it back. No process-wide lock: a publish stuck on one connection (a RabbitMQ
memory or disk alarm blocks every publishing connection) holds up only its own caller.

A resource alarm: RabbitMQ stops reading from publishing connections, and says so (connection.blocked).
pika's blocked_connection_timeout tears a connection down once it stays blocked that long, so a publish
waits at most blocked_timeout before BrokerError (the API answers 503 file_indisponible). Meanwhile
publishes are refused at once: a blocked notification, or a timeout, marks the pool blocked; one caller
every blocked_timeout probes with a real publish, and the first that goes through (or an unblocked
notification) clears the mark: when the alarm clears, publishing recovers by itself.
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

DEFAULT_BLOCKED_TIMEOUT = 1.5  # seconds a publish may stay blocked by a RabbitMQ alarm
PROBE_SETTLE_S = 0.2  # after a probe, the time RabbitMQ has to say the connection is now blocked
POOL_SIZE = 8  # connections in use at once; more callers wait up to blocked_timeout for one
BLOCKED = "RabbitMQ bloque les publications (alarme mémoire ou disque)"


class SharedChannel:
    def __init__(
        self,
        params: pika.URLParameters,
        blocked_timeout: float = DEFAULT_BLOCKED_TIMEOUT,
        pool_size: int = POOL_SIZE,
    ) -> None:
        self._params = params
        params.blocked_connection_timeout = blocked_timeout
        self._blocked_timeout = blocked_timeout
        self._slots = threading.BoundedSemaphore(pool_size)
        self._lock = threading.Lock()  # guards the two fields below only, never held during I/O
        self._idle: list[_Link] = []
        self._blocked_until = 0.0  # monotonic; 0 = not blocked
        self._closed = False

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str,
        headers: dict[str, str],
    ) -> None:
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message_id,
            timestamp=int(time.time()),
            headers=headers,
        )

        def send(channel: Any) -> None:
            channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)

        self.send(routing_key, send)

    def send(self, routing_key: str, action: Callable[[Any], None]) -> None:
        """A publish made by action(channel), under the resource-alarm rules above: refused at once while
        the pool is marked blocked (but for one probe every blocked_timeout), BrokerError within
        blocked_timeout when RabbitMQ blocks it."""
        self._refuse_if_blocked(routing_key)
        blocked = self._run(f"publication vers {routing_key!r}", action, retry=True)[1]
        if not blocked:
            self._unblock()

    def probe(self, routing_key: str) -> None:
        """A confirmed publish of an empty message nobody receives (not mandatory: dropped), and
        BrokerError unless publishing works. A connection's first publish passes even under an alarm
        (RabbitMQ blocks it after reading it): the blocked notification that follows it counts too."""
        properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Transient)

        def send(channel: Any) -> None:
            channel.basic_publish("", routing_key, b"", properties, mandatory=False)

        self._refuse_if_blocked(routing_key)
        if self._run("sonde de publication", send, settle_s=PROBE_SETTLE_S)[1]:
            raise BrokerError(f"sonde de publication : {BLOCKED}")
        self._unblock()

    def run(self, what: str, action: Callable[[Any], T], *, retry: bool = False) -> T:
        """Run action(channel) on a pooled channel; any pika error becomes BrokerError.

        A dropped connection is reopened and, when retry is set, the action retried once: publishing
        twice is allowed (at-least-once), losing a publish is not. A blocked connection is not retried.
        """
        return self._run(what, action, retry=retry)[0]

    def _run(
        self, what: str, action: Callable[[Any], T], *, retry: bool = False, settle_s: float = 0.0
    ) -> tuple[T, bool]:
        """run(), and whether RabbitMQ said the connection is blocked meanwhile (the action went through:
        the link is dropped, and the pool marked blocked). settle_s: time left for that notification."""
        if not self._slots.acquire(timeout=self._blocked_timeout):
            raise BrokerError(f"{what} : toutes les connexions RabbitMQ sont occupées")
        try:
            for attempt in (1, 2):
                link = self._borrow(what)
                try:
                    result = action(link.channel)
                except (px.UnroutableError, px.NackError) as exc:
                    self._give_back(link)
                    raise BrokerError(f"{what} : message non confirmé par RabbitMQ ({exc!r})") from exc
                except px.AMQPError as exc:
                    link.close()
                    blocked = isinstance(exc, px.ConnectionBlockedTimeout) or link.blocked
                    if blocked:
                        self._block()
                        raise BrokerError(f"{what} : {BLOCKED}") from exc
                    if not (retry and attempt == 1 and isinstance(exc, px.AMQPConnectionError)):
                        raise BrokerError(f"{what} : {exc!r}") from exc
                    self._drop_idle()  # a broker restart, or heartbeats missed while idle: all are gone
                    continue
                if settle_s and not link.blocked:
                    link.connection.process_data_events(time_limit=settle_s)
                if link.blocked:
                    link.close()
                    self._block()
                    return result, True
                self._give_back(link)
                return result, False
            raise AssertionError("unreachable")
        finally:
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for link in idle:
            link.close()

    # --- the pool ---------------------------------------------------------------------------------------

    def _borrow(self, what: str) -> _Link:
        with self._lock:
            if self._closed:
                raise BrokerError(f"{what} : le broker est fermé")
            while self._idle:
                link = self._idle.pop()
                if link.usable:
                    return link
                link.close()
        try:
            return _Link(self._params, self._block, self._unblock)
        except px.AMQPError as exc:
            raise BrokerError(f"{what} : RabbitMQ injoignable ({exc!r})") from exc

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for link in idle:
            link.close()

    def _give_back(self, link: _Link) -> None:
        with self._lock:
            if not self._closed and link.usable:
                self._idle.append(link)
                return
        link.close()

    # --- resource alarms --------------------------------------------------------------------------------

    def _refuse_if_blocked(self, routing_key: str) -> None:
        """BrokerError at once while blocked, except for one probe every blocked_timeout."""
        with self._lock:
            now = time.monotonic()
            if self._blocked_until == 0.0 or now >= self._blocked_until:
                if self._blocked_until:
                    self._blocked_until = now + self._blocked_timeout  # this caller probes
                return
        raise BrokerError(f"publication vers {routing_key!r} : {BLOCKED}")

    def _block(self) -> None:
        with self._lock:
            if self._blocked_until == 0.0:
                log.warning("RabbitMQ blocks publishing (resource alarm): publishes refused until it clears")
            self._blocked_until = time.monotonic() + self._blocked_timeout

    def _unblock(self) -> None:
        with self._lock:
            if self._blocked_until:
                log.info("RabbitMQ accepts publishes again")
            self._blocked_until = 0.0


class _Link:
    """One connection and its confirm-mode channel, and whether RabbitMQ says it is blocked."""

    def __init__(
        self, params: pika.URLParameters, on_blocked: Callable[[], None], on_unblocked: Callable[[], None]
    ) -> None:
        self.blocked = False
        self.connection: Any = pika.BlockingConnection(params)
        try:
            self.connection.add_on_connection_blocked_callback(lambda *_a: self._set(True, on_blocked))
            self.connection.add_on_connection_unblocked_callback(lambda *_a: self._set(False, on_unblocked))
            self.channel: Any = self.connection.channel()
            self.channel.confirm_delivery()
        except BaseException:
            close_quietly(self.connection)
            raise

    @property
    def usable(self) -> bool:
        return bool(self.connection.is_open and self.channel.is_open and not self.blocked)

    def close(self) -> None:
        close_quietly(self.connection)

    def _set(self, blocked: bool, notify: Callable[[], None]) -> None:
        self.blocked = blocked
        notify()


def close_quietly(connection: Any) -> None:
    if connection is None or not connection.is_open:
        return
    try:
        connection.close()
    except px.AMQPError as exc:  # already dying: nothing left to release
        log.debug("closing RabbitMQ: %r", exc)
