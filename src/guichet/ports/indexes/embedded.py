"""The default index: one folder holding a SQLite database (stdlib only, no server).

- chunks: every Chunk field, audience as "|a|b|", text_hash, the vector as a float32 BLOB;
- chunks_fts: FTS5 over the *pre-analyzed* text (guichet.text.analyze: folded, stemmed), so the
  stock unicode61 tokenizer only splits on spaces and BM25 comes from bm25();
- documents: DocumentState rows, tombstones included;
- meta: the dimension and a generation counter bumped by every write transaction.

Vector search is brute-force cosine over an in-memory matrix (50k x 384 float32 is 75 MB and a
few milliseconds per query). Another process (the index worker) may write while this one (the
API) reads: WAL mode lets both proceed, and the generation counter tells a reader when to refresh
its matrix. Every public method holds one lock, because the single connection is shared between
threads (check_same_thread=False).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from guichet.ports.index import IndexBackendError
from guichet.ports.indexes._matrix import VectorMatrix, audience_field
from guichet.ports.indexes.fusion import candidate_depth, reciprocal_rank_fusion
from guichet.records import Chunk, DocumentState, SearchFilters, SearchHit, SearchMode, Vector
from guichet.text import analyze

DB_NAME = "index.sqlite3"

_SCHEMA = """
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
    metadata_json TEXT NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0');
"""

_CHUNK_COLUMNS = "id, doc_key, doc_id, ordinal, title, url, audience, section, branch, kind, text, context"
_STATE_COLUMNS = "key, doc_id, content_hash, etag, sequencer, deleted, chunk_count, metadata_json"


def _chunk_from_row(row: Sequence[Any]) -> Chunk:
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


def _state_from_row(row: Sequence[Any]) -> DocumentState:
    return DocumentState(
        key=row[0],
        doc_id=row[1],
        content_hash=row[2],
        etag=row[3],
        sequencer=row[4],
        deleted=bool(row[5]),
        chunk_count=row[6],
        metadata_json=row[7],
    )


def _fts_query(query: str) -> str:
    # Terms are [a-z0-9]+ after analysis, so quoting them is enough to neutralise FTS5 syntax.
    terms = dict.fromkeys(analyze(query))
    return " OR ".join(f'"{t}"' for t in terms)


class EmbeddedIndex:
    def __init__(self, path: Path, *, dimension: int) -> None:
        self.path = Path(path)
        self.dimension = dimension
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE), never implicit.
        self._conn = sqlite3.connect(
            self.path / DB_NAME, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL, much faster commits
        self._conn.executescript(_SCHEMA)
        self._check_dimension()
        self._matrix = VectorMatrix(dimension)
        self._generation = -1

    def _check_dimension(self) -> None:
        self._conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('dimension', ?)", (str(self.dimension),)
        )
        stored = int(self._conn.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()[0])
        if stored != self.dimension:
            raise IndexBackendError(
                f"l'index {self.path} contient des vecteurs de dimension {stored}, pas {self.dimension}"
            )

    # -- writes ----------------------------------------------------------------------------------

    def _write(self) -> _Transaction:
        return _Transaction(self._conn)

    def replace_document(
        self, state: DocumentState, chunks: Sequence[Chunk], vectors: Sequence[Vector]
    ) -> None:
        if len(chunks) != len(vectors):
            raise IndexBackendError(f"{len(chunks)} passages mais {len(vectors)} vecteurs pour {state.key}")
        blobs = [self._blob(v) for v in vectors]
        with self._lock, self._write() as conn:
            self._delete_chunks(conn, state.key)
            for chunk, blob in zip(chunks, blobs, strict=True):
                self._insert_chunk(conn, chunk, blob)
            self._upsert_state(conn, state)

    def delete_document(self, key: str, sequencer: str = "") -> int:
        with self._lock, self._write() as conn:
            removed = self._delete_chunks(conn, key)
            row = conn.execute("SELECT doc_id, metadata_json FROM documents WHERE key = ?", (key,)).fetchone()
            doc_id, metadata = (row[0], row[1]) if row else ("", "{}")
            tombstone = DocumentState(
                key=key,
                doc_id=doc_id,
                content_hash="",
                sequencer=sequencer,
                deleted=True,
                metadata_json=metadata,
            )
            self._upsert_state(conn, tombstone)
        return removed

    def record_state(self, state: DocumentState) -> None:
        with self._lock, self._write() as conn:
            self._upsert_state(conn, state)

    def _blob(self, vector: Vector) -> bytes:
        array = np.asarray(vector, dtype=np.float32)
        if array.shape != (self.dimension,):
            raise IndexBackendError(f"vecteur de forme {array.shape}, attendu ({self.dimension},)")
        return array.tobytes()

    @staticmethod
    def _delete_chunks(conn: sqlite3.Connection, key: str) -> int:
        conn.execute(
            "DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE doc_key = ?)", (key,)
        )
        return conn.execute("DELETE FROM chunks WHERE doc_key = ?", (key,)).rowcount

    @staticmethod
    def _insert_chunk(conn: sqlite3.Connection, chunk: Chunk, blob: bytes) -> None:
        cursor = conn.execute(
            f"INSERT INTO chunks ({_CHUNK_COLUMNS}, text_hash, vector) VALUES ({', '.join('?' * 14)})",
            (
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
            ),
        )
        conn.execute(
            "INSERT INTO chunks_fts (rowid, terms) VALUES (?, ?)",
            (cursor.lastrowid, " ".join(analyze(chunk.indexed_text))),
        )

    @staticmethod
    def _upsert_state(conn: sqlite3.Connection, s: DocumentState) -> None:
        conn.execute(
            f"INSERT OR REPLACE INTO documents ({_STATE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                s.key,
                s.doc_id,
                s.content_hash,
                s.etag,
                s.sequencer,
                int(s.deleted),
                s.chunk_count,
                s.metadata_json,
            ),
        )

    # -- reads -----------------------------------------------------------------------------------

    def document_state(self, key: str) -> DocumentState | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_STATE_COLUMNS} FROM documents WHERE key = ?", (key,)
            ).fetchone()
        return _state_from_row(row) if row else None

    def reusable_vectors(self, key: str) -> dict[str, Vector]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT text_hash, vector FROM chunks WHERE doc_key = ?", (key,)
            ).fetchall()
        return {h: np.frombuffer(blob, dtype=np.float32).tolist() for h, blob in rows}

    def documents(self) -> Iterator[DocumentState]:
        # Materialised under the lock: a cursor left open across yields would pin a read snapshot.
        with self._lock:
            rows = self._conn.execute(f"SELECT {_STATE_COLUMNS} FROM documents ORDER BY key").fetchall()
        return iter([_state_from_row(r) for r in rows])

    def chunk_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def ping(self) -> bool:
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- search ----------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        vector: Vector,
        *,
        k: int = 10,
        filters: SearchFilters | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[SearchHit]:
        filters = filters or SearchFilters()
        depth = candidate_depth(k)
        # One read transaction: the rankings and the rows fetched afterwards share a snapshot, even
        # if the index worker commits a replacement in between.
        with self._lock, _Snapshot(self._conn):
            lexical = self._lexical(query, depth, filters) if mode != "vector" else []
            dense = self._vector(vector, depth, filters) if mode != "lexical" else []
            ranked: list[tuple[int, float, int | None, int | None]]
            if mode == "lexical":
                ranked = [(rowid, score, rank, None) for rank, (rowid, score) in enumerate(lexical[:k], 1)]
            elif mode == "vector":
                ranked = [(rowid, score, None, rank) for rank, (rowid, score) in enumerate(dense[:k], 1)]
            else:
                ranked = reciprocal_rank_fusion([r for r, _ in lexical], [r for r, _ in dense])[:k]
            chunks = self._chunks_by_rowid([r[0] for r in ranked])
        return [
            SearchHit(chunk=chunks[rowid], score=score, lexical_rank=lex, vector_rank=vec)
            for rowid, score, lex, vec in ranked
        ]

    def _lexical(self, query: str, n: int, filters: SearchFilters) -> list[tuple[int, float]]:
        match = _fts_query(query)
        if not match:
            return []
        where, params = self._filter_sql(filters)
        # FTS5's `rank` is bm25(), lower-is-better: negate it so every score is higher-is-better.
        # The join to chunks is only paid when a filter needs its columns.
        if where:
            sql = (
                "SELECT c.rowid, -chunks_fts.rank FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid"
                f" WHERE chunks_fts MATCH ?{where} ORDER BY chunks_fts.rank LIMIT ?"
            )
        else:
            sql = "SELECT rowid, -rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?"
        rows = self._conn.execute(sql, (match, *params, n)).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    @staticmethod
    def _filter_sql(filters: SearchFilters) -> tuple[str, list[str]]:
        where, params = "", []
        if filters.audience is not None:
            where += " AND c.audience LIKE ? ESCAPE '\\'"
            escaped = filters.audience.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.append(f"%|{escaped}|%")
        if filters.doc_ids:
            where += f" AND c.doc_id IN ({', '.join('?' * len(filters.doc_ids))})"
            params.extend(filters.doc_ids)
        return where, params

    def _vector(self, vector: Vector, n: int, filters: SearchFilters) -> list[tuple[int, float]]:
        if len(vector) != self.dimension:
            raise IndexBackendError(f"vecteur de requête de longueur {len(vector)}, attendu {self.dimension}")
        self._refresh_matrix()
        return self._matrix.top(vector, n, audience=filters.audience, doc_ids=filters.doc_ids)

    def _refresh_matrix(self) -> None:
        """Bring the in-memory matrix up to date if any connection committed since the last look."""
        generation = int(self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        if generation == self._generation:
            return
        # Called inside the search snapshot, so live rowids and new rows are consistent.
        live = [r[0] for r in self._conn.execute("SELECT rowid FROM chunks")]
        new_rows = self._conn.execute(
            "SELECT rowid, doc_id, audience, vector FROM chunks WHERE rowid > ? ORDER BY rowid",
            (self._matrix.max_rowid,),
        ).fetchall()
        self._matrix.refresh(live, new_rows)
        self._generation = generation

    def _chunks_by_rowid(self, rowids: Sequence[int]) -> dict[int, Chunk]:
        if not rowids:
            return {}
        rows = self._conn.execute(
            f"SELECT rowid, {_CHUNK_COLUMNS} FROM chunks WHERE rowid IN ({', '.join('?' * len(rowids))})",
            list(rowids),
        ).fetchall()
        return {int(r[0]): _chunk_from_row(r[1:]) for r in rows}


class _Snapshot:
    """A deferred read transaction: WAL gives it a stable snapshot without blocking writers."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._conn.execute("COMMIT")


class _Transaction:
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
