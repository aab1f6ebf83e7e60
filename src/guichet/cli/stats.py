"""`guichet stats [--from] [--to] [--region] [--departement] [--site] [--theme] [--group-by] [--json|--csv]`
and `guichet stats rebuild`: the figures of GET /v1/stats, read from the analytics store directly."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from guichet.pilotage.stats import GroupBy, StatsRow

stats_app = typer.Typer(
    help="Usage et satisfaction par site, département, région, thème, mois.", invoke_without_command=True
)


@stats_app.callback()
def stats(
    ctx: typer.Context,
    from_: Annotated[str | None, typer.Option("--from", help="Premier mois (AAAA-MM)")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Dernier mois inclus (AAAA-MM)")] = None,
    region: Annotated[str | None, typer.Option(help="Région")] = None,
    departement: Annotated[str | None, typer.Option(help="Département (01, 2A, 974…)")] = None,
    site: Annotated[str | None, typer.Option(help="Identifiant de site")] = None,
    theme: Annotated[str | None, typer.Option(help="Thème")] = None,
    group_by: Annotated[GroupBy | None, typer.Option("--group-by", help="Regroupement")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON (celle de l'API)")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Sortie CSV (celle de l'API)")] = False,
) -> None:
    """Les statistiques (sans sous-commande) ; « rebuild » remplit le magasin depuis les réponses."""
    if ctx.invoked_subcommand is not None:
        return
    from guichet.api.errors import ApiError
    from guichet.api.stats import compute_stats, stats_body, stats_query
    from guichet.cli.main import _settings, fail, guarded
    from guichet.pilotage.csv_export import stats_csv
    from guichet.pilotage.store import AnalyticsError
    from guichet.wiring import build_stack

    try:
        query = stats_query(from_, to, region, departement, site, theme, group_by)
    except ApiError as exc:
        raise typer.BadParameter(exc.message) from exc
    stack = build_stack(_settings())
    try:
        result = guarded(lambda: compute_stats(stack, query))
    except AnalyticsError as exc:
        fail(str(exc))
    finally:
        stack.close()
    if as_csv:
        sys.stdout.buffer.write(stats_csv(result))
    elif as_json:
        typer.echo(json.dumps(stats_body(result), ensure_ascii=False, indent=2))
    else:
        typer.echo(f"Période {query.first_month} → {query.last_month}")
        for row in (*result.groups, result.total):
            typer.echo(_line(row))


def _line(row: StatsRow) -> str:
    rate = "moins de 5 avis" if row.small_group else f"{(row.satisfaction or 0) * 100:.0f} % satisfaits"
    p50 = "—" if row.first_token_p50_s is None else f"{row.first_token_p50_s:.1f} s"
    return f"{row.label:<40} {row.answers:>8} réponses  {row.ratings:>7} avis  {rate:<18} 1er jeton p50 {p50}"


@stats_app.command("rebuild")
def rebuild_command() -> None:
    """Remplit le magasin d'analyse depuis les réponses et avis conservés (idempotent)."""
    from guichet.cli.main import _settings, fail, guarded
    from guichet.pilotage.rebuild import rebuild
    from guichet.pilotage.store import AnalyticsError
    from guichet.pilotage.themes import ThemeLookup
    from guichet.wiring import build_stack

    stack = build_stack(_settings())
    try:
        report = guarded(lambda: rebuild(stack.answers.store, stack.analytics, ThemeLookup(stack.index)))
    except AnalyticsError as exc:
        fail(str(exc))
    finally:
        stack.close()
    typer.echo(f"Statistiques reconstruites : {report.summary()}.")
