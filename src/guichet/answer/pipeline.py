"""One answer, from the job to the final record: retrieve → evidence → generate (or extract) → compose.

The worker (answer_worker.py) owns delivery, durability and failure; this module owns the content.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from guichet import metrics
from guichet.answer.citations import cite_sources, cited_numbers
from guichet.answer.drafting import draft_answer
from guichet.answer.evidence import Extract, allowed_texts, chosen_branches, gather_evidence
from guichet.answer.generation import GenerationOptions
from guichet.answer.guard import guard_answer
from guichet.answer.links import helpers, practical_links
from guichet.answer.live_events import EventWriter
from guichet.answer.record import AnswerRecord, AskJob, Timings
from guichet.answer.related import related_questions
from guichet.answer.retrieval import Retriever
from guichet.answer.source_dates import age_notice, dated, example_notice
from guichet.ports.index import VectorIndex
from guichet.ports.llm import ChatModel

__all__ = ["GUARD_NOTICE", "AnswerOptions", "Answerer", "allowed_texts", "compose"]

GUARD_NOTICE = "Des informations absentes des sources citées (liens, numéros, montants) ont été retirées."
# The situation helps retrieval find the matching case, but a long one would drown the question.
SITUATION_QUERY_CHARS = 300


@dataclass(frozen=True)
class AnswerOptions:
    retrieve_k: int = 12
    extracts: int = 6
    prompt_chars: int = 24_000
    generation: GenerationOptions = field(default_factory=GenerationOptions)
    source_max_age_days: float = 730.0  # older cited fiches are flagged (source_dates.py); 0 = never


class Answerer:
    def __init__(
        self,
        retriever: Retriever,
        index: VectorIndex,
        model: ChatModel | None,
        options: AnswerOptions,
        stop: threading.Event | None = None,
    ) -> None:
        self._retriever = retriever
        self._index = index
        self._model = model
        self._options = options
        self._stop = stop

    def answer(self, job: AskJob, record: AnswerRecord, events: EventWriter) -> AnswerRecord:
        started = time.time()
        extracts = self._evidence(job)
        retrieval_s = time.time() - started
        events.emit("sources", {"sources": [_candidate(e) for e in extracts]})
        drafting = time.time()
        draft = draft_answer(
            self._model, job, extracts, events, self._options.generation,
            prompt_chars=self._options.prompt_chars, stop=self._stop,
        )  # fmt: skip
        timings = Timings(  # each from the moment the worker took the job, but queued_s
            queued_s=round(max(0.0, started - job.created_at), 4),
            retrieval_s=round(retrieval_s, 4),
            first_token_s=round(drafting - started + draft.first_token_s, 4),
            total_s=round(time.time() - started, 4),
        )
        final = compose(
            job, record, draft.text, draft.extracts, draft.notice,
            max_age_days=self._options.source_max_age_days,
        )  # fmt: skip
        return replace(final, mode=draft.mode, model=draft.model, timings=timings, updated_at=time.time())

    def _evidence(self, job: AskJob) -> list[Extract]:
        query = job.question
        if job.situation:
            query = f"{job.question}\n{job.situation[:SITUATION_QUERY_CHARS]}"
        hits = self._retriever.search(query, audience=job.audience, k=self._options.retrieve_k)
        return gather_evidence(hits, self._index, limit=self._options.extracts, situation=job.situation)


def compose(
    job: AskJob,
    record: AnswerRecord,
    text: str,
    extracts: Sequence[Extract],
    notice: str,
    *,
    max_age_days: float = 0.0,
) -> AnswerRecord:
    """The final record: only cited sources (dated, examples flagged), the guard applied against them,
    related questions, links."""
    by_number = {e.n: e for e in extracts}
    cited = [by_number[n] for n in dict.fromkeys(cited_numbers(text)) if n in by_number]
    guarded = guard_answer(text, allowed_texts(cited))
    for removal in guarded.removed:
        metrics.GUARD_REMOVALS.labels(kind=removal.kind).inc()
    answer, sources = cite_sources(guarded.text, extracts)
    sources = dated(sources, max_age_days=max_age_days)
    notices = [n for n in (example_notice(sources), notice, age_notice(sources)) if n]
    if guarded.removed:
        notices.append(GUARD_NOTICE)
    return replace(
        record,
        status="done",
        answer=answer,
        sources=sources,
        # A refusal (nothing cited) suggests no "questions liées": they would be unrelated.
        related_questions=(
            related_questions(job.question, extracts, exclude={s.id for s in sources}) if sources else ()
        ),
        links=practical_links(cited, chosen_branches(extracts)),
        helpers=helpers(cited),
        notice=" ".join(notices),
        guard_removed=guarded.removed,
        error=None,
    )


def _candidate(extract: Extract) -> dict[str, object]:
    c = extract.chunk
    return {"n": extract.n, "id": c.doc_id, "title": c.title, "url": c.url, "branch": c.branch}
