"""The embedded index's write statements, and the transaction every write runs in."""

from __future__ import annotations

import sqlite3

from guichet.lexical import analyze
from guichet.ports.indexes._sqlite_schema import (
    CHUNK_COLUMNS,
    STATE_COLUMN_COUNT,
    STATE_COLUMNS,
    chunk_values,
    placeholders,
    state_values,
)
from guichet.ports.records import Chunk, DocumentState


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error), bumping the generation counter.

    IMMEDIATE takes the write lock up front, so two writer processes queue on busy_timeout
    instead of failing on a lock upgrade half-way through a replacement.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self._conn.execute("ROLLBACK")
            return
        self._conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
        self._conn.execute("COMMIT")


def delete_chunks(conn: sqlite3.Connection, key: str) -> int:
    conn.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE doc_key = ?)", (key,))
    return conn.execute("DELETE FROM chunks WHERE doc_key = ?", (key,)).rowcount


def insert_chunk(conn: sqlite3.Connection, chunk: Chunk, blob: bytes) -> None:
    cursor = conn.execute(
        f"INSERT INTO chunks ({CHUNK_COLUMNS}, text_hash, vector) VALUES ({placeholders(14)})",
        chunk_values(chunk, blob),
    )
    conn.execute(
        "INSERT INTO chunks_fts (rowid, terms) VALUES (?, ?)",
        (cursor.lastrowid, " ".join(analyze(chunk.indexed_text))),
    )


def upsert_state(conn: sqlite3.Connection, state: DocumentState) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO documents ({STATE_COLUMNS}) VALUES ({placeholders(STATE_COLUMN_COUNT)})",
        state_values(state),
    )


def tombstone(conn: sqlite3.Connection, key: str, sequencer: str) -> DocumentState:
    """A deleted state for key, keeping the doc_id, metadata and embedder of the state it replaces."""
    row = conn.execute(
        "SELECT doc_id, metadata_json, embedder FROM documents WHERE key = ?", (key,)
    ).fetchone()
    doc_id, metadata, embedder = (row[0], row[1], row[2]) if row else ("", "{}", "")
    return DocumentState(
        key=key,
        doc_id=doc_id,
        content_hash="",
        sequencer=sequencer,
        deleted=True,
        metadata_json=metadata,
        embedder=embedder,
    )
