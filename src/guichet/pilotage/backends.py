"""The two drivers of the analytics store: sqlite3 (embedded default) and psycopg 3 (PostgreSQL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from guichet.pilotage.store import AnalyticsError, AnalyticsStore, Cursor

SCHEMA_LOCK = 0x6775_6963  # "guic": pg_advisory_xact_lock key while migrating


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
                self._url, autocommit=True, connect_timeout=max(1, round(self._timeout))
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

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
