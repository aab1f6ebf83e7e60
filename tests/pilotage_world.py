"""A served pilotage world for tests: sample corpus, site keys, answer worker and analytics consumer."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from guichet.access.keys import KeyRepository
from guichet.answer.worker import answer_consumers
from guichet.api.app import create_app
from guichet.indexing.bulk_ingest import ingest_into
from guichet.pilotage.sites import SiteRepository, parse_sites
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.process.serve import sample_corpus_dir
from guichet.settings import Settings
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.testing.helpers import wait_for
from guichet.wiring import Stack

SITES_CSV = Path(__file__).resolve().parents[1] / "docs" / "samples" / "sites.csv"
QUESTION = "Comment renouveler une carte d'identité périmée ?"
SECRET_WORD = "Zéphyrine"  # in the situation and comments: must never reach the analytics store
SITES = ("fs-paris-15", "fs-lyon-8", "fs-inconnu")


@dataclass
class World:
    client: TestClient
    stack: Stack
    broker: MemoryBroker
    keys: dict[str, str]  # site (or "operator") -> bearer key

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def ask(self, site: str) -> str:
        body = {"question": QUESTION, "situation": f"Madame {SECRET_WORD}, 34 ans"}
        response = self.client.post("/v1/ask", json=body, headers=self.auth(site))
        assert response.status_code == 202, response.text
        answer_id: str = response.json()["id"]
        wait_for(
            lambda: self.client.get(f"/v1/answers/{answer_id}", headers=self.auth(site)).status_code == 200
        )
        return answer_id

    def rate(self, site: str, answer_id: str, rating: str, reasons: list[str] | None = None) -> None:
        body = {"rating": rating, "reasons": reasons or [], "comment": f"voir {SECRET_WORD}"}
        response = self.client.post(f"/v1/answers/{answer_id}/feedback", json=body, headers=self.auth(site))
        assert response.status_code == 201, response.text

    def settle(self) -> None:
        self.broker.join(self.stack.settings.analytics_queue, timeout=30)

    def stats(self, **params: str) -> dict:  # type: ignore[type-arg]
        response = self.client.get("/v1/stats", params=params, headers=self.auth("operator"))
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@contextmanager
def pilotage_world(
    tmp_path: Path, sites: Sequence[str] = SITES, *, broker_class: type[MemoryBroker] = MemoryBroker
) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path, auth="keys", rate_ask_per_minute=0, rate_read_per_minute=0)
    broker = broker_class(settings.broker_path, retry_backoff=0.01)
    embedder = HashingEmbedder()
    index = EmbeddedIndex(settings.index_path, dimension=embedder.dimension)
    stack = Stack(settings, broker=broker, embedder=embedder, index=index)
    quiet = Stack(settings, embedder=embedder, index=index, announce_writes=False)
    ingest_into(quiet, [sample_corpus_dir()], prefix="exemples", progress=False)
    SiteRepository(stack.answers.store).merge(parse_sites(SITES_CSV.read_text(encoding="utf-8")))
    repo = KeyRepository(stack.answers.store)
    keys = {site: repo.create(site, "advisor")[1] for site in sites}
    keys["operator"] = repo.create("equipe-nationale", "operator")[1]
    stop = threading.Event()
    consumers = answer_consumers(stack, stop, concurrency=2)
    try:
        yield World(TestClient(create_app(stack)), stack, broker, keys)
    finally:
        stop.set()
        for consumer in consumers:
            consumer.join(20)
        quiet.close()
        stack.close()
        index.close()
        broker.close()
