"""The default index: one folder holding a SQLite database (stdlib only, no server).

The tables are described in _sqlite_schema; lexical search is FTS5's BM25 over pre-analyzed text.
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
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from guichet.lexical import analyze
from guichet.ports.index import IndexBackendError
from guichet.ports.indexes import _sqlite_reads as reads
from guichet.ports.indexes import _sqlite_writes as writes
from guichet.ports.indexes._matrix import VectorMatrix
from guichet.ports.indexes._sqlite_schema import (
    CHUNK_COLUMNS,
    SCHEMA,
    STATE_COLUMNS,
    chunk_from_row,
    migrate,
    state_from_row,
)
from guichet.ports.indexes.fusion import candidate_depth, reciprocal_rank_fusion
from guichet.ports.records import Chunk, DocumentState, SearchFilters, SearchHit, SearchMode, Vector

DB_NAME = "index.sqlite3"

# (rowid, score, lexical rank, vector rank), best first.
_Ranked = list[tuple[int, float, int | None, int | None]]


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
        # FULL, not NORMAL: in WAL mode NORMAL does not fsync at commit, so a power cut can lose a
        # write that already returned. The broker acknowledges a job right after the index write
        # returns, so such a loss would drop the job for good; FULL syncs the WAL on every commit.
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.executescript(SCHEMA)
        migrate(self._conn)
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

    def _write(self) -> writes.Transaction:
        return writes.Transaction(self._conn)

    def replace_document(
        self, state: DocumentState, chunks: Sequence[Chunk], vectors: Sequence[Vector]
    ) -> None:
        if len(chunks) != len(vectors):
            raise IndexBackendError(f"{len(chunks)} passages mais {len(vectors)} vecteurs pour {state.key}")
        blobs = [self._blob(v) for v in vectors]
        with self._lock, self._write() as conn:
            writes.delete_chunks(conn, state.key)
            for chunk, blob in zip(chunks, blobs, strict=True):
                writes.insert_chunk(conn, chunk, blob)
            writes.upsert_state(conn, state)

    def delete_document(self, key: str, sequencer: str = "") -> int:
        with self._lock, self._write() as conn:
            removed = writes.delete_chunks(conn, key)
            writes.upsert_state(conn, writes.tombstone(conn, key, sequencer))
        return removed

    def record_state(self, state: DocumentState) -> None:
        with self._lock, self._write() as conn:
            writes.upsert_state(conn, state)

    def _blob(self, vector: Vector) -> bytes:
        array = np.asarray(vector, dtype=np.float32)
        if array.shape != (self.dimension,):
            raise IndexBackendError(f"vecteur de forme {array.shape}, attendu ({self.dimension},)")
        return array.tobytes()

    # -- reads -----------------------------------------------------------------------------------

    def document_state(self, key: str) -> DocumentState | None:
        with self._lock, _reading("de l'état d'un document"):
            row = self._conn.execute(
                f"SELECT {STATE_COLUMNS} FROM documents WHERE key = ?", (key,)
            ).fetchone()
        return state_from_row(row) if row else None

    def reusable_vectors(self, key: str) -> dict[str, Vector]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT text_hash, vector FROM chunks WHERE doc_key = ?", (key,)
            ).fetchall()
        return {h: np.frombuffer(blob, dtype=np.float32).tolist() for h, blob in rows}

    def document_chunks(self, key: str) -> list[tuple[Chunk, Vector]]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {CHUNK_COLUMNS}, vector FROM chunks WHERE doc_key = ? ORDER BY ordinal", (key,)
            ).fetchall()
        return [(chunk_from_row(r[:-1]), np.frombuffer(r[-1], dtype=np.float32).tolist()) for r in rows]

    def documents(self) -> Iterator[DocumentState]:
        # Materialised under the lock: a cursor left open across yields would pin a read snapshot.
        with self._lock:
            rows = self._conn.execute(f"SELECT {STATE_COLUMNS} FROM documents ORDER BY key").fetchall()
        return iter([state_from_row(r) for r in rows])

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
        with self._lock, _reading("de la recherche"), reads.Snapshot(self._conn):
            lexical = reads.lexical_ranking(self._conn, query, depth, filters) if mode != "vector" else []
            dense = self._vector(vector, depth, filters) if mode != "lexical" else []
            ranked = _combine(mode, lexical, dense, k)
            chunks = reads.chunks_by_rowid(self._conn, [r[0] for r in ranked])
        cosine = dict(dense)
        return [
            SearchHit(chunks[rowid], score, lex, vec, vector_score=cosine.get(rowid))
            for rowid, score, lex, vec in ranked
        ]

    def mentions(self, phrase: str) -> bool:
        terms = analyze(phrase)
        if not terms:
            return False
        # An FTS5 phrase over the pre-analysed terms ([a-z0-9] only: nothing to escape).
        with self._lock, _reading("de la recherche"):
            return reads.has_phrase(self._conn, terms)

    def _vector(self, vector: Vector, n: int, filters: SearchFilters) -> list[tuple[int, float]]:
        if len(vector) != self.dimension:
            raise IndexBackendError(f"vecteur de requête de longueur {len(vector)}, attendu {self.dimension}")
        self._refresh_matrix()
        return self._matrix.top(vector, n, audience=filters.audience, doc_ids=filters.doc_ids)

    def _refresh_matrix(self) -> None:
        """Bring the in-memory matrix up to date if any connection committed since the last look."""
        generation = reads.generation(self._conn)
        if generation == self._generation:
            return
        # Called inside the search snapshot, so live rowids and new rows are consistent.
        self._matrix.refresh(*reads.matrix_rows(self._conn, self._matrix.max_rowid))
        self._generation = generation


@contextmanager
def _reading(action: str) -> Iterator[None]:
    # A read that SQLite cannot serve (its locks held by another process past its retries: "locking
    # protocol", "database is locked"; an unreadable file) is the index being unavailable, as a Weaviate
    # query failing is: callers of the port catch IndexBackendError (the answer worker waits it out).
    try:
        yield
    except sqlite3.Error as exc:
        raise IndexBackendError(f"index embarqué indisponible : échec {action} : {exc}") from exc


def _combine(
    mode: SearchMode, lexical: list[tuple[int, float]], dense: list[tuple[int, float]], k: int
) -> _Ranked:
    """The k best of one ranking (lexical or vector mode), or of their fusion (hybrid mode)."""
    if mode == "lexical":
        return [(rowid, score, rank, None) for rank, (rowid, score) in enumerate(lexical[:k], 1)]
    if mode == "vector":
        return [(rowid, score, None, rank) for rank, (rowid, score) in enumerate(dense[:k], 1)]
    return reciprocal_rank_fusion([r for r, _ in lexical], [r for r, _ in dense])[:k]
