"""Each case through the real ask pipeline, in-process: the Answerer the worker uses, on a stack.

What the pipeline retrieved is recorded by a Retriever that keeps its hits (no copy of the pipeline's
query building), and the ranking that hit@k and MRR are computed on is a deeper search (RANKING_DEPTH
passages) on that same query, audience and mode: the pipeline's own 12 passages often hold fewer than 5
distinct fiches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from guichet.answer.evidence import allowed_texts, gather_evidence
from guichet.answer.live_events import EventWriter
from guichet.answer.pipeline import Answerer, AnswerOptions
from guichet.answer.record import AnswerRecord, AskJob, ThreadTurn, new_answer_id
from guichet.answer.retrieval import Retriever
from guichet.evaluation.cases import EvalCase
from guichet.ports.answer_stream import AnswerEvent, AnswerStream
from guichet.ports.embedder import Embedder
from guichet.ports.index import VectorIndex
from guichet.ports.llm import ChatModel
from guichet.ports.records import SearchHit, SearchMode
from guichet.ports.reranker import Reranker

RANKING_DEPTH = 50


class RecordingRetriever(Retriever):
    """The pipeline's retriever, keeping the last query and hits, and the time the search took."""

    def __init__(self, index: VectorIndex, embedder: Embedder, reranker: Reranker | None = None) -> None:
        super().__init__(index, embedder, reranker)
        self.calls: list[tuple[str, str | None, SearchMode, list[SearchHit], float]] = []

    def search(
        self, query: str, *, audience: str | None = None, k: int = 5, mode: SearchMode = "hybrid"
    ) -> list[SearchHit]:
        started = time.perf_counter()
        hits = super().search(query, audience=audience, k=k, mode=mode)
        self.calls.append((query, audience, mode, hits, time.perf_counter() - started))
        return hits


class _DiscardedStream:
    """No reader follows an evaluation's live events."""

    def publish(self, event: AnswerEvent) -> None:
        pass

    def subscribe(
        self, answer_id: str, *, since: float, stop: threading.Event, heartbeat: float = 15.0
    ) -> Iterator[AnswerEvent | None]:
        return iter(())

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class CaseRun:
    case: EvalCase
    ranking: tuple[str, ...]  # distinct fiche ids, best first, RANKING_DEPTH passages deep
    evidence: tuple[str, ...]  # fiche ids of the passages the pipeline retrieved (its 12 hits)
    record: AnswerRecord
    source_texts: dict[str, list[str]]  # fiche id -> what its answer may be checked against
    stages: dict[str, float]  # seconds per stage
    judge: dict[str, object] = field(default_factory=dict)


def run_cases(
    cases: Sequence[EvalCase],
    index: VectorIndex,
    embedder: Embedder,
    model: ChatModel | None,
    options: AnswerOptions,
    progress: Callable[[int, int], None] | None = None,
    *,
    reranker: Reranker | None = None,
) -> list[CaseRun]:
    runs = []
    for i, case in enumerate(cases, 1):
        runs.append(run_case(case, index, embedder, model, options, reranker=reranker))
        if progress is not None:
            progress(i, len(cases))
    return runs


def run_case(
    case: EvalCase,
    index: VectorIndex,
    embedder: Embedder,
    model: ChatModel | None,
    options: AnswerOptions,
    thread: tuple[ThreadTurn, ...] = (),
    *,
    reranker: Reranker | None = None,
) -> CaseRun:
    """thread: the turns a follow-up case continues (evaluation/follow_ups.py); reranker: the stack's."""
    retriever = RecordingRetriever(index, embedder, reranker)
    answerer = Answerer(retriever, index, model, options)
    job = AskJob(new_answer_id(), case.question, case.audience, case.situation, thread=thread)
    stream: AnswerStream = _DiscardedStream()
    record = answerer.answer(job, AnswerRecord.queued(job).running(1), EventWriter(stream, job.id, 1))
    query, audience, mode, hits, search_s = retriever.calls[0]
    deep = retriever.search(query, audience=audience, k=RANKING_DEPTH, mode=mode)
    return CaseRun(
        case=case,
        ranking=tuple(dict.fromkeys(h.chunk.doc_id for h in deep)),
        evidence=tuple(dict.fromkeys(h.chunk.doc_id for h in hits)),
        record=record,
        source_texts=_source_texts(hits, index, case.situation),
        stages=_stages(record, search_s),
    )


def _source_texts(hits: Sequence[SearchHit], index: VectorIndex, situation: str = "") -> dict[str, list[str]]:
    """Per fiche, its retrieved passages and its own links: what a cited sentence or fact may rest on.
    With the situation, as the pipeline gathers them: the passage of the case a situation decides may
    not be among the hits (evidence.py), and an answer may cite it."""
    extracts = gather_evidence(hits, index, limit=2 * len(hits), situation=situation)
    texts: dict[str, list[str]] = {}
    for extract in extracts:
        texts.setdefault(extract.doc_id, []).extend(allowed_texts([extract]))
    return texts


def _stages(record: AnswerRecord, search_s: float) -> dict[str, float]:
    t = record.timings
    stages = {
        "search": search_s,  # query embedding + index search
        "evidence": max(0.0, t.retrieval_s - search_s),  # metadata, situation ordering
        "answer": max(0.0, t.total_s - t.retrieval_s),  # draft (model or extracts) + guard
        "first_token": t.first_token_s,
        "total": t.total_s,
    }
    return {name: round(seconds, 3) for name, seconds in stages.items()}
