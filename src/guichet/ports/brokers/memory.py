"""MemoryBroker: the embedded broker, in-process and persisted in one SQLite file.

Like dramatiq's StubBroker it is also the test double (join(), messages()), but unlike it the queue
state survives restarts: a message taken but not acknowledged when the process died becomes ready
again at the next open, one delivery later, exactly as RabbitMQ requeues the unacked messages of a dead
connection. path=None keeps everything in memory.

One SQLite connection, guarded by the Condition's lock: every method is thread-safe, and consumers
sleep on the Condition until a publish (or a requeue) wakes them. Handlers run in the consuming thread,
one at a time, outside the lock. Several processes may share a file (`guichet serve` and a
`guichet ingest` beside it): a taken message records its holder's token (one per broker, alive while
its flock on <path>/holders/<token>.lock is held: see _memory_holders.py), a take only succeeds on a
message still free, and recovery only requeues messages whose holder is gone. Recovery runs at open and
every recovery_interval seconds in each consume(), so a long-running `guichet serve` also takes back the
messages of a crashed `guichet worker` sharing the folder.

consume() survives the broker's own errors (e.g. "database is locked" when another process keeps a
write transaction longer than busy_timeout): the error is logged and waited out (1 s, doubling up to
30 s, cut short by stop), and the loop carries on; only stop or close() ends it. The outcome of a handled
message (ack, requeue, dead letter) is retried the same way, never dropped; when stop comes first it is
kept and applied by the next consume() iteration or close() (if it never is, the message stays taken
and is recovered, one delivery later, once this broker is closed or its process gone).

delivery_count is the number of earlier deliveries (0 the first time), like RabbitMQ's
x-delivery-count; a message whose delivery number max_deliveries fails is dead-lettered. Before a failed
message is requeued the consuming thread waits min(retry_backoff * 2**delivery_count, max_retry_backoff)
seconds, the message still taken (join() counts it, a crash meanwhile requeues it at the next open);
stop or close() ends the wait early.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
from guichet.ports.brokers._memory_holders import Holder
from guichet.records import Envelope

log = logging.getLogger(__name__)

DB_NAME = "broker.sqlite3"
LIMIT_REASON = "delivery limit reached"
# consume() cannot be woken by the caller's stop Event, so it re-checks it this often while idle.
_STOP_CHECK_S = 0.1
# SQLite waits this long for another connection's write lock before "database is locked". sqlite's 5 s
# default is shorter than a `guichet ingest` beside `guichet serve` may hold the file (a large batch
# committed with synchronous=FULL on a slow disk, a WAL checkpoint); 30 s rides those out, and a longer
# hold is logged and waited out by consume() rather than blocking every caller indefinitely.
DEFAULT_BUSY_TIMEOUT = 30.0
# How often a consumer looks for messages taken by dead holders (a glance at the taken column).
DEFAULT_RECOVERY_INTERVAL = 5.0
_ERROR_PAUSE_MIN_S, _ERROR_PAUSE_MAX_S = 1.0, 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body BLOB NOT NULL,
    message_id TEXT NOT NULL,
    headers TEXT NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    taken INTEGER NOT NULL DEFAULT 0  -- 0: ready; else the holder token ("h-<hex>", stored as text)
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, taken, seq);
"""

_Row = tuple[int, bytes, str, str, int]  # seq, body, message_id, headers json, delivery_count


@dataclass(frozen=True)
class _Outcome:
    """What becomes of a handled message: acked (default), requeued, or dead-lettered with a reason."""

    queue: str
    row: _Row
    requeue: bool = False
    dead_reason: str | None = None


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
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        self._unsettled: list[_Outcome] = []  # outcomes stop caught before sqlite accepted them
        self._holder = Holder(None if path is None else Path(path))
        db: sqlite3.Connection | None = None
        try:
            self._db = db = _open(path, busy_timeout)
            with self._cond:
                self._recover(at_open=True)
                self._holder.sweep_orphans()
        except BaseException:
            if db is not None:
                db.close()
            self._holder.release()
            raise
        self._next_recovery = time.monotonic() + recovery_interval

    # --- Broker ----------------------------------------------------------------------------------------

    def declare(self, queue: str) -> None:
        with self._transaction():
            for name in (queue, dead_letter_queue(queue)):
                self._db.execute("INSERT OR IGNORE INTO queues (name) VALUES (?)", (name,))

    def publish(
        self, queue: str, body: bytes, *, message_id: str = "", headers: dict[str, str] | None = None
    ) -> None:
        with self._transaction():
            self._check_queue(queue)
            self._insert(queue, body, message_id or uuid.uuid4().hex, dict(headers or {}))
            self._cond.notify_all()

    def consume(self, queue: str, handler: Handler, *, stop: threading.Event, prefetch: int = 1) -> None:
        # prefetch bounds unacked messages; handlers run one at a time here, so it is always honoured.
        with self._cond:
            self._check_queue(queue)
        pause = _ERROR_PAUSE_MIN_S
        while not stop.is_set() and not self._closed:
            try:
                row = self._take(queue, stop)
            except (sqlite3.Error, BrokerError):
                if self._closed:
                    return
                log.exception("file %r : erreur du broker embarqué, nouvel essai dans %.1f s", queue, pause)
                self._pause(pause, stop)
                pause = min(pause * 2, _ERROR_PAUSE_MAX_S)
                continue
            pause = _ERROR_PAUSE_MIN_S
            if row is None:
                return  # stopped or closed
            self._handle(queue, row, handler, stop)

    def get(self, queue: str) -> Envelope | None:
        with self._transaction():
            self._check_queue(queue)
            row = self._first_ready(queue)
            if row is None:
                return None
            self._db.execute("DELETE FROM messages WHERE seq = ?", (row[0],))
            self._cond.notify_all()
        return _envelope(row)

    def depth(self, queue: str) -> int:
        with self._cond:
            self._check_queue(queue)
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM messages WHERE queue = ? AND taken = 0", (queue,)
            ).fetchone()
        return int(count)

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            try:
                self._settle_deferred()
            except sqlite3.Error:  # they stay taken, and are recovered once our holder token is gone
                log.exception(
                    "broker embarqué : %d issue(s) non enregistrée(s) à la fermeture", len(self._unsettled)
                )
            self._closed = True
            self._cond.notify_all()  # consumers return
            try:
                self._db.close()
            finally:
                self._holder.release()

    # --- test helpers (like dramatiq's StubBroker) ----------------------------------------------------------

    def join(self, queue: str, timeout: float = 10.0) -> None:
        """Wait until queue has no ready and no in-flight message; TimeoutError after timeout seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending(queue):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise TimeoutError(f"la file {queue!r} ne s'est pas vidée en {timeout} s")
                self._cond.wait(remaining)

    def messages(self, queue: str) -> list[Envelope]:
        """The ready messages of queue, in delivery order, without taking them."""
        with self._cond:
            self._check_open()
            rows = self._db.execute(
                "SELECT seq, body, message_id, headers, delivery_count FROM messages"
                " WHERE queue = ? AND taken = 0 ORDER BY seq",
                (queue,),
            ).fetchall()
        return [_envelope(row) for row in rows]

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """The lock and one SQLite transaction; BrokerError (not sqlite's error) once closed."""
        with self._cond:
            self._check_open()
            with self._db:
                yield

    # --- internals (callers hold self._cond) ------------------------------------------------------------

    def _recover(self, *, at_open: bool = False) -> None:
        # Messages taken by a holder that died were delivered once more: count it, then either requeue
        # them or, when that was their last allowed delivery, dead-letter them like RabbitMQ would.
        taken = {
            str(t): t for (t,) in self._db.execute("SELECT DISTINCT taken FROM messages WHERE taken != 0")
        }
        dead = self._holder.dead(list(taken))
        if not dead and not at_open:
            return
        with self._db:
            for token in dead:
                self._db.execute(
                    "UPDATE messages SET taken = 0, delivery_count = delivery_count + 1 WHERE taken = ?",
                    (taken[token],),
                )
            exhausted = self._db.execute(
                "SELECT queue, seq, body, message_id, headers, delivery_count FROM messages"
                " WHERE taken = 0 AND delivery_count >= ? AND queue NOT LIKE '%.dead'",
                (self.max_deliveries,),
            ).fetchall()
            for queue, *row in exhausted:
                self._dead_letter(queue, (row[0], row[1], row[2], row[3], row[4]), LIMIT_REASON)
        if dead:
            self._cond.notify_all()

    def _take(self, queue: str, stop: threading.Event) -> _Row | None:
        with self._cond:
            while not stop.is_set() and not self._closed:
                self._settle_deferred()
                if time.monotonic() >= self._next_recovery:
                    self._next_recovery = time.monotonic() + self.recovery_interval
                    self._recover()
                row = self._first_ready(queue)
                if row is not None and self._claim(row[0]):
                    return row
                if row is not None:
                    continue  # another process took it first
                self._cond.wait(_STOP_CHECK_S)
        return None

    def _handle(self, queue: str, row: _Row, handler: Handler, stop: threading.Event) -> None:
        try:
            handler(_envelope(row))
        except Reject as exc:
            log.info("message %s rejeté : %s", row[2], exc.reason)
            self._settle(_Outcome(queue, row, dead_reason=exc.reason), stop)
        except Exception:
            attempts = row[4] + 1
            if attempts >= self.max_deliveries:
                log.exception("message %s : échec à la livraison %d, mis de côté", row[2], attempts)
                self._settle(_Outcome(queue, row, dead_reason=LIMIT_REASON), stop)
            else:
                delay = retry_delay(row[4], self.retry_backoff, self.max_retry_backoff)
                log.warning(
                    "message %s : échec à la livraison %d, remis en file dans %.1f s",
                    row[2],
                    attempts,
                    delay,
                    exc_info=True,
                )
                self._pause(delay, stop)
                self._settle(_Outcome(queue, row, requeue=True), stop)
        else:
            self._settle(_Outcome(queue, row), stop)

    def _pause(self, delay: float, stop: threading.Event) -> None:
        """Wait delay seconds; stop (or close()) ends the wait at once (or nearly)."""
        deadline = time.monotonic() + delay
        while not self._closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or stop.wait(min(remaining, _STOP_CHECK_S)):
                return

    def _settle(self, outcome: _Outcome, stop: threading.Event) -> None:
        """Store outcome, retrying while sqlite fails: never dropped (see the module docstring)."""
        pause = _ERROR_PAUSE_MIN_S
        while True:
            try:
                with self._cond:
                    if self._closed:
                        return  # the message stays taken in the file and is recovered by the next holder
                    self._apply(outcome)
                return
            except sqlite3.Error:
                if stop.is_set() or self._closed:
                    log.exception("message %s : issue non enregistrée, reportée", outcome.row[2])
                    with self._cond:
                        self._unsettled.append(outcome)
                    return
                log.exception(
                    "message %s : issue non enregistrée, nouvel essai dans %.1f s", outcome.row[2], pause
                )
                self._pause(pause, stop)
                pause = min(pause * 2, _ERROR_PAUSE_MAX_S)

    def _settle_deferred(self) -> None:
        while self._unsettled:
            self._apply(self._unsettled[0])
            self._unsettled.pop(0)

    def _apply(self, outcome: _Outcome) -> None:
        seq = outcome.row[0]
        with self._db:
            if outcome.requeue:
                self._db.execute(
                    "UPDATE messages SET taken = 0, delivery_count = delivery_count + 1 WHERE seq = ?", (seq,)
                )
            elif outcome.dead_reason is not None:
                self._dead_letter(outcome.queue, outcome.row, outcome.dead_reason)
            else:
                self._db.execute("DELETE FROM messages WHERE seq = ?", (seq,))
        self._cond.notify_all()

    def _dead_letter(self, queue: str, row: _Row, reason: str) -> None:
        headers = {**json.loads(row[3]), REASON_HEADER: reason}
        self._db.execute("DELETE FROM messages WHERE seq = ?", (row[0],))
        self._insert(dead_letter_queue(queue), row[1], row[2], headers)

    def _insert(self, queue: str, body: bytes, message_id: str, headers: dict[str, str]) -> None:
        self._db.execute(
            "INSERT INTO messages (queue, body, message_id, headers) VALUES (?, ?, ?, ?)",
            (queue, body, message_id, json.dumps(headers, ensure_ascii=False)),
        )

    def _claim(self, seq: int) -> bool:
        with self._db:
            claimed = self._db.execute(
                "UPDATE messages SET taken = ? WHERE seq = ? AND taken = 0", (self._holder.token, seq)
            )
        return claimed.rowcount == 1

    def _first_ready(self, queue: str) -> _Row | None:
        row: _Row | None = self._db.execute(
            "SELECT seq, body, message_id, headers, delivery_count FROM messages"
            " WHERE queue = ? AND taken = 0 ORDER BY seq LIMIT 1",
            (queue,),
        ).fetchone()
        return row

    def _pending(self, queue: str) -> bool:
        self._check_open()
        found = self._db.execute("SELECT 1 FROM messages WHERE queue = ? LIMIT 1", (queue,)).fetchone()
        return found is not None

    def _check_open(self) -> None:
        if self._closed:
            raise BrokerError("le broker est fermé")

    def _check_queue(self, queue: str) -> None:
        self._check_open()
        if self._db.execute("SELECT 1 FROM queues WHERE name = ?", (queue,)).fetchone() is None:
            raise BrokerError(f"file inconnue : {queue!r} (declare() d'abord)")


def _open(path: Path | None, busy_timeout: float) -> sqlite3.Connection:
    if path is None:
        target = ":memory:"
    else:
        Path(path).mkdir(parents=True, exist_ok=True)
        target = str(Path(path) / DB_NAME)
    # Transactions are the "with db" blocks; check_same_thread is off because the broker's lock guards db.
    db = sqlite3.connect(target, timeout=busy_timeout, check_same_thread=False)
    # A publish must survive a power cut once it returns: WAL + synchronous FULL fsyncs each commit.
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(_SCHEMA)
    return db


def _envelope(row: _Row) -> Envelope:
    _seq, body, message_id, headers, delivery_count = row
    return Envelope(
        body=bytes(body),
        message_id=message_id,
        redelivered=delivery_count > 0,
        delivery_count=delivery_count,
        headers=json.loads(headers),
    )
