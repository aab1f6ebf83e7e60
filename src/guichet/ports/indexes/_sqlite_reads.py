"""The embedded index's search queries, and the read snapshot a search runs in."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence

from guichet.lexical import query_terms
from guichet.ports.indexes._matrix import Row
from guichet.ports.indexes._sqlite_schema import CHUNK_COLUMNS, chunk_from_row, placeholders
from guichet.ports.records import Chunk, SearchFilters


class Snapshot:
    """A deferred read transaction: WAL gives it a stable snapshot without blocking writers."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
        elif self._conn.in_transaction:  # a failed read: end it without hiding why it failed
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")


def fts_query(query: str) -> str:
    # Terms are [a-z0-9]+ after analysis, so quoting them is enough to neutralise FTS5 syntax.
    terms = dict.fromkeys(query_terms(query))
    return " OR ".join(f'"{t}"' for t in terms)


def filter_sql(filters: SearchFilters) -> tuple[str, list[str]]:
    """Extra `AND ...` conditions on the chunks table (aliased `c`), and their parameters."""
    where, params = "", []
    if filters.audience is not None:
        where += " AND c.audience LIKE ? ESCAPE '\\'"
        escaped = filters.audience.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%|{escaped}|%")
    if filters.doc_ids:
        where += f" AND c.doc_id IN ({placeholders(len(filters.doc_ids))})"
        params.extend(filters.doc_ids)
    return where, params


def lexical_ranking(
    conn: sqlite3.Connection, query: str, n: int, filters: SearchFilters
) -> list[tuple[int, float]]:
    """The n best (rowid, BM25 score) for query, best first."""
    match = fts_query(query)
    if not match:
        return []
    where, params = filter_sql(filters)
    # FTS5's `rank` is bm25(), lower-is-better: negate it so every score is higher-is-better.
    # The join to chunks is only paid when a filter needs its columns.
    if where:
        sql = (
            "SELECT c.rowid, -chunks_fts.rank FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid"
            f" WHERE chunks_fts MATCH ?{where} ORDER BY chunks_fts.rank LIMIT ?"
        )
    else:
        sql = "SELECT rowid, -rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?"
    rows = conn.execute(sql, (match, *params, n)).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def has_phrase(conn: sqlite3.Connection, terms: Sequence[str]) -> bool:
    """Whether a passage holds the analysed terms in a row (an FTS5 phrase query)."""
    match = '"' + " ".join(terms) + '"'
    row = conn.execute("SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 1", (match,)).fetchone()
    return row is not None


def generation(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])


def matrix_rows(conn: sqlite3.Connection, after_rowid: int) -> tuple[list[int], list[Row]]:
    """Every live rowid, and the matrix rows of the chunks inserted after after_rowid."""
    live = [r[0] for r in conn.execute("SELECT rowid FROM chunks")]
    new_rows = conn.execute(
        "SELECT rowid, doc_id, audience, vector FROM chunks WHERE rowid > ? ORDER BY rowid",
        (after_rowid,),
    ).fetchall()
    return live, new_rows


def chunks_by_rowid(conn: sqlite3.Connection, rowids: Sequence[int]) -> dict[int, Chunk]:
    if not rowids:
        return {}
    rows = conn.execute(
        f"SELECT rowid, {CHUNK_COLUMNS} FROM chunks WHERE rowid IN ({placeholders(len(rowids))})",
        list(rowids),
    ).fetchall()
    return {int(r[0]): chunk_from_row(r[1:]) for r in rows}
