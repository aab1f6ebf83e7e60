"""The embedded broker's SQLite file: its tables, a message row and what becomes of it, opening it."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from guichet.ports.broker import LIMIT_REASON, counted_attempts
from guichet.ports.records import Envelope

__all__ = ["DB_NAME", "LIMIT_REASON", "ROW_COLUMNS", "Outcome", "Row", "connect", "deliveries", "envelope"]

DB_NAME = "broker.sqlite3"

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
# A retried message waits here until then (epoch seconds: a wait survives a restart), invisible to
# consumers and to depth(), like a message in a RabbitMQ delay queue. Added to files of older versions.
_READY_AT = "ALTER TABLE messages ADD COLUMN ready_at REAL NOT NULL DEFAULT 0"
ROW_COLUMNS = "seq, body, message_id, headers, delivery_count"

Row = tuple[int, bytes, str, str, int]  # seq, body, message_id, headers json, delivery_count


@dataclass(frozen=True)
class Outcome:
    """What becomes of a handled message.

    ack (default): deleted; requeue: back at once, uncounted; retry: back after delay seconds, counted;
    dead: to the dead-letter queue with dead_reason.
    """

    queue: str
    row: Row
    kind: Literal["ack", "requeue", "retry", "dead"] = "ack"
    dead_reason: str = ""
    delay: float = 0.0


def deliveries(row: Row) -> int:
    """The counted deliveries before this one: the attempt header plus the crashes counted since."""
    return counted_attempts(json.loads(row[3])) + row[4]


def envelope(row: Row) -> Envelope:
    _seq, body, message_id, headers, _crashes = row
    count = deliveries(row)
    return Envelope(
        body=bytes(body),
        message_id=message_id,
        redelivered=count > 0,
        delivery_count=count,
        headers=json.loads(headers),
    )


def connect(path: Path | None, busy_timeout: float) -> sqlite3.Connection:
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
    columns = {name for _cid, name, *_rest in db.execute("PRAGMA table_info(messages)")}
    if "ready_at" not in columns:
        with db:
            db.execute(_READY_AT)
    return db
