"""Prometheus keeps low-cardinality series only: no label per site, answer, key or question.

Per-site figures are the analytics store's job (GET /v1/stats). Here asks, answers, ratings and stats
requests from 3 sites, then from 12 more, go through the real path; the series /metrics exposes must be
the same set after both rounds (a per-site label would add series with each new site), and no label
value may carry a site id, an answer id or a key.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.pilotage_world import World, pilotage_world

FIRST = ("fs-paris-15", "fs-lyon-8", "fs-ajaccio")
MORE = tuple(f"fs-extra-{i:02d}" for i in range(12))


def one_round(world: World, sites: tuple[str, ...]) -> list[str]:
    answer_ids = []
    for site in sites:
        answer_id = world.ask(site)
        world.rate(site, answer_id, "down" if len(answer_ids) % 2 else "up", ["incomplet", "texte libre"])
        answer_ids.append(answer_id)
    world.settle()
    world.stats(group_by="site")
    return answer_ids


def series(world: World) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    text = world.client.get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("guichet_")
    }


def test_more_sites_add_no_series_and_labels_carry_no_identifier(tmp_path: Path) -> None:
    with pilotage_world(tmp_path, (*FIRST, *MORE)) as world:
        series(world)  # the scrape counts itself: its own series exists from the first scrape on
        first_ids = one_round(world, FIRST)
        after_three = series(world)
        more_ids = one_round(world, MORE)
        after_fifteen = series(world)
    assert after_fifteen == after_three, sorted(after_fifteen - after_three)[:5]
    values = {value for _, labels in after_fifteen for _, value in labels}
    identifiers = {*FIRST, *MORE, *first_ids, *more_ids, *world.keys.values()}
    assert not values & identifiers
    assert not any(site in value for value in values for site in ("fs-", "gk_"))
    # And the whole exposition stays small: far below one series per site of the 2,700.
    families = {name for name, _ in after_fifteen}
    assert len(after_fifteen) < 60 * len(families)
