"""Pilotage through the real path: site keys → POST /v1/ask → answer worker → ratings → analytics queue →
analytics consumer → analytics store (SQLite, the embedded default) → GET /v1/stats, CSV, rebuild."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from guichet.pilotage.backends import SQLiteAnalyticsStore
from guichet.pilotage.rebuild import rebuild
from guichet.pilotage.sites import SiteRepository
from guichet.pilotage.stats import StatsQuery, compute
from guichet.pilotage.store import month_of
from guichet.pilotage.themes import ThemeLookup
from guichet.ports.broker import BrokerError
from guichet.ports.brokers.memory import MemoryBroker
from tests.pilotage_world import SECRET_WORD, World, pilotage_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with pilotage_world(tmp_path) as served:
        yield served


def test_asks_and_ratings_are_counted_by_site_without_personal_data(world: World) -> None:
    paris = [world.ask("fs-paris-15") for _ in range(6)]
    lyon = world.ask("fs-lyon-8")
    for answer_id in paris[:4]:
        world.rate("fs-paris-15", answer_id, "up")
    world.rate("fs-paris-15", paris[4], "down", ["incomplet", "Lien erroné", "mon texte à moi"])
    world.rate("fs-lyon-8", lyon, "down", ["inexact"])
    world.settle()

    by_site = {g["key"]: g for g in world.stats(group_by="site")["groups"]}
    assert set(by_site) == {"fs-paris-15", "fs-lyon-8"}
    paris_row, lyon_row = by_site["fs-paris-15"], by_site["fs-lyon-8"]
    assert (paris_row["answers"], paris_row["ratings"], paris_row["up"], paris_row["down"]) == (6, 5, 4, 1)
    assert paris_row["satisfaction"] == 0.8 and paris_row["small_group"] is False
    assert paris_row["share_rated"] == round(5 / 6, 4)
    assert paris_row["label"] == "France services Paris 15e (Paris)"
    reasons = {r["code"]: r["count"] for r in paris_row["top_down_reasons"]}
    assert reasons == {"incomplet": 1, "lien_errone": 1, "autre": 1}  # free text is never stored
    assert lyon_row["ratings"] == 1 and lyon_row["satisfaction"] is None and lyon_row["small_group"] is True
    assert paris_row["extractive_share"] == 1.0  # no LLM configured: every answer is extractive
    assert paris_row["first_token_p50_s"] is not None and paris_row["first_token_p95_s"] is not None

    total = world.stats()["total"]
    assert (total["answers"], total["ratings"], total["up"]) == (7, 6, 4)

    by_region = {g["key"]: g["answers"] for g in world.stats(group_by="region")["groups"]}
    assert by_region == {"Île-de-France": 6, "Auvergne-Rhône-Alpes": 1}
    only_69 = world.stats(departement="69")["total"]
    assert only_69["answers"] == 1
    themes = {g["key"] for g in world.stats(group_by="theme")["groups"]}
    assert "Papiers - Citoyenneté - Élections" in themes
    month = month_of(time.time())
    assert [g["key"] for g in world.stats(group_by="month")["groups"]] == [month]

    stored = b"".join(p.read_bytes() for p in world.stack.settings.data_dir.glob("analytics.sqlite3*"))
    assert SECRET_WORD.encode() not in stored and b"renouveler" not in stored


def test_stats_need_the_operator_role_and_valid_parameters(world: World) -> None:
    assert world.client.get("/v1/stats").status_code == 401
    refused = world.client.get("/v1/stats", headers=world.auth("fs-paris-15"))
    assert refused.status_code == 403 and "opérateur" in refused.json()["error"]["message"]
    assert world.client.get("/v1/sites", headers=world.auth("fs-paris-15")).status_code == 403
    for params in (
        {"from": "2026-13"},
        {"from": "hier"},
        {"group_by": "commune"},
        {"from": "2026-05", "to": "2026-01"},
    ):
        response = world.client.get("/v1/stats", params=params, headers=world.auth("operator"))
        assert response.status_code == 422, params
        assert response.json()["error"]["message"]
    sites = world.client.get("/v1/sites", headers=world.auth("operator")).json()
    assert {s["id"] for s in sites} >= {"fs-paris-15", "fs-ajaccio"}


def test_csv_export_and_small_groups(world: World) -> None:
    answer_id = world.ask("fs-lyon-8")
    world.rate("fs-lyon-8", answer_id, "up")
    world.ask("fs-inconnu")  # a key whose site is not in the registry
    world.settle()
    response = world.client.get(
        "/v1/stats",
        params={"group_by": "departement"},
        headers={**world.auth("operator"), "Accept": "text/csv"},
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["groupe", "libelle", "reponses"]
    by_key = {r[0]: r for r in rows[1:]}
    assert set(by_key) == {"69", "inconnu", "total"}
    assert by_key["69"][8] == "moins de 5 avis" and by_key["inconnu"][1] == "Non renseigné"
    assert by_key["total"][2] == "2"


def test_redelivered_events_count_once_and_rebuild_gives_the_same_figures(
    world: World, tmp_path: Path
) -> None:
    ids = [world.ask("fs-paris-15") for _ in range(3)]
    world.rate("fs-paris-15", ids[0], "down", ["hors_sujet"])
    world.settle()
    before = world.stats(group_by="site")
    publisher = world.stack.analytics_publisher
    for answer_id in ids:  # a redelivered job republishes its answer's event
        record = world.stack.answers.get(answer_id)
        assert record is not None
        publisher.answer(record)
    world.settle()
    assert world.stats(group_by="site") == before

    fresh = SQLiteAnalyticsStore(tmp_path / "rebuilt" / "analytics.sqlite3")
    try:
        report = rebuild(world.stack.answers.store, fresh, ThemeLookup(world.stack.index))
        assert (report.answers, report.ratings, report.new, report.unreadable) == (3, 1, 4, 0)
        sites = SiteRepository(world.stack.answers.store).load()
        month = before["period"]
        query = StatsQuery(month["from"], month["to"], group_by="site")
        rebuilt = compute(fresh, sites, query)
        assert [(g.key, g.answers, g.ratings, g.down) for g in rebuilt.groups] == [
            (g["key"], g["answers"], g["ratings"], g["down"]) for g in before["groups"]
        ]
        assert rebuild(world.stack.answers.store, fresh, ThemeLookup(world.stack.index)).new == 0
    finally:
        fresh.close()


class FlakyAnalyticsBroker(MemoryBroker):
    """Refuses the first analytics event of each answer once, as a broker outage would."""

    refused: ClassVar[set[str]] = set()

    def publish(
        self, queue: str, body: bytes, *, message_id: str = "", headers: dict[str, str] | None = None
    ) -> None:
        if message_id.startswith("answer:") and message_id not in self.refused:
            self.refused.add(message_id)
            raise BrokerError("analytics queue unreachable (test)")
        super().publish(queue, body, message_id=message_id, headers=headers)


def test_an_answer_event_refused_by_the_broker_is_published_on_redelivery(tmp_path: Path) -> None:
    with pilotage_world(tmp_path, broker_class=FlakyAnalyticsBroker) as world:
        answer_id = world.ask("fs-paris-15")
        world.settle()
        world.broker.join(world.stack.settings.ask_queue, timeout=30)
        world.settle()
        assert f"answer:{answer_id}" in FlakyAnalyticsBroker.refused
        total = world.stats()["total"]
        record = world.stack.answers.get(answer_id)
        assert total["answers"] == 1 and record is not None and record.attempt == 1  # answered once
