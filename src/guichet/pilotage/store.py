"""The analytics store: events in, cells out. PostgreSQL in production, SQLite on the embedded default.

record() takes a batch of events in one transaction: an event whose id was seen before changes nothing
(redelivery, a rebuild over live data), the others add to their cell. cells() sums the cells that match
a filter, grouped by site, theme or month. Both backends share the SQL; only the driver differs.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from guichet.pilotage import histogram
from guichet.pilotage.events import AnswerEvent, Event, RatingEvent
from guichet.pilotage.schema import COUNTERS, MIGRATIONS, ROLLUPS, VERSION_TABLE

log = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")  # a month is a French calendar month, as in the baromètre
Group = Literal["site", "theme", "month"]
CellKey = tuple[str, str, str]  # month, site, theme
Counts = tuple[int, ...]  # summed counters, in schema.COUNTERS order
UNKNOWN_GROUP = "inconnu"  # the région/département of a site id that no import described


class AnalyticsError(Exception):
    """The analytics store is unreachable or refused a write."""


def month_of(timestamp: float) -> str:
    return _month_of_hour(int(timestamp // 3600))


@functools.lru_cache(maxsize=8192)
def _month_of_hour(hour: int) -> str:
    """Paris is a whole number of hours from UTC: a month starts on a UTC hour, so one lookup per hour
    (a month of events is 720 time-zone conversions, not a million)."""
    return datetime.fromtimestamp(hour * 3600, PARIS).strftime("%Y-%m")


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
        answers = sorted({e.id: e for e in events if isinstance(e, AnswerEvent)}.values(), key=lambda e: e.id)
        ratings = sorted(
            {e.answer_id: e for e in reversed(events) if isinstance(e, RatingEvent)}.values(),
            key=lambda e: e.answer_id,
        )  # one rating per answer: the batch's first, as if they came one by one
        with self._transaction() as cursor:
            deltas: dict[CellKey, Counter[str]] = {}
            new_answers = self._insert_answers(cursor, answers) if answers else set()
            new_ratings = self._insert_ratings(cursor, ratings) if ratings else set()
            for a in answers:
                if a.id in new_answers:
                    _add_answer(deltas, a)
            for r in ratings:
                if r.answer_id in new_ratings:
                    _add_rating(deltas, r)
            if deltas:
                cells = sorted(deltas.items())
                self._add_to_cells(cursor, "analytics_cells", cells)
                self._add_to_cells(cursor, "analytics_site_months", _summed(cells, (0, 1)))
                self._add_to_cells(cursor, "analytics_theme_months", _summed(cells, (0, 2)))
            return len(new_answers) + len(new_ratings)

    # Row by row: right for SQLite (in-process, no round trips); PostgreSQL sends arrays (backends.py).
    def _insert_answers(self, cursor: Cursor, events: Sequence[AnswerEvent]) -> set[str]:
        sql = self._sql(
            f"INSERT INTO analytics_answers ({', '.join(ANSWER_COLUMNS)}) VALUES"
            f" ({', '.join('?' for _ in ANSWER_COLUMNS)}) ON CONFLICT (id) DO NOTHING"
        )
        new = set()
        for row in answer_rows(events):
            cursor.execute(sql, row)
            if cursor.rowcount == 1:
                new.add(str(row[0]))
        return new

    def _insert_ratings(self, cursor: Cursor, events: Sequence[RatingEvent]) -> set[str]:
        sql = self._sql(
            f"INSERT INTO analytics_ratings ({', '.join(RATING_COLUMNS)}) VALUES"
            f" ({', '.join('?' for _ in RATING_COLUMNS)}) ON CONFLICT (answer_id) DO NOTHING"
        )
        new = set()
        for row in rating_rows(events):
            cursor.execute(sql, row)
            if cursor.rowcount == 1:
                new.add(str(row[0]))
        return new

    def _add_to_cells(
        self, cursor: Cursor, table: str, deltas: Sequence[tuple[tuple[str, ...], Counter[str]]]
    ) -> None:
        keys = dict(ROLLUPS)[table]
        for key, delta in deltas:
            columns = [c for c in COUNTERS if delta[c]]
            values = ", ".join("?" for _ in (*keys, *columns))
            updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns)
            cursor.execute(
                self._sql(
                    f"INSERT INTO {table} ({', '.join((*keys, *columns))}) VALUES ({values})"
                    f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
                ),
                (*key, *(delta[c] for c in columns)),
            )

    # --- reads ---------------------------------------------------------------------------------------
    def cells(
        self, where: CellFilter, group: Group | None, mapping: Mapping[str, str] | None = None
    ) -> list[tuple[str, Counts]]:
        """Summed counters (in COUNTERS order) per group value; "" keys the one row of an ungrouped query.

        mapping: site id → the label to group by instead (its région, its département), computed in SQL so
        that ~20 rows come back rather than 2,700; sites it lacks are grouped under mapping_default."""
        clauses = ["c.month >= ?", "c.month <= ?"]
        params: list[Any] = [where.first_month, where.last_month]
        if where.sites is not None:
            if not where.sites:
                return []
            clauses.append(f"c.site IN ({', '.join('?' for _ in where.sites)})")
            params.extend(where.sites)
        if where.theme is not None:
            clauses.append("c.theme = ?")
            params.append(where.theme)
        join, key = "", f"c.{group}" if group else None
        if mapping is not None:
            source, mapped = self._mapping_source(mapping)
            join = f" LEFT JOIN {source} AS m ON m.site = c.site"
            key = f"COALESCE(m.grp, '{UNKNOWN_GROUP}')"  # a constant of ours, not user input
            params = [*mapped, *params]
        sums = ", ".join(f"COALESCE(SUM(c.{c}), 0)" for c in COUNTERS)
        table = _rollup_for(where, group, mapping)
        sql = f"SELECT {key or repr('')}, {sums} FROM {table} c{join} WHERE {' AND '.join(clauses)}"
        if key:
            sql += f" GROUP BY {key}"
        with self._transaction() as cursor:
            cursor.execute(self._sql(sql), params)
            rows = cursor.fetchall()
        return [(str(r[0]), tuple(r[1:])) for r in rows]  # both drivers return ints for integer sums

    def _mapping_source(self, mapping: Mapping[str, str]) -> tuple[str, list[Any]]:
        """A relation (site, grp) of the mapping's pairs, and its parameters: VALUES here (SQLite)."""
        if not mapping:
            return "(SELECT NULL AS site, NULL AS grp)", []
        values = ", ".join("(?, ?)" for _ in mapping)
        return (
            f"(SELECT column1 AS site, column2 AS grp FROM (VALUES {values}))",
            [v for pair in mapping.items() for v in pair],
        )

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


ANSWER_COLUMNS = (
    "id", "at", "month", "site", "audience", "theme", "status", "mode", "covered",
    "first_token_ms", "total_ms",
)  # fmt: skip
RATING_COLUMNS = ("answer_id", "id", "at", "month", "site", "theme", "rating", "reasons")


def answer_rows(events: Sequence[AnswerEvent]) -> list[tuple[Any, ...]]:
    return [
        (e.id, e.at, month_of(e.at), e.site, e.audience, e.theme, e.status, e.mode,
         None if e.covered is None else int(e.covered),
         round(e.first_token_s * 1000), round(e.total_s * 1000))
        for e in events
    ]  # fmt: skip


def rating_rows(events: Sequence[RatingEvent]) -> list[tuple[Any, ...]]:
    return [
        (e.answer_id, e.id, e.at, month_of(e.answer_at), e.site, e.theme, e.rating, ",".join(e.reasons))
        for e in events
    ]


def _rollup_for(where: CellFilter, group: Group | None, mapping: Mapping[str, str] | None) -> str:
    """The smallest rollup that holds what the query filters and groups by."""
    by_theme = where.theme is not None or group == "theme"
    by_site = where.sites is not None or group == "site" or mapping is not None
    if by_theme and by_site:
        return "analytics_cells"  # ~38,000 rows a month at the national scale
    return "analytics_theme_months" if by_theme else "analytics_site_months"  # ~15 or ~2,700


def _summed(
    cells: Sequence[tuple[CellKey, Counter[str]]], keep: tuple[int, ...]
) -> list[tuple[tuple[str, ...], Counter[str]]]:
    """The cells' deltas summed over the key parts not kept (the theme, or the site)."""
    summed: dict[tuple[str, ...], Counter[str]] = {}
    for key, delta in cells:
        summed.setdefault(tuple(key[i] for i in keep), Counter()).update(delta)
    return sorted(summed.items())


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
