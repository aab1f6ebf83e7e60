"""The body of `guichet eval` (cli.py keeps a thin declaration). Exit codes: 0 ok, 1 a threshold is not
met (or the run failed), 2 usage error or invalid question set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from guichet.settings import Settings

if TYPE_CHECKING:
    from guichet.evaluation.command import Thresholds


def _usage(message: str) -> None:
    typer.echo(f"guichet: {message} (voir « guichet eval --help »)", err=True)
    raise typer.Exit(2)


def eval_main(
    settings: Settings,
    file: Path | None,
    as_json: bool,
    compare_with: Path | None,
    out_dir: Path | None,
    from_feedback: bool,
    out: Path | None,
    k: int,
    thresholds: Thresholds,
    judge: bool,
    semantic: bool,
) -> None:
    """thresholds: what the run must reach (None: not checked)."""
    if from_feedback:
        if file is not None:
            _usage("--from-feedback n'attend pas de jeu de questions")
        export_feedback_cases(settings, out)
        return
    if file is None:
        _usage("indiquez un jeu de questions (FILE.jsonl) ou --from-feedback")
        return
    if out is not None:
        _usage("--out ne sert qu'avec --from-feedback")
    run_eval(settings, file, as_json, compare_with, out_dir, k, thresholds, judge, semantic)


def run_eval(
    settings: Settings,
    file: Path,
    as_json: bool,
    compare_with: Path | None,
    out_dir: Path | None,
    k: int,
    thresholds: Thresholds,
    judge: bool,
    semantic: bool,
) -> None:
    from guichet.cli.main import guarded
    from guichet.evaluation.cases import CaseFileError
    from guichet.evaluation.command import EvalOptions, evaluate_file
    from guichet.evaluation.compare import ReportError

    if judge and not settings.llm_url:
        typer.echo("guichet: --judge ignoré : aucun modèle configuré (GUICHET_LLM_URL)", err=True)
    options = EvalOptions(k, judge, semantic, thresholds, compare_with, out_dir)
    try:
        outcome = guarded(lambda: evaluate_file(settings, file, options))
    except (CaseFileError, ReportError) as exc:
        typer.echo(f"guichet: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(outcome.report, ensure_ascii=False, indent=1) if as_json else outcome.markdown)
    for failure in outcome.failures:
        typer.echo(f"guichet: {failure}", err=True)
    if outcome.failures:
        raise typer.Exit(1)


def export_feedback_cases(settings: Settings, out: Path | None) -> None:
    from guichet.cli.main import guarded
    from guichet.evaluation.feedback import export_feedback
    from guichet.wiring import build_answer_store

    export = guarded(lambda: export_feedback(build_answer_store(settings)))
    if out is None:
        typer.echo(export.jsonl(), nl=False)
    else:
        out.write_text(export.jsonl(), "utf-8")
    typer.echo(
        f"{len(export.cases)} cas exportés (à vérifier avant de les ajouter au jeu de questions)", err=True
    )
    if export.orphans:
        typer.echo(f"{export.orphans} avis ignorés : réponse introuvable", err=True)
