"""The statements on the embedded broker's SQLite file, and the lock that guards them.

One connection, guarded by the Condition's lock: callers hold store.cond around every method (except
transaction(), which takes it), and consumers sleep on it until a publish (or a requeue) wakes them.

A taken message records its holder's token (see _memory_holders.py); a claim only succeeds on a message
still free, and recovery only requeues messages whose holder is gone.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from guichet.ports.broker import ATTEMPT_HEADER, REASON_HEADER, BrokerError, dead_letter_queue
from guichet.ports.brokers._memory_holders import Holder
from guichet.ports.brokers._memory_schema import (
    LIMIT_REASON,
    ROW_COLUMNS,
    Outcome,
    Row,
    connect,
    deliveries,
)

# A message is ready when no one holds it and its retry delay (if any) is over.
_READY = "queue = ? AND taken = 0 AND ready_at <= ?"


class Store:
    """One SQLite connection, its lock (cond) and whether it is closed."""

    def __init__(self, path: Path | None, busy_timeout: float) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.closed = False
        self._db = connect(path, busy_timeout)

    def close(self) -> None:
        """Wake every waiter (they see closed and return), then close the connection."""
        self.closed = True
        self.cond.notify_all()
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The lock and one SQLite transaction; BrokerError, never sqlite's errors (the port's contract)."""
        with self.cond:
            self.check_open()
            try:
                with self._db:
                    yield
            except sqlite3.Error as exc:
                raise BrokerError(f"file d'attente locale indisponible : {exc}") from exc

    def check_open(self) -> None:
        if self.closed:
            raise BrokerError("le broker est fermé")

    def check_queue(self, queue: str) -> None:
        self.check_open()
        if self._db.execute("SELECT 1 FROM queues WHERE name = ?", (queue,)).fetchone() is None:
            raise BrokerError(f"file inconnue : {queue!r} (declare() d'abord)")

    # --- reading ---------------------------------------------------------------------------------------

    def first_ready(self, queue: str) -> Row | None:
        row: Row | None = self._db.execute(
            f"SELECT {ROW_COLUMNS} FROM messages WHERE {_READY} ORDER BY seq LIMIT 1",
            (queue, time.time()),
        ).fetchone()
        return row

    def ready(self, queue: str) -> list[Row]:
        rows: list[Row] = self._db.execute(
            f"SELECT {ROW_COLUMNS} FROM messages WHERE {_READY} ORDER BY seq", (queue, time.time())
        ).fetchall()
        return rows

    def count_ready(self, queue: str) -> int:
        sql = f"SELECT COUNT(*) FROM messages WHERE {_READY}"
        (count,) = self._db.execute(sql, (queue, time.time())).fetchone()
        return int(count)

    def has_messages(self, queue: str) -> bool:
        """Whether queue holds any message, ready, taken or waiting out a retry delay."""
        found = self._db.execute("SELECT 1 FROM messages WHERE queue = ? LIMIT 1", (queue,)).fetchone()
        return found is not None

    # --- writing (inside transaction(), unless said otherwise) ---------------------------------------------

    def add_queue(self, name: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO queues (name) VALUES (?)", (name,))

    def insert(
        self, queue: str, body: bytes, message_id: str, headers: dict[str, str], ready_at: float = 0.0
    ) -> None:
        self._db.execute(
            "INSERT INTO messages (queue, body, message_id, headers, ready_at) VALUES (?, ?, ?, ?, ?)",
            (queue, body, message_id, json.dumps(headers, ensure_ascii=False), ready_at),
        )

    def delete(self, seq: int) -> None:
        self._db.execute("DELETE FROM messages WHERE seq = ?", (seq,))

    def claim(self, seq: int, token: str) -> bool:
        """Take message seq for token, in its own transaction; False when someone else took it first."""
        with self._db:
            claimed = self._db.execute(
                "UPDATE messages SET taken = ? WHERE seq = ? AND taken = 0", (token, seq)
            )
        return claimed.rowcount == 1

    def apply(self, outcome: Outcome) -> None:
        """Store outcome in its own transaction, and wake the waiters (join() counts in-flight messages)."""
        seq = outcome.row[0]
        with self._db:
            if outcome.kind in ("requeue", "retry"):
                self._send_back(outcome)
            elif outcome.kind == "dead":
                self._dead_letter(outcome.queue, outcome.row, outcome.dead_reason)
            else:
                self.delete(seq)
        self.cond.notify_all()

    def _send_back(self, outcome: Outcome) -> None:
        """Republish at the tail, the count in the attempt header (a retry counts this delivery)."""
        seq, body, message_id, headers, _crashes = outcome.row
        attempts = deliveries(outcome.row) + (1 if outcome.kind == "retry" else 0)
        moved = {**json.loads(headers), ATTEMPT_HEADER: str(attempts)}
        ready_at = time.time() + outcome.delay if outcome.kind == "retry" else 0.0
        self.delete(seq)
        self.insert(outcome.queue, body, message_id, moved, ready_at)

    def recover(self, holder: Holder, max_deliveries: int, *, at_open: bool = False) -> None:
        """Requeue the messages taken by dead holders, in its own transaction."""
        # Messages taken by a holder that died were delivered once more: count it, then either requeue
        # them or, when that was their last allowed delivery, dead-letter them like RabbitMQ would.
        taken = {
            str(t): t for (t,) in self._db.execute("SELECT DISTINCT taken FROM messages WHERE taken != 0")
        }
        dead = holder.dead(list(taken))
        if not dead and not at_open:
            return
        with self._db:
            for token in dead:
                self._db.execute(
                    "UPDATE messages SET taken = 0, delivery_count = delivery_count + 1 WHERE taken = ?",
                    (taken[token],),
                )
            for queue, row in self._exhausted(max_deliveries):
                self._dead_letter(queue, row, LIMIT_REASON)
        if dead:
            self.cond.notify_all()

    def _exhausted(self, max_deliveries: int) -> list[tuple[str, Row]]:
        """The ready messages (outside dead-letter queues) that have used up their deliveries."""
        # Only messages a crash was counted on can be exhausted: a retry's own count was checked when
        # it failed.
        found = self._db.execute(
            f"SELECT queue, {ROW_COLUMNS} FROM messages"
            " WHERE taken = 0 AND delivery_count > 0 AND queue NOT LIKE '%.dead'",
        ).fetchall()
        rows = [(queue, (seq, body, mid, headers, count)) for queue, seq, body, mid, headers, count in found]
        return [(queue, row) for queue, row in rows if deliveries(row) >= max_deliveries]

    def _dead_letter(self, queue: str, row: Row, reason: str) -> None:
        headers = {**json.loads(row[3]), REASON_HEADER: reason}
        self.delete(row[0])
        self.insert(dead_letter_queue(queue), row[1], row[2], headers)
