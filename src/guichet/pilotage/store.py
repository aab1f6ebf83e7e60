"""The analytics store: events in, cells out. PostgreSQL in production, SQLite on the embedded default.

record() takes a batch of events in one transaction: an event whose id was seen before changes nothing
(redelivery, a rebuild over live data), the others add to their cell. cells() sums the cells that match
a filter, grouped by site, theme or month. Both backends share the SQL; only the driver differs.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from guichet.pilotage import histogram
from guichet.pilotage.events import AnswerEvent, Event, RatingEvent
from guichet.pilotage.schema import COUNTERS, MIGRATIONS, VERSION_TABLE

log = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")  # a month is a French calendar month, as in the baromètre
Group = Literal["site", "theme", "month"]
CellKey = tuple[str, str, str]  # month, site, theme


class AnalyticsError(Exception):
    """The analytics store is unreachable or refused a write."""


def month_of(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, PARIS).strftime("%Y-%m")


@dataclass(frozen=True)
class CellFilter:
    first_month: str  # YYYY-MM, inclusive
    last_month: str
    sites: tuple[str, ...] | None = None  # None: every site
    theme: str | None = None


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class AnalyticsStore:
    """The shared logic; a subclass opens the connection and knows its driver's placeholder."""

    placeholder = "?"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    # --- driver hooks --------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[Cursor]:
        raise NotImplementedError
        yield

    def _lock_schema(self, cursor: Cursor) -> None:
        """Concurrent replicas migrate one at a time (PostgreSQL); SQLite's write lock does it alone."""

    def close(self) -> None:
        raise NotImplementedError

    # --- schema --------------------------------------------------------------------------------------
    def migrate(self) -> int:
        """Applies the missing migrations; returns the schema version."""
        with self._transaction() as cursor:
            self._lock_schema(cursor)
            cursor.execute(VERSION_TABLE)
            cursor.execute("SELECT max(version) FROM analytics_schema")
            current = cursor.fetchone()[0] or 0
            for version, statements in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in statements:
                    cursor.execute(statement)
                cursor.execute(self._sql("INSERT INTO analytics_schema (version) VALUES (?)"), (version,))
                log.info("analytics store: schema migrated to version %d", version)
            return len(MIGRATIONS)

    # --- writes --------------------------------------------------------------------------------------
    def record(self, events: Sequence[Event]) -> int:
        """Stores the batch in one transaction; returns how many events were new.

        Rows are locked in one order (events by id, then cells by key), whoever writes: two batches that
        overlap (a rebuild while the consumers run, two replicas) wait for each other, never deadlock."""
        ordered = sorted(events, key=lambda e: (e.kind, e.answer_id if isinstance(e, RatingEvent) else e.id))
        with self._transaction() as cursor:
            deltas: dict[CellKey, Counter[str]] = {}
            new = 0
            for event in ordered:
                if isinstance(event, AnswerEvent) and self._insert_answer(cursor, event):
                    _add_answer(deltas, event)
                    new += 1
                elif isinstance(event, RatingEvent) and self._insert_rating(cursor, event):
                    _add_rating(deltas, event)
                    new += 1
            for key, delta in sorted(deltas.items()):
                self._add_to_cell(cursor, key, delta)
            return new

    def _insert_answer(self, cursor: Cursor, e: AnswerEvent) -> bool:
        covered = None if e.covered is None else int(e.covered)
        cursor.execute(
            self._sql(
                "INSERT INTO analytics_answers (id, at, month, site, audience, theme, status, mode, covered,"
                " first_token_ms, total_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO NOTHING"
            ),
            (e.id, e.at, month_of(e.at), e.site, e.audience, e.theme, e.status, e.mode, covered,
             round(e.first_token_s * 1000), round(e.total_s * 1000)),
        )  # fmt: skip
        return cursor.rowcount == 1

    def _insert_rating(self, cursor: Cursor, e: RatingEvent) -> bool:
        cursor.execute(
            self._sql(
                "INSERT INTO analytics_ratings (answer_id, id, at, month, site, theme, rating, reasons)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (answer_id) DO NOTHING"
            ),
            (e.answer_id, e.id, e.at, month_of(e.answer_at), e.site, e.theme, e.rating, ",".join(e.reasons)),
        )
        return cursor.rowcount == 1

    def _add_to_cell(self, cursor: Cursor, key: CellKey, delta: Counter[str]) -> None:
        columns = [c for c in COUNTERS if delta[c]]
        values = ", ".join("?" for _ in columns)
        updates = ", ".join(f"{c} = analytics_cells.{c} + excluded.{c}" for c in columns)
        cursor.execute(
            self._sql(
                f"INSERT INTO analytics_cells (month, site, theme, {', '.join(columns)})"
                f" VALUES (?, ?, ?, {values}) ON CONFLICT (month, site, theme) DO UPDATE SET {updates}"
            ),
            (*key, *(delta[c] for c in columns)),
        )

    # --- reads ---------------------------------------------------------------------------------------
    def cells(self, where: CellFilter, group: Group | None) -> list[tuple[str, dict[str, int]]]:
        """Summed counters per group value ("" for the one row of an ungrouped query)."""
        clauses = ["month >= ?", "month <= ?"]
        params: list[Any] = [where.first_month, where.last_month]
        if where.sites is not None:
            if not where.sites:
                return []
            clauses.append(f"site IN ({', '.join('?' for _ in where.sites)})")
            params.extend(where.sites)
        if where.theme is not None:
            clauses.append("theme = ?")
            params.append(where.theme)
        sums = ", ".join(f"COALESCE(SUM({c}), 0)" for c in COUNTERS)
        head = f"{group}, " if group else "'', "
        tail = f" GROUP BY {group}" if group else ""
        sql = f"SELECT {head}{sums} FROM analytics_cells WHERE {' AND '.join(clauses)}{tail}"
        with self._transaction() as cursor:
            cursor.execute(self._sql(sql), params)
            rows = cursor.fetchall()
        return [(str(r[0]), dict(zip(COUNTERS, (int(v) for v in r[1:]), strict=True))) for r in rows]

    def themes(self) -> list[str]:
        with self._transaction() as cursor:
            cursor.execute("SELECT DISTINCT theme FROM analytics_cells ORDER BY theme")
            return [str(r[0]) for r in cursor.fetchall()]

    def counts(self) -> tuple[int, int]:
        """Events stored: (answers, ratings)."""
        with self._transaction() as cursor:
            cursor.execute(
                "SELECT (SELECT count(*) FROM analytics_answers), (SELECT count(*) FROM analytics_ratings)"
            )
            answers, ratings = cursor.fetchone()
            return int(answers), int(ratings)

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)


def _add_answer(deltas: dict[CellKey, Counter[str]], e: AnswerEvent) -> None:
    d = deltas.setdefault((month_of(e.at), e.site, e.theme), Counter())
    d["answers"] += 1
    d["failed"] += e.status != "done"
    d["extractive"] += e.mode == "extractive"
    if e.covered is not None:
        d["covered_known"] += 1
        d["not_covered"] += not e.covered
    if e.status == "done" and e.first_token_s > 0:
        d[histogram.COLUMNS[histogram.bucket_of(e.first_token_s)]] += 1


def _add_rating(deltas: dict[CellKey, Counter[str]], e: RatingEvent) -> None:
    d = deltas.setdefault((month_of(e.answer_at), e.site, e.theme), Counter())
    d["ratings"] += 1
    d[e.rating] += 1
    if e.rating == "down":
        for reason in e.reasons:
            d[f"r_{reason}"] += 1
