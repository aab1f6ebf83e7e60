"""Data for the pilotage page's browser tests: the sample sites, an operator key and a year of events
recorded through the analytics store (as the consumer does), seeded so that every run draws the same."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

from guichet.access.keys import KeyRepository
from guichet.pilotage.events import AnswerEvent, Event, RatingEvent
from guichet.pilotage.sites import SiteRepository, parse_sites
from guichet.pilotage.store import PARIS
from guichet.wiring import Stack

SITES_CSV = Path(__file__).resolve().parents[2] / "docs" / "samples" / "sites.csv"
THEMES = ("Papiers - Citoyenneté - Élections", "Famille - Scolarité", "Social - Santé", "Travail - Formation")
SITES = ("fs-paris-15", "fs-creteil", "fs-lyon-8", "fs-aurillac", "fs-ajaccio", "fs-saint-denis-974")
REASONS = ("incomplet", "inexact", "sources_manquantes", "lien_errone", "hors_sujet")


def month_start(year: int, month: int) -> float:
    return datetime(year, month, 15, 10, tzinfo=UTC).timestamp()


def this_month() -> tuple[int, int]:
    now = datetime.now(PARIS)
    return now.year, now.month


def seed_pilotage(stack: Stack, *, months: int = 12) -> str:
    """Records the events of the last `months` months, this one included; returns an operator key."""
    SiteRepository(stack.answers.store).merge(parse_sites(SITES_CSV.read_text(encoding="utf-8")))
    rng = random.Random(17)
    events: list[Event] = []
    year, month = this_month()
    for back in range(months):
        index = year * 12 + month - 1 - back
        at = month_start(index // 12, index % 12 + 1)
        for site_rank, site in enumerate(SITES):
            for _ in range(40 - 5 * site_rank + 3 * (months - back)):
                events.extend(_answer_and_rating(rng, site, at))
    stack.analytics.record(events)
    return KeyRepository(stack.answers.store).create("equipe-nationale", "operator", "pilotage")[1]


def _answer_and_rating(rng: random.Random, site: str, at: float) -> list[Event]:
    answer_id = uuid.uuid4().hex
    extractive = rng.random() < 0.15
    theme = rng.choice(THEMES)
    answer = AnswerEvent(
        answer_id, at, site, "particuliers", theme, "done", "extractive" if extractive else "generated",
        rng.random() > 0.06, rng.uniform(0.4, 2.5), rng.uniform(3, 12),
    )  # fmt: skip
    if site == "fs-saint-denis-974" or rng.random() > 0.3:
        return [answer]  # one site never rates: its rate shows as a small group
    up = rng.random() < (0.6 if extractive else 0.85)
    reasons = () if up else tuple(rng.sample(REASONS, rng.randint(1, 2)))
    rating = RatingEvent(
        uuid.uuid4().hex, at + 60, answer_id, at, site, theme, "up" if up else "down", reasons
    )
    return [answer, rating]
