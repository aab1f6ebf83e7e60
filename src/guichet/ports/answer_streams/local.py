"""LocalAnswerStream: the embedded answer stream, one SQLite file (WAL) shared by every local process.

publish() inserts a row and wakes this process's subscribers at once; subscribers of other processes
sharing the file see it at their next poll (every poll_interval). Rows are read by id (AUTOINCREMENT:
never reused, even once older rows are pruned, so "after id N" stays exact), which is commit order since
SQLite has one writer at a time.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from guichet.ports.answer_stream import DEFAULT_RETENTION_S, AnswerEvent, AnswerStreamError, EventKind

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_answer ON events (answer_id, id);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
"""
log = logging.getLogger(__name__)

_PRUNE_EVERY_S = 60.0
_BUSY_TIMEOUT_S = 10.0

Row = tuple[int, str, int, int, str, str, float]


class LocalAnswerStream:
    def __init__(
        self, path: Path, *, retention: float = DEFAULT_RETENTION_S, poll_interval: float = 0.05
    ) -> None:
        if retention <= 0 or poll_interval <= 0:
            raise ValueError("retention et poll_interval doivent être positifs")
        self.retention = retention
        self.poll_interval = poll_interval
        self._lock = threading.Lock()  # guards the connection (shared by every thread)
        self._published = threading.Condition()
        self._generation = 0  # bumped by each local publish: subscribers wait for it to change
        self._closed = False
        self._last_prune = 0.0
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # Live events are short-lived (the answer store keeps the record): no fsync per token.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise AnswerStreamError(f"flux de réponses local inaccessible ({path}) : {exc}") from exc

    def publish(self, event: AnswerEvent) -> None:
        row = (event.answer_id, event.attempt, event.seq, event.kind, _dumps(event.data), event.ts)
        with self._guard("publication"):
            with self._db:
                self._db.execute(
                    "INSERT INTO events (answer_id, attempt, seq, kind, data, ts) VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
            self._prune_now_and_then()
        with self._published:
            self._generation += 1
            self._published.notify_all()

    def subscribe(
        self, answer_id: str, *, since: float, stop: threading.Event, heartbeat: float = 15.0
    ) -> Iterator[AnswerEvent | None]:
        after = 0
        quiet_since = time.monotonic()
        while not stop.is_set():
            with self._published:
                seen = self._generation
            rows = self._read(answer_id, since, after)
            for row in rows:
                after = row[0]
                event = _event(row)
                yield event
                if event.terminal or stop.is_set():
                    return
            if rows:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= heartbeat:
                yield None
                quiet_since = time.monotonic()
            if stop.is_set():
                return
            wait = min(self.poll_interval, max(0.0, quiet_since + heartbeat - time.monotonic()))
            self._wait_for_publish(seen, wait)

    def tail(self) -> LocalTail:
        """A reader of every answer's events for this process's relay (relay.py)."""
        return LocalTail(self)

    def ping(self) -> bool:
        try:
            with self._guard("ping"):
                self._db.execute("SELECT 1").fetchone()
        except AnswerStreamError:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._db.close()
        with self._published:
            self._published.notify_all()

    def _wait_for_publish(self, seen: int, timeout: float) -> None:
        """Until a local publish after generation seen (or close), at most timeout: the poll interval."""
        with self._published:
            self._published.wait_for(lambda: self._generation != seen or self._closed, timeout=timeout)

    def _read(self, answer_id: str, since: float, after: int) -> list[Row]:
        with self._guard("lecture"):
            rows: list[Row] = self._db.execute(
                "SELECT id, answer_id, attempt, seq, kind, data, ts FROM events"
                " WHERE answer_id = ? AND id > ? AND ts >= ? ORDER BY id",
                (answer_id, after, since),
            ).fetchall()
        return rows

    def _first_id_since(self, ts: float) -> int:
        """The id just before the first row with ts ≥ ts (the last id when there is none)."""
        # One statement, one read snapshot: with two, a row published in between (by another process)
        # counted as "the last id" and was skipped.
        query = (
            "SELECT COALESCE((SELECT MIN(id) FROM events WHERE ts >= ?) - 1, (SELECT MAX(id) FROM events), 0)"
        )
        with self._guard("lecture"):
            return int(self._db.execute(query, (ts,)).fetchone()[0])

    def _rows_after(self, after: int, limit: int) -> list[Row]:
        with self._guard("lecture"):
            rows: list[Row] = self._db.execute(
                "SELECT id, answer_id, attempt, seq, kind, data, ts FROM events"
                " WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit),
            ).fetchall()
        return rows

    def _prune_now_and_then(self) -> None:
        now = time.time()
        if now - self._last_prune < _PRUNE_EVERY_S:
            return
        self._last_prune = now
        try:
            with self._db:
                self._db.execute("DELETE FROM events WHERE ts < ?", (now - self.retention,))
        except sqlite3.Error as exc:  # the event is stored: a missed prune only waits for the next one
            log.warning("purging the local answer stream failed: %s", exc)

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """The connection's lock; sqlite3.Error (or a closed stream) becomes AnswerStreamError."""
        with self._lock:
            if self._closed:
                raise AnswerStreamError("le flux de réponses local est fermé")
            try:
                yield
            except sqlite3.Error as exc:
                raise AnswerStreamError(f"flux de réponses local, {what} : {exc}") from exc


class LocalTail:
    """Every answer's events in id (commit) order, woken by this process's publishes, else polling."""

    BATCH = 500

    def __init__(self, stream: LocalAnswerStream) -> None:
        self._stream = stream
        self._after: int | None = None  # the last id read

    def events(self, start: float, stop: threading.Event) -> Iterator[AnswerEvent | None]:
        stream = self._stream
        if self._after is None:
            self._after = stream._first_id_since(start)
        quiet_since = time.monotonic()
        while not stop.is_set() and not stream._closed:
            with stream._published:
                seen = stream._generation
            rows = stream._rows_after(self._after, self.BATCH)
            for row in rows:
                self._after = row[0]
                if row[6] >= start:
                    yield _event(row)
            if rows:
                quiet_since = time.monotonic()
                continue
            if time.monotonic() - quiet_since >= 1.0:
                yield None
                quiet_since = time.monotonic()
            stream._wait_for_publish(seen, stream.poll_interval)

    def close(self) -> None:
        """Nothing to do: events() ends once stop is set or its stream closed."""


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _event(row: Row) -> AnswerEvent:
    _id, answer_id, attempt, seq, kind, data, ts = row
    return AnswerEvent(answer_id, attempt, seq, cast(EventKind, kind), json.loads(data), ts)
