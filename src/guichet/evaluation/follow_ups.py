"""Follow-up cases: a second question that is ambiguous alone ("Et s'il est mineur ?"), asked after a
first one (docs/decisions/0026).

A line of the file is a case of the question set (cases.py) plus "previous": {"question", "audience"?,
"situation"?, "expected_sources"?}, the question it follows. `guichet eval FILE` runs such a file this
way (any line with "previous" makes it one): the previous question through the pipeline first, then
the follow-up with the thread built from that answer record, as POST /v1/ask with follow_up_of builds
it. The report's metrics are the follow-up's; "follow_ups" adds hit@5 of the follow-up alone (no
thread), which shows that the second question is ambiguous without it, and of the previous question.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guichet.answer.pipeline import AnswerOptions
from guichet.answer.thread import retrieval_query, thread_after
from guichet.evaluation.cases import EvalCase, parse_case, read_cases
from guichet.evaluation.ranking import first_rank
from guichet.evaluation.run import RANKING_DEPTH, CaseRun, RecordingRetriever, run_case
from guichet.ports.embedder import Embedder
from guichet.ports.index import VectorIndex
from guichet.ports.llm import ChatModel
from guichet.ports.reranker import Reranker

PREVIOUS_KEYS = {"question", "audience", "situation", "expected_sources"}


@dataclass(frozen=True)
class FollowUpCase:
    case: EvalCase
    previous: EvalCase


@dataclass(frozen=True)
class FollowUpRun:
    run: CaseRun  # the follow-up, with its thread
    previous: CaseRun
    alone: tuple[str, ...]  # the follow-up's fiche ranking without its thread


def is_follow_up_file(path: Path) -> bool:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False  # load_cases says why
    return any('"previous"' in line for line in lines)


def load_follow_ups(path: Path) -> list[FollowUpCase]:
    return read_cases(path, parse_follow_up, "questions complémentaires invalides")


def parse_follow_up(raw: str, line: int = 0) -> FollowUpCase:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"JSON invalide ({exc.msg}, colonne {exc.colno})") from exc
    if not isinstance(data, dict):
        raise ValueError("chaque ligne doit être un objet JSON")
    previous = data.pop("previous", None)
    if not isinstance(previous, dict) or set(previous) - PREVIOUS_KEYS:
        raise ValueError(
            "« previous » : un objet {question, audience?, situation?, expected_sources?} est attendu"
        )
    case = parse_case(json.dumps(data, ensure_ascii=False), line)
    first = parse_case(json.dumps({"expected_sources": [], **previous}, ensure_ascii=False), line)
    return FollowUpCase(case, first)


def run_follow_ups(
    cases: Sequence[FollowUpCase],
    index: VectorIndex,
    embedder: Embedder,
    model: ChatModel | None,
    options: AnswerOptions,
    *,
    reranker: Reranker | None = None,
) -> list[FollowUpRun]:
    runs = []
    for item in cases:
        previous = run_case(item.previous, index, embedder, model, options, reranker=reranker)
        thread = thread_after(previous.record)
        run = run_case(item.case, index, embedder, model, options, thread=thread, reranker=reranker)
        query = retrieval_query(item.case.question, item.case.situation, ())
        alone = RecordingRetriever(index, embedder, reranker)
        hits = alone.search(query, audience=item.case.audience, k=RANKING_DEPTH)
        runs.append(FollowUpRun(run, previous, tuple(dict.fromkeys(h.chunk.doc_id for h in hits))))
    return runs


def follow_up_summary(runs: Sequence[FollowUpRun], k: int = 5) -> dict[str, Any]:
    """hit@k of the follow-up with its thread, alone, and the previous question's top fiche."""

    def rate(found: Sequence[bool]) -> float:
        return round(sum(found) / len(found), 4) if found else 0.0

    def found(ranking: Sequence[str], expected: Sequence[str]) -> bool:
        rank = first_rank(tuple(ranking), tuple(expected))
        return rank is not None and rank <= k

    return {
        "cases": len(runs),
        "k": k,
        "found_with_thread": rate([found(r.run.ranking, r.run.case.expected_sources) for r in runs]),
        "found_alone": rate([found(r.alone, r.run.case.expected_sources) for r in runs]),
        "previous_found": rate(
            [
                found(r.previous.ranking, r.previous.case.expected_sources)
                for r in runs
                if r.previous.case.expected_sources
            ]
        ),
        "missed_with_thread": [
            r.run.case.line for r in runs if not found(r.run.ranking, r.run.case.expected_sources)
        ],
    }


def render_summary(summary: dict[str, Any]) -> str:
    k = summary["k"]
    missed = ", ".join(str(n) for n in summary["missed_with_thread"]) or "aucun"
    return (
        f"\n## Questions complémentaires ({summary['cases']} cas)\n\n"
        f"| fiche attendue dans les {k} premières | part |\n| --- | --- |\n"
        f"| avec le fil (question précédente) | {summary['found_with_thread']} |\n"
        f"| question seule | {summary['found_alone']} |\n"
        f"| question précédente (sa propre fiche) | {summary['previous_found']} |\n\n"
        f"Cas manqués avec le fil (lignes) : {missed}\n"
    )
