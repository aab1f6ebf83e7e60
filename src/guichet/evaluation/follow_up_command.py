"""`guichet eval` on a file of follow-up cases (follow_ups.py): run, check, report, thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from guichet.answer.worker import answer_options
from guichet.cli.commands import EmptyIndex
from guichet.evaluation.checks import check_answer
from guichet.evaluation.command import EvalOptions, EvalOutcome, threshold_failures, write_report
from guichet.evaluation.corpus import CorpusInfo
from guichet.evaluation.follow_ups import (
    FollowUpCase,
    follow_up_summary,
    load_follow_ups,
    render_summary,
    run_follow_ups,
)
from guichet.evaluation.markdown import render
from guichet.evaluation.report import build_report, case_result
from guichet.settings import Settings
from guichet.wiring import Stack, build_stack


def evaluate_follow_up_file(settings: Settings, path: Path, options: EvalOptions) -> EvalOutcome:
    """Raises CaseFileError (invalid file) or EmptyIndex. --judge and --compare do not apply here."""
    cases = load_follow_ups(path)
    stack = build_stack(settings)
    try:
        if stack.index.chunk_count() == 0:
            raise EmptyIndex("l'index est vide : lancez « guichet ingest CHEMIN… » avant « guichet eval »")
        report = evaluate_follow_ups(stack, cases, options, question_set=path.name)
    finally:
        stack.close()
    text = render(report) + render_summary(report["follow_ups"])
    if options.out_dir is not None:
        write_report(options.out_dir, report, text)
    return EvalOutcome(report, text, threshold_failures(report, options))


def evaluate_follow_ups(
    stack: Stack, cases: Sequence[FollowUpCase], options: EvalOptions, *, question_set: str = ""
) -> dict[str, Any]:
    """The report of the follow-up cases on stack: the follow-ups' metrics, plus "follow_ups"."""
    model = stack.chat_model
    runs = run_follow_ups(
        cases, stack.index, stack.embedder, model, answer_options(stack.settings), reranker=stack.reranker
    )
    results = [
        case_result(
            r.run, check_answer(r.run.case, r.run.record, r.run.evidence, r.run.source_texts, None), options.k
        )
        for r in runs
    ]
    setup = {
        "questions": question_set,
        "mode": f"génératif ({model.name})" if model is not None else "extractif",
        "embedder": stack.embedder.name,
        "k": options.k,
    }
    report = build_report(results, k=options.k, corpus=_corpus(stack), setup=setup)
    report["follow_ups"] = follow_up_summary(runs, options.k)
    return report


def _corpus(stack: Stack) -> dict[str, Any]:
    corpus = CorpusInfo.read(stack.settings.data_dir)
    data = corpus.to_json() if corpus else {"description": "", "passages": stack.index.chunk_count()}
    data.pop("embedded", None)
    data["ids"] = " ".join(corpus.ids) if corpus else ""
    return data
