"""`guichet index export FILE` and `guichet index import FILE`: index snapshots (indexing/snapshot.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

index_app = typer.Typer(
    help="Instantanés de l'index : passages, métadonnées et vecteurs.", no_args_is_help=True
)


@index_app.command("export")
def export_command(
    file: Annotated[Path, typer.Argument(help="Fichier de l'instantané à écrire (.zip)")],
) -> None:
    """Écrit tout l'index (passages, métadonnées, vecteurs, nom du modèle) dans un fichier."""
    from guichet.cli.main import _settings, guarded
    from guichet.indexing.snapshot import export_index
    from guichet.wiring import build_stack

    def run() -> str:
        stack = build_stack(_settings(), announce_writes=False)
        try:
            embedder = stack.embedder
            manifest = export_index(stack.index, file, embedder=embedder.name, dimension=embedder.dimension)
        finally:
            stack.close()
        return f"{manifest.documents} documents, {manifest.passages} passages exportés dans {file}"

    typer.echo(guarded(run))


@index_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="Instantané à importer (.zip)")],
) -> None:
    """Charge un instantané dans l'index configuré (refusé s'il vient d'un autre modèle d'embedding)."""
    from guichet.cli.main import _settings, guarded
    from guichet.indexing.snapshot import import_snapshot, read_manifest
    from guichet.wiring import build_stack

    def run() -> str:
        manifest = read_manifest(file)
        stack = build_stack(_settings(), announce_writes=False)
        try:
            embedder = stack.embedder
            with tqdm(total=manifest.documents, desc="Import", unit="doc", disable=None) as bar:
                report = import_snapshot(
                    stack.index,
                    file,
                    embedder=embedder.name,
                    dimension=embedder.dimension,
                    progress=lambda n: bar.update(n),
                )
        finally:
            stack.close()
        return report.summary()

    typer.echo(guarded(run))
