"""MemoryBroker: the embedded broker, in-process and persisted in one SQLite file.

Like dramatiq's StubBroker it is also the test double (join(), messages()), but unlike it the queue
state survives restarts: a message taken but not acknowledged when the process died becomes ready
again at the next open, one delivery later, exactly as RabbitMQ requeues the unacked messages of a dead
connection. path=None keeps everything in memory.

Every method is thread-safe (see _memory_store.py); handlers run in the consuming thread, one at a time,
outside the lock. Several processes may share a file (`guichet serve` and a `guichet ingest` beside it):
each broker is a holder (see _memory_holders.py), and recovery runs at open and every recovery_interval
seconds in each consume(), so a long-running `guichet serve` also takes back the messages of a crashed
`guichet worker` sharing the folder.

consume() only ends on stop or close(), whatever the errors (see _memory_consume.py); retries, backoff
and the outcome of a handled message: see _memory_outcomes.py.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from guichet.ports.broker import (
    DEFAULT_MAX_DELIVERIES,
    DEFAULT_MAX_RETRY_BACKOFF,
    DEFAULT_RETRY_BACKOFF,
    LIMIT_REASON,
    Handler,
    check_retry_backoff,
    dead_letter_queue,
)
from guichet.ports.brokers._memory_consume import Consumer
from guichet.ports.brokers._memory_holders import Holder
from guichet.ports.brokers._memory_outcomes import Outcomes
from guichet.ports.brokers._memory_schema import DB_NAME, envelope
from guichet.ports.brokers._memory_store import Store
from guichet.ports.records import Envelope

__all__ = ["DB_NAME", "DEFAULT_BUSY_TIMEOUT", "DEFAULT_RECOVERY_INTERVAL", "LIMIT_REASON", "MemoryBroker"]

log = logging.getLogger(__name__)

# SQLite waits this long for another connection's write lock before "database is locked". sqlite's 5 s
# default is shorter than a `guichet ingest` beside `guichet serve` may hold the file (a large batch
# committed with synchronous=FULL on a slow disk, a WAL checkpoint); 30 s rides those out, and a longer
# hold is logged and waited out by consume() rather than blocking every caller indefinitely.
DEFAULT_BUSY_TIMEOUT = 30.0
# How often a consumer looks for messages taken by dead holders (a glance at the taken column).
DEFAULT_RECOVERY_INTERVAL = 5.0


class MemoryBroker:
    def __init__(
        self,
        path: Path | None,
        *,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        max_retry_backoff: float = DEFAULT_MAX_RETRY_BACKOFF,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        recovery_interval: float = DEFAULT_RECOVERY_INTERVAL,
    ) -> None:
        if max_deliveries < 1:
            raise ValueError("max_deliveries doit être au moins 1")
        check_retry_backoff(retry_backoff, max_retry_backoff)
        if busy_timeout < 0 or recovery_interval <= 0:
            raise ValueError("il faut busy_timeout >= 0 et recovery_interval > 0")
        self.path = path
        self.max_deliveries = max_deliveries
        self.retry_backoff = retry_backoff
        self.max_retry_backoff = max_retry_backoff
        self.recovery_interval = recovery_interval
        self._holder = Holder(None if path is None else Path(path))
        self._store = self._open_store(busy_timeout)
        self._outcomes = Outcomes(self._store, max_deliveries, retry_backoff, max_retry_backoff)
        self._consumer = Consumer(
            self._store, self._holder, self._outcomes, max_deliveries, recovery_interval
        )

    # --- Broker ----------------------------------------------------------------------------------------

    def declare(self, queue: str) -> None:
        with self._store.transaction():
            dead = dead_letter_queue(queue)
            for name in (queue, dead, dead_letter_queue(dead)):
                self._store.add_queue(name)

    def publish(
        self, queue: str, body: bytes, *, message_id: str = "", headers: dict[str, str] | None = None
    ) -> None:
        with self._store.transaction():
            self._store.check_queue(queue)
            self._store.insert(queue, body, message_id or uuid.uuid4().hex, dict(headers or {}))
            self._store.cond.notify_all()

    def consume(self, queue: str, handler: Handler, *, stop: threading.Event, prefetch: int = 1) -> None:
        # prefetch bounds unacked messages; handlers run one at a time here, so it is always honoured.
        with self._store.cond:
            self._store.check_queue(queue)
        self._consumer.run(queue, handler, stop)

    def get(self, queue: str) -> Envelope | None:
        with self._store.transaction():
            self._store.check_queue(queue)
            row = self._store.first_ready(queue)
            if row is None:
                return None
            self._store.delete(row[0])
            self._store.cond.notify_all()
        return envelope(row)

    def depth(self, queue: str) -> int:
        with self._store.cond:
            self._store.check_queue(queue)
            return self._store.count_ready(queue)

    def ping(self) -> None:
        with self._store.transaction():
            pass

    def close(self) -> None:
        with self._store.cond:
            if self._store.closed:
                return
            try:
                self._outcomes.settle_deferred()
            except sqlite3.Error:  # they stay taken, and are recovered once our holder token is gone
                unsettled = len(self._outcomes.unsettled)
                log.exception("embedded broker: %d outcome(s) not recorded at close", unsettled)
            try:
                self._store.close()  # consumers return
            finally:
                self._holder.release()

    # --- test helpers (like dramatiq's StubBroker) ----------------------------------------------------------

    def join(self, queue: str, timeout: float = 10.0) -> None:
        """Wait until queue has no ready and no in-flight message; TimeoutError after timeout seconds."""
        deadline = time.monotonic() + timeout
        with self._store.cond:
            while self._pending(queue):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._store.closed:
                    raise TimeoutError(f"la file {queue!r} ne s'est pas vidée en {timeout} s")
                self._store.cond.wait(remaining)

    def messages(self, queue: str) -> list[Envelope]:
        """The ready messages of queue, in delivery order, without taking them."""
        with self._store.cond:
            self._store.check_open()
            rows = self._store.ready(queue)
        return [envelope(row) for row in rows]

    # --- internals ---------------------------------------------------------------------------------------

    def _open_store(self, busy_timeout: float) -> Store:
        """Open the file and take back what dead holders left taken; our holder is released on failure."""
        store: Store | None = None
        try:
            store = Store(self.path, busy_timeout)
            with store.cond:
                store.recover(self._holder, self.max_deliveries, at_open=True)
                self._holder.sweep_orphans()
        except BaseException:
            if store is not None:
                with store.cond:
                    store.close()
            self._holder.release()
            raise
        return store

    def _pending(self, queue: str) -> bool:
        self._store.check_open()
        return self._store.has_messages(queue)
