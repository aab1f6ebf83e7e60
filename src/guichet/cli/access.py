"""`guichet keys …` (API keys of the sites) and `guichet purge` (retention): operator commands.

They work on the answer store directly, like the API replicas do: no running API is needed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from guichet.access.keys import KeyRepository, Role

keys_app = typer.Typer(
    help="Clés d'API des sites France services (créer, lister, révoquer).", no_args_is_help=True
)


def _repository() -> KeyRepository:
    from guichet.cli.main import _settings
    from guichet.wiring import build_answer_store

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return KeyRepository(build_answer_store(settings))


def _date(stamp: float | None) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M") if stamp else "—"


@keys_app.command("create")
def create(
    site: Annotated[str, typer.Option(help="Identifiant du site France services")],
    role: Annotated[Role, typer.Option(help="advisor, operator ou admin")] = "advisor",
    label: Annotated[str, typer.Option(help="Libellé libre (nom du site, contact…)")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON")] = False,
) -> None:
    """Crée une clé et l'affiche une seule fois (seule son empreinte est conservée)."""
    from guichet.cli.main import guarded

    try:
        record, key = guarded(lambda: _repository().create(site, role, label))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps({**record.public(), "key": key}, ensure_ascii=False))
        return
    typer.echo(f"Clé {record.id} créée pour le site {record.site} (rôle {record.role}) :")
    typer.echo(key)
    typer.echo("Elle ne sera plus affichée : transmettez-la au site par un canal sûr.", err=True)


@keys_app.command("list")
def list_keys(as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON")] = False) -> None:
    """Les clés (identifiant, site, rôle, état) ; jamais la clé elle-même."""
    from guichet.cli.main import guarded

    records = guarded(lambda: _repository().list())
    if as_json:
        typer.echo(json.dumps([r.public() for r in records], ensure_ascii=False, indent=2))
        return
    if not records:
        typer.echo("Aucune clé. Créez-en une : guichet keys create --site SITE --role advisor")
    for r in records:
        state = "active" if r.active else f"révoquée le {_date(r.revoked_at)}"
        typer.echo(f"{r.id}  {r.site:<24} {r.role:<9} {state:<28} créée le {_date(r.created_at)}  {r.label}")


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="Identifiant de la clé (guichet keys list)")]) -> None:
    """Révoque une clé : refusée par toutes les répliques d'ici GUICHET_AUTH_REFRESH secondes."""
    from guichet.cli.main import _settings, fail, guarded

    record = guarded(lambda: _repository().revoke(key_id))
    if record is None:
        fail(f"aucune clé d'identifiant {key_id!r}")
        return
    delay = _settings().auth_refresh
    typer.echo(f"Clé {record.id} du site {record.site} révoquée (refusée partout d'ici {delay:.0f} s).")


def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compter sans supprimer")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON")] = False,
) -> None:
    """Supprime les réponses et retours plus anciens que leur durée de conservation."""
    from guichet.access.retention import purge as run_purge
    from guichet.cli.main import _settings, guarded
    from guichet.wiring import build_answer_store

    settings = _settings()
    report = guarded(
        lambda: run_purge(
            build_answer_store(settings),
            answer_days=settings.answer_retention_days,
            feedback_days=settings.feedback_retention_days,
            dry_run=dry_run,
        )
    )
    typer.echo(json.dumps(report.to_json(), ensure_ascii=False) if as_json else report.summary())
