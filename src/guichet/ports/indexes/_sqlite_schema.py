"""The embedded index's SQLite tables, and how Chunk and DocumentState map onto their rows.

- chunks: every Chunk field, audience as "|a|b|", text_hash, the vector as a float32 BLOB;
- chunks_fts: FTS5 over the *pre-analyzed* text (guichet.lexical.analyze: folded, stemmed), so the
  stock unicode61 tokenizer only splits on spaces and BM25 comes from bm25();
- documents: DocumentState rows, tombstones included;
- meta: the dimension and a generation counter bumped by every write transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from guichet.ports.indexes._matrix import audience_field
from guichet.ports.records import Chunk, DocumentState

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE, doc_key TEXT NOT NULL, doc_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    title TEXT NOT NULL, url TEXT NOT NULL, audience TEXT NOT NULL, section TEXT NOT NULL,
    branch TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL, context TEXT NOT NULL,
    text_hash TEXT NOT NULL, vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc_key ON chunks (doc_key);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5 (terms, tokenize = 'unicode61');
CREATE TABLE IF NOT EXISTS documents (
    key TEXT PRIMARY KEY, doc_id TEXT NOT NULL, content_hash TEXT NOT NULL, etag TEXT NOT NULL,
    sequencer TEXT NOT NULL, deleted INTEGER NOT NULL, chunk_count INTEGER NOT NULL,
    metadata_json TEXT NOT NULL, embedder TEXT NOT NULL DEFAULT ''
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0');
"""

CHUNK_COLUMNS = "id, doc_key, doc_id, ordinal, title, url, audience, section, branch, kind, text, context"
STATE_COLUMNS = "key, doc_id, content_hash, etag, sequencer, deleted, chunk_count, metadata_json, embedder"
STATE_COLUMN_COUNT = len(STATE_COLUMNS.split(","))


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a database created by an earlier version up to SCHEMA (which only creates what is missing)."""
    # Under the write lock: the API and the index worker open the same database at the same time.
    conn.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(documents)")}
        if "embedder" not in columns:
            # Existing states get "" (embedder unknown): their vectors are not reused by a new embedder.
            conn.execute("ALTER TABLE documents ADD COLUMN embedder TEXT NOT NULL DEFAULT ''")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def placeholders(count: int) -> str:
    return ", ".join("?" * count)


def chunk_from_row(row: Sequence[Any]) -> Chunk:
    """The inverse of chunk_values, minus text_hash and vector (a row selected with CHUNK_COLUMNS)."""
    audience = tuple(a for a in str(row[6]).split("|") if a)
    return Chunk(
        id=row[0],
        doc_key=row[1],
        doc_id=row[2],
        ordinal=row[3],
        title=row[4],
        url=row[5],
        audience=audience,
        section=row[7],
        branch=row[8],
        kind=row[9],
        text=row[10],
        context=row[11],
    )


def chunk_values(chunk: Chunk, blob: bytes) -> tuple[Any, ...]:
    """The values for CHUNK_COLUMNS, then text_hash and vector."""
    return (
        chunk.id,
        chunk.doc_key,
        chunk.doc_id,
        chunk.ordinal,
        chunk.title,
        chunk.url,
        audience_field(chunk.audience),
        chunk.section,
        chunk.branch,
        chunk.kind,
        chunk.text,
        chunk.context,
        chunk.text_hash,
        blob,
    )


def state_from_row(row: Sequence[Any]) -> DocumentState:
    return DocumentState(
        key=row[0],
        doc_id=row[1],
        content_hash=row[2],
        etag=row[3],
        sequencer=row[4],
        deleted=bool(row[5]),
        chunk_count=row[6],
        metadata_json=row[7],
        embedder=row[8],
    )


def state_values(s: DocumentState) -> tuple[Any, ...]:
    """The values for STATE_COLUMNS."""
    return (
        s.key,
        s.doc_id,
        s.content_hash,
        s.etag,
        s.sequencer,
        int(s.deleted),
        s.chunk_count,
        s.metadata_json,
        s.embedder,
    )
