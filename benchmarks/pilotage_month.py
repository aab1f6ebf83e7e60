"""A month of guichet at the national scale in the analytics store (PostgreSQL): ingestion and the page's
queries.

Usage: python benchmarks/pilotage_month.py [--answers 800000] [--ratings 200000] [--sites 2700] [--check]
1. a fresh database on GUICHET_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres,
   dropped at the end unless --keep) and a synthetic registry of --sites sites over 101 départements;
2. one month of answer events (sites and themes drawn with a skew, 8 % extractive, 5 % not covered,
   1 % failed) and rating events for --ratings of them, recorded in batches (`guichet stats rebuild`'s
   path) → events/s;
3. the consumer's path for a sample (one event per transaction, as AnalyticsHandler does) → events/s,
   then the same sample again: nothing new (redelivery);
4. every query the pilotage page makes (month, région, département, thème, site groupings, with none or
   one filter), repeated → p50 and p95 of each and over all; target p95 ≤ 200 ms (--check exits 1 if not);
5. the stats API's figures for the month (total and by région), as GET /v1/stats returns them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from dataclasses import asdict
from datetime import datetime

from _common import percentile

from guichet.pilotage.backends import PostgresAnalyticsStore
from guichet.pilotage.consumer import AnalyticsHandler
from guichet.pilotage.events import AnswerEvent, Event, RatingEvent
from guichet.pilotage.sites import Site
from guichet.pilotage.stats import GROUP_BYS, StatsQuery, compute
from guichet.pilotage.store import PARIS
from guichet.ports.records import Envelope

TARGET_P95_MS = 200.0
MONTH = "2026-11"
THEMES = (
    "Papiers - Citoyenneté - Élections", "Famille - Scolarité", "Social - Santé", "Travail - Formation",
    "Logement", "Transports - Mobilité", "Argent - Impôts - Consommation", "Justice",
    "Étranger - Europe", "Loisirs - Sports - Culture", "Associations", "Entreprises", "", "Handicap",
)  # fmt: skip
REGIONS = (
    "Auvergne-Rhône-Alpes", "Bourgogne-Franche-Comté", "Bretagne", "Centre-Val de Loire", "Corse",
    "Grand Est", "Hauts-de-France", "Île-de-France", "Normandie", "Nouvelle-Aquitaine", "Occitanie",
    "Pays de la Loire", "Provence-Alpes-Côte d'Azur", "Guadeloupe", "Martinique", "Guyane", "La Réunion",
    "Mayotte",
)  # fmt: skip
REASONS = ("inexact", "incomplet", "sources_manquantes", "trop_long", "hors_sujet", "lien_errone", "autre")


def departements() -> list[str]:
    """The 101 départements, Corse and the overseas ones last."""
    return [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B", "971", "972", "973", "974", "976"]


def registry(count: int, rng: random.Random) -> dict[str, Site]:
    """Sites spread over the départements; each metropolitan département in one of the 12 continental
    régions (round robin: synthetic, not the real map), Corse and the overseas ones in their own."""
    deps = departements()
    continental = [r for r in REGIONS[:13] if r != "Corse"]
    region_of = {d: continental[i % len(continental)] for i, d in enumerate(deps[:-7])}
    region_of.update({"2A": "Corse", "2B": "Corse", "971": "Guadeloupe", "972": "Martinique"})
    region_of.update({"973": "Guyane", "974": "La Réunion", "976": "Mayotte"})
    sites = {}
    for i in range(count):
        dep = deps[i % len(deps)]
        insee = f"{dep}{rng.randint(1, 899):03d}" if len(dep) == 2 else f"{dep}{rng.randint(1, 99):02d}"
        site_id = f"fs-{i:05d}"
        sites[site_id] = Site(site_id, f"France services {i}", f"Commune {i}", insee, dep, region_of[dep])
    return sites


def month_events(sites: list[str], answers: int, ratings: int, rng: random.Random) -> list[Event]:
    start = datetime(2026, 11, 1, tzinfo=PARIS).timestamp()
    span = 30 * 86400 - 1
    weights = [1.0 / (1 + i) ** 0.5 for i in range(len(sites))]  # a few busy sites, a long tail
    chosen = rng.choices(sites, weights=weights, k=answers)
    theme_weights = [1.0 / (1 + i) for i in range(len(THEMES))]
    themes = rng.choices(THEMES, weights=theme_weights, k=answers)
    rated = set(rng.sample(range(answers), ratings))
    events: list[Event] = []
    for i in range(answers):
        at = start + rng.random() * span
        answer_id = uuid.UUID(int=rng.getrandbits(128)).hex
        failed = rng.random() < 0.01
        extractive = not failed and rng.random() < 0.08
        events.append(AnswerEvent(
            answer_id, at, chosen[i], "particuliers", themes[i], "failed" if failed else "done",
            "" if failed else ("extractive" if extractive else "generated"),
            None if failed else rng.random() > 0.05, 0.0 if failed else rng.lognormvariate(-0.2, 0.5),
            0.0 if failed else rng.uniform(2, 15),
        ))  # fmt: skip
        if i in rated:
            up = rng.random() < 0.82
            reasons = () if up else tuple(rng.sample(REASONS, rng.randint(1, 2)))
            rating_id = uuid.UUID(int=rng.getrandbits(128)).hex
            events.append(RatingEvent(
                rating_id, at + 120, answer_id, at, chosen[i], themes[i], "up" if up else "down", reasons
            ))  # fmt: skip
    return events


def page_queries(sites: dict[str, Site], rng: random.Random) -> list[StatsQuery]:
    """What the page asks on load (5 groupings) and after choosing each kind of filter."""
    some = rng.choice(list(sites.values()))
    filters: list[dict[str, str]] = [
        {}, {"region": some.region}, {"departement": some.departement}, {"theme": THEMES[0]},
        {"site": some.id},
    ]  # fmt: skip
    groups = [g for g in GROUP_BYS] + [None]
    return [StatsQuery(MONTH, MONTH, group_by=g, **f) for f in filters for g in groups]  # type: ignore[arg-type]


def create_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"guichet_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def ingest(store: PostgresAnalyticsStore, sample: list[Event], bulk: list[Event], batch: int) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(bulk), batch):
        store.record(bulk[i : i + batch])
    bulk_s, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"batched ingestion: {len(bulk):,} events in {bulk_s:.1f} s = {len(bulk) / bulk_s:,.0f} events/s "
        f"(this process's CPU {cpu:.1f} s; load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs)"
    )
    handler = AnalyticsHandler(store)
    envelopes = [Envelope(e.to_json(), f"{e.kind}:{e.id}") for e in sample]
    started = time.perf_counter()
    for envelope in envelopes:
        handler(envelope)
    rate = len(sample) / (time.perf_counter() - started)
    print(f"consumer path (1 event/transaction): {len(sample):,} events = {rate:,.0f} events/s")
    redelivered = store.record(sample)
    answers, ratings = store.counts()
    print(f"redelivered sample: {redelivered} new; stored {answers:,} answers, {ratings:,} ratings")


def main() -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--answers", type=int, default=800_000)
    parser.add_argument("--ratings", type=int, default=200_000)
    parser.add_argument("--sites", type=int, default=2_700)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--consumer-sample", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=15, help="runs of each page query")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if the p95 exceeds {TARGET_P95_MS} ms")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    parser.add_argument("--reuse", default="", help="a database kept by --keep: queries only")
    args = parser.parse_args()
    admin = os.environ.get("GUICHET_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    rng = random.Random(800_000)
    sites = registry(args.sites, rng)
    started = time.perf_counter()
    events = [] if args.reuse else month_events(sorted(sites), args.answers, args.ratings, rng)
    print(f"generated {len(events):,} events in {time.perf_counter() - started:.1f} s", flush=True)
    sample, bulk = events[: args.consumer_sample], events[args.consumer_sample :]

    name, url = ("", args.reuse) if args.reuse else create_database(admin)
    store = PostgresAnalyticsStore(url)
    try:
        if not args.reuse:
            ingest(store, sample, bulk, args.batch)
        with store._transaction() as cursor:  # the planner's statistics, as autovacuum would have them
            cursor.execute("ANALYZE analytics_cells")
        timings: dict[str, list[float]] = {}
        queries = page_queries(sites, rng)
        for _ in range(args.repeat):
            for query in queries:
                label = f"group_by={query.group_by} " + " ".join(
                    f"{k}={v}" for k, v in (("region", query.region), ("departement", query.departement),
                                            ("theme", query.theme), ("site", query.site)) if v
                )  # fmt: skip
                started = time.perf_counter()
                compute(store, sites, query)
                timings.setdefault(label, []).append((time.perf_counter() - started) * 1000)
        every = [t for values in timings.values() for t in values]
        worst = max(timings.items(), key=lambda kv: percentile(kv[1], 95))
        print(f"page queries: {len(queries)} kinds × {args.repeat} runs")
        p50, p95 = percentile(every, 50), percentile(every, 95)
        print(f"  p50 {p50:.1f} ms, p95 {p95:.1f} ms (target ≤ {TARGET_P95_MS:.0f} ms)")
        print(f"  slowest kind: {worst[0]} p95 {percentile(worst[1], 95):.1f} ms")
        slowest = sorted(timings.items(), key=lambda kv: -percentile(kv[1], 95))[:6]
        print("  slowest six: " + "; ".join(f"{k.strip()} {percentile(v, 95):.0f} ms" for k, v in slowest))

        month = compute(store, sites, StatsQuery(MONTH, MONTH, group_by="region"))
        total = asdict(month.total)
        print("stats API, month " + MONTH + " (total):")
        print(json.dumps({k: v for k, v in total.items() if k not in ("key", "label")}, ensure_ascii=False))
        for row in month.groups[:5]:
            print(f"  {row.label:<28} {row.answers:>7} answers  {row.ratings:>6} ratings  "
                  f"satisfaction {row.satisfaction}  extractive {row.extractive_share}  "
                  f"p50 {row.first_token_p50_s} s  p95 {row.first_token_p95_s} s")  # fmt: skip
    finally:
        store.close()
        if args.keep or args.reuse:
            print(f"kept: {url}")
        else:
            drop_database(admin, name)
    if args.check and p95 > TARGET_P95_MS:
        print(f"FAILED: p95 {p95:.1f} ms > {TARGET_P95_MS:.0f} ms", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
