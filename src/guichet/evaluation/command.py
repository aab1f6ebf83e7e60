"""`guichet eval`'s work (cli.py only parses arguments): run the cases on the settings' stack, check,
report, compare, apply the thresholds."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from guichet.answer.worker import answer_options
from guichet.cli.commands import EmptyIndex
from guichet.evaluation.cases import EvalCase, load_cases, relative_to_index
from guichet.evaluation.checks import Similarity, check_answer
from guichet.evaluation.compare import compare, load_report, render_comparison
from guichet.evaluation.corpus import CorpusInfo, indexed_fiche_ids
from guichet.evaluation.judge import judge_answer
from guichet.evaluation.markdown import render
from guichet.evaluation.report import build_report, case_result
from guichet.evaluation.run import CaseRun, run_cases
from guichet.ports.embedder import Embedder
from guichet.ports.llm import ChatModel
from guichet.settings import Settings
from guichet.wiring import Stack, build_stack


@dataclass(frozen=True)
class Thresholds:
    """What `guichet eval` fails below (or above): None checks nothing."""

    min_hit_at_5: float | None = None
    min_mrr: float | None = None
    min_declined: float | None = None  # share of out-of-corpus cases answered "not covered"
    max_wrongly_declined: float | None = None  # share of in-corpus cases answered "not covered"


@dataclass(frozen=True)
class EvalOptions:
    k: int = 5
    judge: bool = False
    semantic: bool = False
    thresholds: Thresholds = Thresholds()
    compare_with: Path | None = None
    out_dir: Path | None = None


@dataclass(frozen=True)
class EvalOutcome:
    report: dict[str, Any]
    markdown: str
    failures: list[str]  # thresholds not met, in French


def evaluate_file(settings: Settings, path: Path, options: EvalOptions) -> EvalOutcome:
    """Raises CaseFileError (invalid question set), ReportError (unreadable --compare), EmptyIndex."""
    from guichet.evaluation.follow_ups import is_follow_up_file

    if is_follow_up_file(path):  # follow-up cases (evals/follow_ups.jsonl): run with their thread
        from guichet.evaluation.follow_up_command import evaluate_follow_up_file

        return evaluate_follow_up_file(settings, path, options)
    cases = load_cases(path)
    old = load_report(options.compare_with) if options.compare_with else None
    stack = build_stack(settings)
    try:
        if stack.index.chunk_count() == 0:
            raise EmptyIndex("l'index est vide : lancez « guichet ingest CHEMIN… » avant « guichet eval »")
        report = evaluate_cases(stack, cases, options, question_set=path.name)
    finally:
        stack.close()
    text = render(report)
    if old is not None:
        diff = compare(old, report)
        report["comparison"] = diff
        text += "\n" + render_comparison(diff)
    if options.out_dir is not None:
        write_report(options.out_dir, report, text)
    return EvalOutcome(report, text, threshold_failures(report, options))


def evaluate_cases(
    stack: Stack, cases: Sequence[EvalCase], options: EvalOptions, *, question_set: str = ""
) -> dict[str, Any]:
    model = stack.chat_model
    cases, out_of_index = relative_to_index(cases, indexed_fiche_ids(stack.index))
    runs = run_cases(
        cases, stack.index, stack.embedder, model, answer_options(stack.settings), _progress,
        reranker=stack.reranker,
    )  # fmt: skip
    if options.judge and model is not None:
        runs = [_judged(run, model) for run in runs]
    similarity = embedder_similarity(stack.embedder) if options.semantic else None
    results = [
        case_result(r, check_answer(r.case, r.record, r.evidence, r.source_texts, similarity), options.k)
        for r in runs
    ]
    corpus = CorpusInfo.read(stack.settings.data_dir)
    corpus_json = corpus.to_json() if corpus else {"description": "", "passages": stack.index.chunk_count()}
    corpus_json.pop("embedded", None)
    corpus_json["ids"] = " ".join(corpus.ids) if corpus else ""  # one line in the JSON file
    setup = {
        "questions": question_set,
        "mode": f"génératif ({model.name})" if model is not None else "extractif",
        "embedder": stack.embedder.name,
        "k": options.k,
        "out_of_index": out_of_index,
    }
    return build_report(results, k=options.k, corpus=corpus_json, setup=setup)


def _judged(run: CaseRun, model: ChatModel) -> CaseRun:
    excerpts = [t for s in run.record.sources for t in run.source_texts.get(s.id, [])]
    verdict = judge_answer(model, run.case.question, run.case.situation, run.record.answer, excerpts)
    return replace(run, judge=verdict)


def embedder_similarity(embedder: Embedder) -> Similarity:
    def similarity(sentence: str, texts: Sequence[str]) -> float:
        vectors = np.asarray(embedder.embed_passages([sentence, *texts]))
        return float(np.max(vectors[1:] @ vectors[0]))

    return similarity


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\rcas {done}/{total}" + ("\n" if done == total else ""))
        sys.stderr.flush()


def write_report(out_dir: Path, report: dict[str, Any], markdown: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(report_json(report), "utf-8")
    (out_dir / "report.md").write_text(markdown, "utf-8")


def report_json(report: dict[str, Any]) -> str:
    """Indented, but one line per case: small, and a diff shows which cases changed."""
    head = json.dumps({k: v for k, v in report.items() if k != "cases"}, ensure_ascii=False, indent=1)
    cases = ",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in report["cases"])
    return f'{head[:-2]},\n "cases": [\n{cases}\n ]\n}}\n'


def threshold_failures(report: dict[str, Any], options: EvalOptions) -> list[str]:
    metrics, limits = report["metrics"], options.thresholds
    failures = []
    for name, label, minimum in (
        ("hit_at_5", "hit@5", limits.min_hit_at_5),
        ("mrr", "MRR", limits.min_mrr),
    ):
        value = float(metrics[name])
        if minimum is not None and value < minimum:
            failures.append(
                f"{label} = {value:.3f}, sous le seuil de {minimum:.3f} : la recherche s'est dégradée"
            )
    declined, wrongly = declined_shares(metrics)
    if limits.min_declined is not None and declined is not None and declined < limits.min_declined:
        failures.append(
            f"questions hors corpus déclinées = {declined:.3f}, sous le seuil de {limits.min_declined:.3f} :"
            " des questions sans réponse dans l'index reçoivent une réponse"
        )
    ceiling = limits.max_wrongly_declined
    if ceiling is not None and wrongly is not None and wrongly > ceiling:
        failures.append(
            f"questions couvertes déclinées à tort = {wrongly:.3f}, au-dessus du seuil de"
            f" {ceiling:.3f} : des réponses présentes dans l'index sont refusées"
        )
    return failures


def declined_shares(metrics: dict[str, Any]) -> tuple[float | None, float | None]:
    """(out-of-corpus cases declined, in-corpus cases declined) as shares; None without such cases."""
    uncovered, ranked = int(metrics["not_covered_cases"]), int(metrics["ranked_cases"])
    declined = int(metrics["not_covered_ok"]) / uncovered if uncovered else None
    wrongly = int(metrics["declined_in_corpus"]) / ranked if ranked else None
    return declined, wrongly
