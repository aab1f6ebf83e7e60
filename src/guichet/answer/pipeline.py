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
from guichet.answer.coverage import CoverageRule, coverage_signals
from guichet.answer.drafting import draft_answer
from guichet.answer.evidence import Extract, allowed_texts, chosen_branches, gather_evidence
from guichet.answer.extractive import not_covered_answer
from guichet.answer.generation import GenerationOptions
from guichet.answer.guard import AllowedFacts, guard_answer
from guichet.answer.index_wait import DEFAULT_OUTAGE_WAIT_S, IndexWait
from guichet.answer.links import helpers, practical_links
from guichet.answer.live_events import EventWriter
from guichet.answer.named_things import unknown_names
from guichet.answer.prompt import is_not_covered
from guichet.answer.record import AnswerRecord, AskJob, ConsultRef, Timings
from guichet.answer.related import related_questions
from guichet.answer.retrieval import Retriever
from guichet.answer.source_dates import age_notice, dated, example_notice
from guichet.answer.thread import branch_situation, retrieval_query, thread_situation, with_followed_question
from guichet.answer.unasked import wanted_terms, without_unasked_cases
from guichet.ports.index import VectorIndex
from guichet.ports.llm import ChatModel
from guichet.ports.records import SearchHit

__all__ = ["GUARD_NOTICE", "AnswerOptions", "Answerer", "allowed_texts", "compose"]

GUARD_NOTICE = "Des informations absentes des sources citées (liens, numéros, montants) ont été retirées."
CONSULT_FICHES = 3
CASES_NOTICE = (
    "La situation indiquée ne permet pas de choisir : précisez-la pour une réponse propre à son cas."
)


@dataclass(frozen=True)
class AnswerOptions:
    retrieve_k: int = 12
    extracts: int = 6
    prompt_chars: int = 24_000
    generation: GenerationOptions = field(default_factory=GenerationOptions)
    coverage: CoverageRule = field(default_factory=CoverageRule)
    source_max_age_days: float = 730.0  # older cited fiches are flagged (source_dates.py); 0 = never
    index_outage_wait: float = DEFAULT_OUTAGE_WAIT_S  # seconds an index outage is waited out (index_wait.py)


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
        self._index_wait = IndexWait(options.index_outage_wait, stop)  # shared by the worker's threads

    def answer(self, job: AskJob, record: AnswerRecord, events: EventWriter) -> AnswerRecord:
        started = time.time()
        # A follow-up carries its thread's situations: retrieval, the cases and the prompt all see them.
        job = replace(job, situation=thread_situation(job.situation, job.thread))
        # "Et s'il est mineur ?" alone covers nothing: a follow-up is judged with the question it follows.
        asked = with_followed_question(job.question, job.thread)
        hits, extracts, unknown = self._index_wait.run(lambda: self._evidence(job, asked))  # or IndexOutage
        retrieval_s = time.time() - started
        drafting = time.time()
        signals = coverage_signals(asked, hits, embedder=self._retriever.embedder_name, unknown_names=unknown)
        if not extracts or not self._options.coverage.covered(signals):
            # Decided before any drafting, the same way whether a model is configured or not.
            final = not_covered(record, extracts, unknown)
            events.token(final.answer)
            first_token_s = time.time() - drafting
        else:
            if self._model is not None:  # the composer weighs cases itself (extractive.py)
                extracts = without_unasked_cases(extracts, wanted_terms(asked, job.situation))
            events.emit("sources", {"sources": [_candidate(e) for e in extracts]})
            draft = draft_answer(
                self._model, job, extracts, events, self._options.generation,
                prompt_chars=self._options.prompt_chars, stop=self._stop,
            )  # fmt: skip
            first_token_s = draft.first_token_s
            if is_not_covered(draft.text):  # the model's (or the composer's) own "not covered" holds
                final = replace(not_covered(record, extracts), mode=draft.mode, model=draft.model)
            else:
                final = compose(
                    job, record, draft.text, draft.extracts, draft.notice,
                    max_age_days=self._options.source_max_age_days,
                )  # fmt: skip
                final = replace(final, mode=draft.mode, model=draft.model)
        timings = Timings(  # each from the moment the worker took the job, but queued_s
            queued_s=round(max(0.0, started - job.created_at), 4),
            retrieval_s=round(retrieval_s, 4),
            first_token_s=round(drafting - started + first_token_s, 4),
            total_s=round(time.time() - started, 4),
        )
        return replace(final, timings=timings, updated_at=time.time())

    def _evidence(self, job: AskJob, asked: str) -> tuple[list[SearchHit], list[Extract], tuple[str, ...]]:
        query = retrieval_query(job.question, job.situation, job.thread)
        hits = self._retriever.search(query, audience=job.audience, k=self._options.retrieve_k)
        situation = branch_situation(job.question, job.situation, job.thread)
        extracts = gather_evidence(hits, self._index, limit=self._options.extracts, situation=situation)
        return hits, extracts, unknown_names(asked, self._index)


def not_covered(
    record: AnswerRecord, extracts: Sequence[Extract], unknown: Sequence[str] = ()
) -> AnswerRecord:
    """The sources do not answer: said in French, nothing cited, the closest fiches "à consulter", and
    the names of the question no fiche mentions."""
    consult: dict[str, ConsultRef] = {}
    for extract in extracts:
        if extract.doc_id not in consult and len(consult) < CONSULT_FICHES:
            consult[extract.doc_id] = ConsultRef(extract.doc_id, extract.title, extract.url)
    metrics.ANSWERS_NOT_COVERED.inc()
    return replace(
        record,
        status="done",
        answer=not_covered_answer([c.title for c in consult.values()], unknown),
        sources=(),
        related_questions=(),
        links=(),
        helpers=(),
        mode="extractive",
        notice="",
        guard_removed=(),
        covered=False,
        case="",
        consult=tuple(consult.values()),
        error=None,
    )


def compose(
    job: AskJob,
    record: AnswerRecord,
    text: str,
    extracts: Sequence[Extract],
    notice: str,
    *,
    max_age_days: float = 0.0,
) -> AnswerRecord:
    """The final record: only cited sources, the guard applied against them, related questions, links."""
    by_number = {e.n: e for e in extracts}
    cited = [by_number[n] for n in dict.fromkeys(cited_numbers(text)) if n in by_number]
    branches = chosen_branches(extracts)
    guarded = guard_answer(text, AllowedFacts(allowed_texts(cited), claims_from=allowed_texts(extracts)))
    for removal in guarded.removed:
        metrics.GUARD_REMOVALS.labels(kind=removal.kind).inc()
    answer, sources = cite_sources(guarded.text, extracts)
    sources = dated(sources, max_age_days=max_age_days)
    notices = [n for n in (example_notice(sources), notice, age_notice(sources)) if n]
    if guarded.removed:
        notices.append(GUARD_NOTICE)
    cases = undecided_cases(cited, extracts, branches) if job.situation else []
    if cases:
        listed = " ; ".join(f"« {c} »" for c in cases)
        notices.append(f"Plusieurs cas existent selon la situation de l'usager : {listed}. {CASES_NOTICE}")
    return replace(
        record,
        status="done",
        answer=answer,
        sources=sources,
        # A refusal (nothing cited) suggests no "questions liées": they would be unrelated.
        related_questions=(
            related_questions(job.question, extracts, exclude={s.id for s in sources}) if sources else ()
        ),
        links=practical_links(cited, branches),
        helpers=helpers(cited),
        notice=" ".join(notices),
        guard_removed=guarded.removed,
        error=None,
        covered=True,
        case=branches.get(cited[0].doc_id, "") if cited else "",
        consult=(),
    )


def undecided_cases(
    cited: Sequence[Extract], extracts: Sequence[Extract], branches: dict[str, str]
) -> list[str]:
    """The cases of the first cited fiche that has several among the extracts, when the situation chose
    none of them: the answer then says which cases exist instead of silently following one."""
    for doc_id in dict.fromkeys(e.doc_id for e in cited):
        cases = list(dict.fromkeys(e.branch for e in extracts if e.doc_id == doc_id and e.branch))
        if len(cases) > 1:
            return [] if branches.get(doc_id) else cases
    return []


def _candidate(extract: Extract) -> dict[str, object]:
    c = extract.chunk
    return {"n": extract.n, "id": c.doc_id, "title": c.title, "url": c.url, "branch": c.branch}
