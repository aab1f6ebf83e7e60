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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from guichet.ports.broker import REASON_HEADER, BrokerError, dead_letter_queue
from guichet.ports.brokers._memory_holders import Holder
from guichet.ports.brokers._memory_schema import LIMIT_REASON, ROW_COLUMNS, Outcome, Row, connect


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
            f"SELECT {ROW_COLUMNS} FROM messages WHERE queue = ? AND taken = 0 ORDER BY seq LIMIT 1",
            (queue,),
        ).fetchone()
        return row

    def ready(self, queue: str) -> list[Row]:
        rows: list[Row] = self._db.execute(
            f"SELECT {ROW_COLUMNS} FROM messages WHERE queue = ? AND taken = 0 ORDER BY seq", (queue,)
        ).fetchall()
        return rows

    def count_ready(self, queue: str) -> int:
        sql = "SELECT COUNT(*) FROM messages WHERE queue = ? AND taken = 0"
        (count,) = self._db.execute(sql, (queue,)).fetchone()
        return int(count)

    def has_messages(self, queue: str) -> bool:
        """Whether queue holds any message, ready or taken."""
        found = self._db.execute("SELECT 1 FROM messages WHERE queue = ? LIMIT 1", (queue,)).fetchone()
        return found is not None

    # --- writing (inside transaction(), unless said otherwise) ---------------------------------------------

    def add_queue(self, name: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO queues (name) VALUES (?)", (name,))

    def insert(self, queue: str, body: bytes, message_id: str, headers: dict[str, str]) -> None:
        self._db.execute(
            "INSERT INTO messages (queue, body, message_id, headers) VALUES (?, ?, ?, ?)",
            (queue, body, message_id, json.dumps(headers, ensure_ascii=False)),
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
            if outcome.requeue:
                self._db.execute(
                    "UPDATE messages SET taken = 0, delivery_count = delivery_count + 1 WHERE seq = ?", (seq,)
                )
            elif outcome.dead_reason is not None:
                self._dead_letter(outcome.queue, outcome.row, outcome.dead_reason)
            else:
                self.delete(seq)
        self.cond.notify_all()

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
        found = self._db.execute(
            f"SELECT queue, {ROW_COLUMNS} FROM messages"
            " WHERE taken = 0 AND delivery_count >= ? AND queue NOT LIKE '%.dead'",
            (max_deliveries,),
        ).fetchall()
        return [(queue, (seq, body, mid, headers, count)) for queue, seq, body, mid, headers, count in found]

    def _dead_letter(self, queue: str, row: Row, reason: str) -> None:
        headers = {**json.loads(row[3]), REASON_HEADER: reason}
        self.delete(row[0])
        self.insert(dead_letter_queue(queue), row[1], row[2], headers)
