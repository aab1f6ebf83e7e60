"""`guichet sites import FILE.csv` and `guichet sites list`: the registry of France services sites.

Kept in the answer store beside the API keys (pilotage/sites.py; columns in docs/pilotage.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from guichet.pilotage.sites import SiteFileError, SiteRepository, parse_sites

sites_app = typer.Typer(help="Registre des sites France services (pilotage).", no_args_is_help=True)


def _repository() -> SiteRepository:
    from guichet.cli.main import _settings
    from guichet.wiring import build_answer_store

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SiteRepository(build_answer_store(settings))


@sites_app.command("import")
def import_sites(
    file: Annotated[Path, typer.Argument(help="CSV : id, nom, commune, code_insee, departement, region")],
) -> None:
    """Ajoute ou met à jour les sites du fichier (les autres restent)."""
    from guichet.cli.main import fail, guarded

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{file} illisible : {exc}")
    try:
        sites = parse_sites(text)
    except SiteFileError as exc:
        fail(f"{file} : {exc}")
    added, updated = guarded(lambda: _repository().merge(sites))
    typer.echo(f"{len(sites)} site(s) lus : {added} ajouté(s), {updated} modifié(s).")


@sites_app.command("list")
def list_sites(as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON")] = False) -> None:
    """Les sites du registre."""
    from guichet.cli.main import guarded

    sites = sorted(guarded(lambda: _repository().load()).values(), key=lambda s: s.id)
    if as_json:
        typer.echo(json.dumps([s.__dict__ for s in sites], ensure_ascii=False, indent=2))
        return
    if not sites:
        typer.echo("Aucun site. Importez le registre : guichet sites import sites.csv")
    for s in sites:
        typer.echo(f"{s.id:<20} {s.departement:<4} {s.region:<28} {s.commune:<24} {s.name}")
