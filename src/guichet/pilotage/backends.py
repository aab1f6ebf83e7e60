"""The two drivers of the analytics store: sqlite3 (embedded default) and psycopg 3 (PostgreSQL)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from guichet.pilotage.events import AnswerEvent, RatingEvent
from guichet.pilotage.schema import COUNTERS, ROLLUPS
from guichet.pilotage.store import (
    ANSWER_COLUMNS,
    RATING_COLUMNS,
    AnalyticsError,
    AnalyticsStore,
    Cursor,
    answer_rows,
    rating_rows,
)

SCHEMA_LOCK = 0x6775_6963  # "guic": pg_advisory_xact_lock key while migrating


def _insert_new(
    cursor: Cursor,
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    key: str,
    rows: list[tuple[Any, ...]],
) -> set[str]:
    """Inserts the rows that are not there yet (ON CONFLICT DO NOTHING); returns their keys."""
    arrays = [[row[i] for row in rows] for i in range(len(columns))]
    casts = ", ".join(f"%s::{t}[]" for t in types)
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({casts})"
        f" ON CONFLICT ({key}) DO NOTHING RETURNING {key}",
        arrays,
    )
    return {str(r[0]) for r in cursor.fetchall()}


class SQLiteAnalyticsStore(AnalyticsStore):
    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the consumer and the API threads, serialised by the lock.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self.migrate()

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        with self._lock:
            cursor = self._db.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                cursor.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.rollback()
                raise AnalyticsError(f"analytics store (SQLite): {exc}") from exc
            except BaseException:
                self._db.rollback()
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()


class PostgresAnalyticsStore(AnalyticsStore):
    """One connection per process, opened again after a failure (a restart, a failover)."""

    placeholder = "%s"

    def __init__(self, url: str, *, connect_timeout: float = 10.0) -> None:
        super().__init__()
        self._url = url
        self._timeout = connect_timeout
        self._db: Any = None
        self.migrate()

    def _connection(self) -> Any:
        import psycopg

        if self._db is None or self._db.closed or self._db.broken:
            self._db = psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=max(1, round(self._timeout)),
                # Never prepared: a statement run often (a région's IN list) would get PostgreSQL's
                # generic plan after a few runs, 40 times slower than the plan for its values.
                prepare_threshold=None,
            )
        return self._db

    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        import psycopg

        with self._lock:
            try:
                db = self._connection()
                with db.transaction(), db.cursor() as cursor:
                    yield cursor
            except psycopg.Error as exc:
                raise AnalyticsError(f"analytics store (PostgreSQL): {type(exc).__name__}: {exc}") from exc

    def _lock_schema(self, cursor: Cursor) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))

    def _mapping_source(self, mapping: Mapping[str, str]) -> tuple[str, list[Any]]:
        """Two arrays rather than 5,400 parameters."""
        return (
            "(SELECT * FROM unnest(?::text[], ?::text[]) AS u(site, grp))",
            [list(mapping.keys()), list(mapping.values())],
        )

    # A batch is one statement per table: rows travel as arrays (unnest), not one round trip each.
    def _insert_answers(self, cursor: Cursor, events: Sequence[AnswerEvent]) -> set[str]:
        types = ("text", "float8", "text", "text", "text", "text", "text", "text", "int4", "int4", "int4")
        return _insert_new(cursor, "analytics_answers", ANSWER_COLUMNS, types, "id", answer_rows(events))

    def _insert_ratings(self, cursor: Cursor, events: Sequence[RatingEvent]) -> set[str]:
        types = ("text", "text", "float8", "text", "text", "text", "text", "text")
        return _insert_new(
            cursor, "analytics_ratings", RATING_COLUMNS, types, "answer_id", rating_rows(events)
        )

    def _add_to_cells(
        self, cursor: Cursor, table: str, deltas: Sequence[tuple[tuple[str, ...], Counter[str]]]
    ) -> None:
        keys = dict(ROLLUPS)[table]
        columns = (*keys, *COUNTERS)
        arrays: list[list[Any]] = [[key[i] for key, _ in deltas] for i in range(len(keys))]
        arrays += [[delta[c] for _, delta in deltas] for c in COUNTERS]
        casts = ", ".join(["%s::text[]"] * len(keys) + ["%s::int4[]"] * len(COUNTERS))
        updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COUNTERS)
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({casts})"
            f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
            arrays,
        )

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
