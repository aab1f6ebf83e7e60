"""The analytics store's contract, run on both backends: SQLite (embedded) and PostgreSQL (production).

PostgreSQL: GUICHET_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres, started by
`make test`); each test gets a database of its own, dropped afterwards. Skipped when unreachable, failed
under CI.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from guichet.pilotage import histogram
from guichet.pilotage.backends import PostgresAnalyticsStore, SQLiteAnalyticsStore
from guichet.pilotage.events import AnswerEvent, RatingEvent, parse_event
from guichet.pilotage.schema import COUNTERS, MIGRATIONS
from guichet.pilotage.store import AnalyticsError, AnalyticsStore, CellFilter, month_of

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NOV = datetime(2026, 11, 10, 12, tzinfo=UTC).timestamp()
DEC = datetime(2026, 12, 3, 12, tzinfo=UTC).timestamp()


def postgres_admin_url() -> str:
    url = os.environ.get("GUICHET_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL injoignable ({exc!r})")
        pytest.skip(f"PostgreSQL injoignable : {exc!r}")
    return url


def fresh_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"guichet_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AnalyticsStore]:
    if request.param == "sqlite":
        sqlite = SQLiteAnalyticsStore(tmp_path / "analytics.sqlite3")
        yield sqlite
        sqlite.close()
        return
    admin = postgres_admin_url()
    name, url = fresh_database(admin)
    pg = PostgresAnalyticsStore(url)
    try:
        yield pg
    finally:
        pg.close()
        drop_database(admin, name)


def answer(answer_id: str, *, site: str = "s1", at: float = NOV, **changes: object) -> AnswerEvent:
    values: dict[str, object] = {
        "id": answer_id, "at": at, "site": site, "audience": "particuliers", "theme": "Papiers",
        "status": "done", "mode": "generated", "covered": True, "first_token_s": 0.8, "total_s": 4.0,
    }  # fmt: skip
    values.update(changes)
    return AnswerEvent(**values)  # type: ignore[arg-type]


def rating(
    answer_id: str, value: str = "up", *, site: str = "s1", reasons: tuple[str, ...] = ()
) -> RatingEvent:
    return RatingEvent(uuid.uuid4().hex, NOV + 60, answer_id, NOV, site, "Papiers", value, reasons)


def cells(
    store: AnalyticsStore, group: str | None = None, mapping: dict[str, str] | None = None, **where: object
) -> dict[str, dict[str, int]]:
    values: dict[str, object] = {"first_month": "2026-01", "last_month": "2026-12", **where}
    rows = store.cells(CellFilter(**values), group, mapping)  # type: ignore[arg-type]
    return {key: dict(zip(COUNTERS, counts, strict=True)) for key, counts in rows}


def test_migrations_run_once(store: AnalyticsStore) -> None:
    assert store.migrate() == len(MIGRATIONS)
    assert store.migrate() == len(MIGRATIONS)  # again: nothing to do, no error
    assert store.counts() == (0, 0)


def test_a_redelivered_event_counts_once(store: AnalyticsStore) -> None:
    events = [
        answer("a1"),
        answer("a2", mode="extractive", covered=False),
        rating("a1", "down", reasons=("incomplet",)),
    ]
    assert store.record(events) == 3
    assert store.record(events) == 0
    assert store.record([rating("a1", "up")]) == 0  # a second rating of the same answer: the first counts
    total = cells(store)[""]
    assert (total["answers"], total["extractive"], total["not_covered"], total["covered_known"]) == (
        2,
        1,
        1,
        2,
    )
    assert (total["ratings"], total["up"], total["down"], total["r_incomplet"]) == (1, 0, 1, 1)
    assert total[histogram.COLUMNS[histogram.bucket_of(0.8)]] == 2
    assert store.counts() == (2, 1)


def test_cells_are_filtered_and_grouped(store: AnalyticsStore) -> None:
    store.record([
        answer("a1", site="s1"), answer("a2", site="s2"), answer("a3", site="s2", at=DEC, theme="Travail"),
        answer("a4", site="s3", status="failed", mode="", covered=None, first_token_s=0.0),
    ])  # fmt: skip
    by_site = cells(store, "site")
    assert {k: v["answers"] for k, v in by_site.items()} == {"s1": 1, "s2": 2, "s3": 1}
    assert by_site["s3"]["failed"] == 1 and by_site["s3"]["covered_known"] == 0
    assert {k: v["answers"] for k, v in cells(store, "month").items()} == {"2026-11": 3, "2026-12": 1}
    assert {k: v["answers"] for k, v in cells(store, "theme").items()} == {"Papiers": 3, "Travail": 1}
    assert cells(store, sites=("s2",), theme="Travail")[""]["answers"] == 1
    assert cells(store, first_month="2026-12", last_month="2026-12")[""]["answers"] == 1
    assert cells(store, sites=()) == {}
    by_region = cells(store, "site", {"s1": "Bretagne", "s2": "Corse"}, first_month="2026-11")
    assert {k: v["answers"] for k, v in by_region.items()} == {"Bretagne": 1, "Corse": 2, "inconnu": 1}
    assert {k: v["answers"] for k, v in cells(store, "site", {}).items()} == {"inconnu": 4}
    assert store.themes() == ["Papiers", "Travail"]


def test_concurrent_consumers_count_each_event_once(store: AnalyticsStore, tmp_path: Path) -> None:
    """Two consumers (two connections: two replicas) given overlapping batches: each event counts once."""
    other = twin(store, tmp_path)
    events = [answer(f"c{i}", site=f"s{i % 3}") for i in range(60)]
    batches = [(store, events[0::2] + events[:30]), (other, events[1::2] + events[:30])]
    threads = [threading.Thread(target=s.record, args=(batch,)) for s, batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    assert cells(store)[""]["answers"] == 60
    assert store.counts() == (60, 0)


def twin(store: AnalyticsStore, tmp_path: Path) -> AnalyticsStore:
    if isinstance(store, PostgresAnalyticsStore):
        return PostgresAnalyticsStore(store._url)
    return SQLiteAnalyticsStore(tmp_path / "analytics.sqlite3")


def test_months_are_french_calendar_months() -> None:
    new_year_in_paris = datetime(2026, 12, 31, 23, 30, tzinfo=UTC).timestamp()  # 00:30 on 1 January
    assert month_of(new_year_in_paris) == "2027-01"


def test_events_round_trip_and_bad_bodies_are_refused() -> None:
    event = answer("a1", covered=None)
    assert parse_event(event.to_json()) == event
    rated = rating("a1", "down", reasons=("hors_sujet",))
    assert parse_event(rated.to_json()) == rated
    for body in (
        b"[]",
        b'{"kind": "answer"}',
        b'{"kind": "rating", "id": "x", "at": 1, "answer_id": "a", "rating": "bof"}',
        b'{"kind": "autre"}',
        b"pas du json",
    ):
        with pytest.raises((ValueError, KeyError, TypeError)):
            parse_event(body)


def test_an_unreachable_postgresql_is_an_analytics_error() -> None:
    with pytest.raises(AnalyticsError):
        PostgresAnalyticsStore("postgresql://postgres@127.0.0.1:1/none", connect_timeout=1)


def test_migrations_2_and_3_fill_the_rollups_from_the_cells(store: AnalyticsStore) -> None:
    """A store at schema 1 (cells only) holding data: migrating adds the month × site and month × theme
    rollups, filled."""
    store.record([answer("a1", site="s1"), answer("a2", site="s1", theme="Travail"), answer("a3", site="s2")])
    with store._transaction() as cursor:  # back to schema 1, data kept
        cursor.execute("DROP TABLE analytics_site_months")
        cursor.execute("DROP TABLE analytics_theme_months")
        cursor.execute("DELETE FROM analytics_schema WHERE version >= 2")
    assert store.migrate() == 3
    by_site = cells(store, "site")  # read from the rollup
    assert {k: v["answers"] for k, v in by_site.items()} == {"s1": 2, "s2": 1}
    by_theme = cells(store, "theme")  # read from the month × theme rollup
    assert {k: v["answers"] for k, v in by_theme.items()} == {"Papiers": 2, "Travail": 1}
    assert cells(store, "theme", sites=("s1",))["Travail"]["answers"] == 1  # read from the cells
