"""GET /v1/stats (JSON or CSV), GET /v1/stats/themes, GET /v1/sites: role operator; GET /pilotage: the page.

Usage and satisfaction of guichet by site, département, région, theme and month, read from the
analytics store (pilotage/). Periods are whole months, as in the baromètre of France services: a date
counts for its month (docs/decisions/0024).
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel

from guichet.api.errors import ApiError, ErrorBody
from guichet.api.page import PAGE_HEADERS, web_dir
from guichet.pilotage.csv_export import stats_csv
from guichet.pilotage.sites import Site, SiteRepository
from guichet.pilotage.stats import GroupBy, Reason, StatsQuery, StatsResult, compute
from guichet.pilotage.store import PARIS, AnalyticsError
from guichet.ports.store import StoreError
from guichet.wiring import Stack

router = APIRouter(tags=["pilotage"])
MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
UNAVAILABLE = "Le magasin des statistiques est injoignable pour le moment : réessayez."
FILTER_LIMIT = 120


class StatsRowModel(BaseModel):
    key: str
    label: str
    answers: int
    failed: int
    ratings: int
    up: int
    down: int
    share_rated: float | None
    satisfaction: float | None
    small_group: bool
    top_down_reasons: list[Reason]
    extractive_share: float | None
    not_covered_share: float | None
    first_token_p50_s: float | None
    first_token_p95_s: float | None


class StatsResponse(BaseModel):
    period: dict[str, str]
    filters: dict[str, str]
    group_by: GroupBy | None
    min_ratings: int
    total: StatsRowModel
    groups: list[StatsRowModel]


def month_param(value: str | None, name: str, default: str) -> str:
    if value is None or value == "":
        return default
    match = MONTH.match(value.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ApiError(
            422, "parametre_invalide", f"{name} : attendu AAAA-MM ou AAAA-MM-JJ, reçu « {value[:20]} »."
        )
    return f"{match.group(1)}-{match.group(2)}"


def default_period() -> tuple[str, str]:
    """The last twelve months, this one included."""
    now = datetime.now(PARIS)
    first = (now.year * 12 + now.month - 1) - 11
    return f"{first // 12:04d}-{first % 12 + 1:02d}", now.strftime("%Y-%m")


def text_param(value: str | None, name: str) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > FILTER_LIMIT or any(ord(c) < 32 for c in value):
        raise ApiError(422, "parametre_invalide", f"{name} : valeur invalide.")
    return value.strip()


def stats_query(
    from_: str | None, to: str | None, region: str | None, departement: str | None, site: str | None,
    theme: str | None, group_by: GroupBy | None,
) -> StatsQuery:  # fmt: skip
    first_default, last_default = default_period()
    first = month_param(from_, "from", first_default)
    last = month_param(to, "to", last_default)
    if first > last:
        raise ApiError(422, "periode_invalide", f"Période vide : from ({first}) est après to ({last}).")
    return StatsQuery(
        first, last, text_param(region, "region"), text_param(departement, "departement"),
        text_param(site, "site"), text_param(theme, "theme"), group_by,
    )  # fmt: skip


def wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def _sites(stack: Stack) -> dict[str, Site]:
    return SiteRepository(stack.answers.store).load()


def compute_stats(stack: Stack, query: StatsQuery) -> StatsResult:
    return compute(stack.analytics, _sites(stack), query)


@router.get(
    "/v1/stats",
    response_model=StatsResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, ou CSV (Accept: text/csv ou format=csv)"},
        422: {"model": ErrorBody, "description": "Paramètre invalide"},
        503: {"model": ErrorBody, "description": "Magasin des statistiques injoignable"},
    },
)
async def stats(
    request: Request,
    from_: Annotated[
        str | None, Query(alias="from", description="Premier mois (AAAA-MM ou AAAA-MM-JJ)")
    ] = None,
    to: Annotated[str | None, Query(description="Dernier mois inclus (AAAA-MM ou AAAA-MM-JJ)")] = None,
    region: Annotated[str | None, Query(description="Région (nom du registre des sites)")] = None,
    departement: Annotated[str | None, Query(description="Département (01, 2A, 974…)")] = None,
    site: Annotated[str | None, Query(description="Identifiant de site")] = None,
    theme: Annotated[str | None, Query(description="Thème service-public de la source principale")] = None,
    group_by: Annotated[
        GroupBy | None, Query(description="region, departement, site, theme ou month")
    ] = None,
    format: Annotated[str | None, Query(pattern="^(json|csv)$", description="json ou csv")] = None,
) -> Any:
    """Usage et satisfaction : réponses, part évaluée, taux de satisfaction (avis positifs / avis ; pas de
    taux sous 5 avis), motifs des avis négatifs, parts extractive et non couverte, premier jeton p50/p95."""
    query = stats_query(from_, to, region, departement, site, theme, group_by)
    stack: Stack = request.app.state.stack
    try:
        result = await anyio.to_thread.run_sync(compute_stats, stack, query)
    except (AnalyticsError, StoreError) as exc:
        raise ApiError(503, "statistiques_indisponibles", UNAVAILABLE) from exc
    if wants_csv(request, format):
        name = f"guichet-statistiques-{query.first_month}-{query.last_month}.csv"
        return Response(
            stats_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return stats_body(result)


def stats_body(result: StatsResult) -> dict[str, Any]:
    q = result.query
    filters = {
        k: v
        for k, v in (
            ("region", q.region),
            ("departement", q.departement),
            ("site", q.site),
            ("theme", q.theme),
        )
        if v is not None
    }
    return {
        "period": {"from": q.first_month, "to": q.last_month},
        "filters": filters,
        "group_by": q.group_by,
        "min_ratings": 5,
        "total": asdict(result.total),
        "groups": [asdict(g) for g in result.groups],
    }


@router.get("/v1/stats/themes", response_model=list[str])
def themes(request: Request) -> list[str]:
    """Les thèmes présents dans les statistiques (pour les filtres)."""
    stack: Stack = request.app.state.stack
    try:
        return stack.analytics.themes()
    except AnalyticsError as exc:
        raise ApiError(503, "statistiques_indisponibles", UNAVAILABLE) from exc


class SiteModel(BaseModel):
    id: str
    name: str
    commune: str
    code_insee: str
    departement: str
    region: str


@router.get("/v1/sites", response_model=list[SiteModel])
def sites(request: Request) -> list[dict[str, str]]:
    """Le registre des sites France services (guichet sites import)."""
    stack: Stack = request.app.state.stack
    return [asdict(s) for s in sorted(_sites(stack).values(), key=lambda s: s.id)]


@router.get("/pilotage", include_in_schema=False)
def pilotage_page() -> FileResponse:
    return FileResponse(
        web_dir() / "pilotage.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
    )
