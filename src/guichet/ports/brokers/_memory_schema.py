"""The embedded broker's SQLite file: its tables, a message row and what becomes of it, opening it."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from guichet.ports.records import Envelope

DB_NAME = "broker.sqlite3"
LIMIT_REASON = "delivery limit reached"

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
ROW_COLUMNS = "seq, body, message_id, headers, delivery_count"

Row = tuple[int, bytes, str, str, int]  # seq, body, message_id, headers json, delivery_count


@dataclass(frozen=True)
class Outcome:
    """What becomes of a handled message: acked (default), requeued, or dead-lettered with a reason."""

    queue: str
    row: Row
    requeue: bool = False
    dead_reason: str | None = None


def envelope(row: Row) -> Envelope:
    _seq, body, message_id, headers, delivery_count = row
    return Envelope(
        body=bytes(body),
        message_id=message_id,
        redelivered=delivery_count > 0,
        delivery_count=delivery_count,
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
    return db
