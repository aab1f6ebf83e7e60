"""The statistics of GET /v1/stats, `guichet stats` and the pilotage page, computed from the cells.

Filters narrow the cells (months, sites of a région or département, a site, a theme); groups are read
in SQL (site, theme, month) or folded from the sites' rows with the registry (département, région).
A group with fewer than MIN_RATINGS ratings shows no satisfaction rate: one or two opinions are not a
rate, and could point at one advisor on a small site.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from guichet.metrics import OTHER_REASON, REASONS
from guichet.pilotage import histogram
from guichet.pilotage.schema import COUNTERS
from guichet.pilotage.sites import Site
from guichet.pilotage.store import UNKNOWN_GROUP, AnalyticsStore, CellFilter, Counts

GroupBy = Literal["region", "departement", "site", "theme", "month"]
GROUP_BYS: tuple[GroupBy, ...] = ("region", "departement", "site", "theme", "month")
MIN_RATINGS = 5
TOP_REASONS = 3
NO_THEME = "Sans thème"
REASON_LABELS = {
    "inexact": "Inexacte",
    "incomplet": "Incomplète",
    "sources_manquantes": "Sources manquantes ou inadaptées",
    "trop_long": "Trop longue",
    "hors_sujet": "Hors sujet",
    "lien_errone": "Lien erroné",
    OTHER_REASON: "Autre motif",
}
assert set(REASON_LABELS) == {*REASONS, OTHER_REASON}


@dataclass(frozen=True)
class StatsQuery:
    first_month: str
    last_month: str
    region: str | None = None
    departement: str | None = None
    site: str | None = None
    theme: str | None = None
    group_by: GroupBy | None = None


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    count: int


@dataclass(frozen=True)
class StatsRow:
    key: str
    label: str
    answers: int
    failed: int
    ratings: int
    up: int
    down: int
    share_rated: float | None
    satisfaction: float | None  # up / ratings; None for a small group
    small_group: bool
    top_down_reasons: tuple[Reason, ...]
    extractive_share: float | None
    not_covered_share: float | None  # None: no record said whether it was covered
    first_token_p50_s: float | None
    first_token_p95_s: float | None


@dataclass(frozen=True)
class StatsResult:
    query: StatsQuery
    total: StatsRow
    groups: tuple[StatsRow, ...] = field(default=())


def compute(store: AnalyticsStore, sites: dict[str, Site], query: StatsQuery) -> StatsResult:
    where = CellFilter(query.first_month, query.last_month, _site_filter(sites, query), query.theme)
    if query.group_by == "region":
        rows = store.cells(where, "site", {s.id: s.region for s in sites.values()})
    elif query.group_by == "departement":
        rows = store.cells(where, "site", {s.id: s.departement for s in sites.values()})
    else:
        rows = store.cells(where, query.group_by)
    total = _row("total", "Ensemble", _column_sums([counts for _, counts in rows]))
    if query.group_by is None:
        return StatsResult(query, total)
    groups = [_row(key, _label(query.group_by, key, sites), counts) for key, counts in rows]
    order = (lambda r: r.key) if query.group_by == "month" else (lambda r: (-r.answers, r.label))
    return StatsResult(query, total, tuple(sorted(groups, key=order)))


def _column_sums(rows: list[Counts]) -> Counts:
    return tuple(sum(column) for column in zip(*rows, strict=True)) if rows else (0,) * len(COUNTERS)


def _site_filter(sites: dict[str, Site], q: StatsQuery) -> tuple[str, ...] | None:
    if q.region is None and q.departement is None:
        return None if q.site is None else (q.site,)
    chosen = [
        s.id
        for s in sites.values()
        if (q.region is None or s.region.casefold() == q.region.casefold())
        and (q.departement is None or s.departement == q.departement.upper())
        and (q.site is None or s.id == q.site)
    ]
    return tuple(sorted(chosen))


def _label(group_by: GroupBy, key: str, sites: dict[str, Site]) -> str:
    if group_by == "site":
        site = sites.get(key)
        return f"{site.name} ({site.commune})" if site else f"{key} (site non décrit)"
    if group_by == "theme":
        return key or NO_THEME
    if key == UNKNOWN_GROUP:
        return "Non renseigné"
    return key


# Positions in a Counts tuple: 2,700 rows (group_by=site) are read without building a dict for each.
_AT = {name: i for i, name in enumerate(COUNTERS)}
_REASONS_AT = tuple((code, _AT[f"r_{code}"]) for code in REASON_LABELS)
_FT = slice(_AT[histogram.COLUMNS[0]], _AT[histogram.COLUMNS[-1]] + 1)


def _row(key: str, label: str, c: Counts) -> StatsRow:
    answers, failed, ratings, up = c[_AT["answers"]], c[_AT["failed"]], c[_AT["ratings"]], c[_AT["up"]]
    ticked = sorted((-c[i], code) for code, i in _REASONS_AT if c[i])[:TOP_REASONS]
    p50, p95 = histogram.quantiles(c[_FT], (0.5, 0.95))
    return StatsRow(
        key=key,
        label=label,
        answers=answers,
        failed=failed,
        ratings=ratings,
        up=up,
        down=c[_AT["down"]],
        share_rated=_share(ratings, answers),
        satisfaction=_share(up, ratings) if ratings >= MIN_RATINGS else None,
        small_group=ratings < MIN_RATINGS,
        top_down_reasons=tuple(Reason(code, REASON_LABELS[code], -n) for n, code in ticked),
        extractive_share=_share(c[_AT["extractive"]], answers - failed),
        not_covered_share=_share(c[_AT["not_covered"]], c[_AT["covered_known"]]),
        first_token_p50_s=p50,
        first_token_p95_s=p95,
    )


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole > 0 else None
