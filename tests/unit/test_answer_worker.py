"""The answer worker on the embedded stack: job → events → durable record → ack, failures included."""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from guichet.answer.drafting import (
    CUT_UNUSABLE_NOTICE,
    LLM_FAILED_NOTICE,
    NO_LLM_NOTICE,
    TRUNCATED_NOTICE,
    UNUSABLE_NOTICE,
)
from guichet.answer.extractive import NOT_COVERED_LEAD
from guichet.answer.generation import GenerationOptions
from guichet.answer.handlers import AnswerJobHandler, DeadJobHandler
from guichet.answer.pipeline import GUARD_NOTICE, Answerer, AnswerOptions
from guichet.answer.prompt import NOT_COVERED
from guichet.answer.record import AnswerRecord, AskJob, new_answer_id
from guichet.answer.source_dates import EXAMPLE_NOTICE
from guichet.answer.store import AnswerRepository
from guichet.answer.worker import answer_consumers, answer_options, enqueue
from guichet.indexing.bulk_ingest import ingest_into
from guichet.ports.answer_stream import AnswerEvent
from guichet.ports.answer_streams.local import LocalAnswerStream
from guichet.ports.broker import REASON_HEADER, Reject, Requeue, dead_letter_queue
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.llm import ChatDelta, ChatMessage, ChatModel
from guichet.ports.records import Envelope
from guichet.ports.store import StoreError
from guichet.process.serve import sample_corpus_dir
from guichet.settings import Settings
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.testing.helpers import RecordingAnswerStream
from guichet.testing.scripted_llm import ScriptedChatModel
from guichet.wiring import Stack

QUESTION = "Comment renouveler une carte d'identité périmée ?"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample corpus indexed once (hashing embedder: fast); each test copies nothing, it only reads."""
    data = tmp_path_factory.mktemp("corpus")
    settings = Settings(data_dir=data)
    embedder = HashingEmbedder()
    index = EmbeddedIndex(settings.index_path, dimension=embedder.dimension)
    stack = Stack(settings, embedder=embedder, index=index, announce_writes=False)
    ingest_into(stack, [sample_corpus_dir()], prefix="exemples", progress=False)
    index.close()
    return settings.index_path


class ConcurrencyProbe:
    """Wraps a model to count the generations in flight at once."""

    def __init__(self, model: ScriptedChatModel) -> None:
        self._model = model
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_concurrent = 0
        self.name = model.name

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Generator[ChatDelta, None, None]:
        with self._lock:
            self.in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self.in_flight)
        try:
            yield from self._model.stream(messages, max_tokens=max_tokens, temperature=temperature)
        finally:
            with self._lock:
                self.in_flight -= 1

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass


class World:
    def __init__(self, tmp_path: Path, index_path: Path, model: ChatModel | None) -> None:
        self.settings = Settings(data_dir=tmp_path, index_url=str(index_path), max_deliveries=3)
        self.broker = MemoryBroker(
            self.settings.broker_path, retry_backoff=0.01, max_retry_backoff=0.02, max_deliveries=3
        )
        self.embedder = HashingEmbedder()
        self.index = EmbeddedIndex(index_path, dimension=self.embedder.dimension)
        self.stream = RecordingAnswerStream(LocalAnswerStream(tmp_path / "events.sqlite3"))
        self.model = model
        self.stack = Stack(
            self.settings, broker=self.broker, embedder=self.embedder, index=self.index,
            answer_stream=self.stream, chat_model=model,
        )  # fmt: skip

    def handler(self) -> AnswerJobHandler:
        answerer = Answerer(self.stack.retriever, self.index, self.model, answer_options(self.settings))
        return AnswerJobHandler(self.stack.answers, self.stream, answerer, max_deliveries=3)

    def events(self, answer_id: str) -> list[AnswerEvent]:
        return self.stream.events(answer_id)

    def close(self) -> None:
        self.stack.close()
        self.stream.close()
        self.index.close()
        self.broker.close()


@pytest.fixture
def world_factory(tmp_path: Path, corpus: Path) -> Iterator[object]:
    worlds: list[World] = []

    def make(model: ChatModel | None) -> World:
        world = World(tmp_path / f"w{len(worlds)}", corpus, model)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


def advisor_notice(record: AnswerRecord) -> str:
    """The notice without the sample fiches' "non officielles" sentence (these tests run on samples)."""
    return record.notice.removeprefix(EXAMPLE_NOTICE).strip()


def cite_first(messages: list[ChatMessage]) -> str:
    return "Il faut faire une demande de renouvellement en mairie [1]. Pensez à la photo d'identité [2]."


def job_envelope(job: AskJob, delivery_count: int = 0) -> Envelope:
    return Envelope(job.to_json(), job.id, redelivered=delivery_count > 0, delivery_count=delivery_count)


def test_generated_answer_is_stored_with_only_cited_sources_and_streamed(world_factory) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(ScriptedChatModel(cite_first))
    job = AskJob(new_answer_id(), QUESTION)
    world.stack.answers.put(AnswerRecord.queued(job))
    world.handler()(job_envelope(job))

    record = world.stack.answers.get(job.id)
    assert record is not None and record.status == "done" and record.mode == "generated"
    assert record.model == "scripted"
    candidates = next(e.data["sources"] for e in world.events(job.id) if e.kind == "sources")
    cited_fiches = list(dict.fromkeys(c["id"] for c in candidates if c["n"] in (1, 2)))
    assert [s.id for s in record.sources] == cited_fiches  # only the cited ones, same fiche merged
    assert [s.n for s in record.sources] == list(range(1, len(cited_fiches) + 1))
    assert "[1]" in record.answer and "[3]" not in record.answer
    assert 0 < record.timings.retrieval_s < record.timings.first_token_s <= record.timings.total_s
    kinds = [e.kind for e in world.events(job.id)]
    assert kinds[0] == "status" and "sources" in kinds and kinds[-1] == "done"
    streamed = "".join(e.data["text"] for e in world.events(job.id) if e.kind == "token")
    assert "renouvellement en mairie" in streamed


def test_without_a_model_the_answer_is_extractive_and_says_so(world_factory) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(None)
    job = AskJob(new_answer_id(), QUESTION)
    world.handler()(job_envelope(job))
    record = world.stack.answers.get(job.id)
    assert record is not None and record.status == "done" and record.mode == "extractive"
    assert NO_LLM_NOTICE == "" and "GUICHET_LLM_URL" not in record.notice, "said once, by the page"
    assert record.sources and record.answer


def test_a_model_that_keeps_failing_gives_an_extractive_answer(world_factory) -> None:  # type: ignore[no-untyped-def]
    model = ScriptedChatModel(cite_first, fail_first=100)
    world = world_factory(model)
    job = AskJob(new_answer_id(), QUESTION)
    world.handler()(job_envelope(job))
    record = world.stack.answers.get(job.id)
    assert record is not None and record.mode == "extractive" and LLM_FAILED_NOTICE in record.notice
    assert len(model.calls) == world.settings.llm_retries + 1


def test_a_model_failing_mid_answer_restarts_the_draft(world_factory) -> None:  # type: ignore[no-untyped-def]
    # Past the first sentence: the streaming guard releases whole sentences only.
    model = ScriptedChatModel(cite_first, fail_after_chars=80)
    world = world_factory(model)
    job = AskJob(new_answer_id(), QUESTION)
    world.handler()(job_envelope(job))
    events = world.events(job.id)
    resets = [i for i, e in enumerate(events) if e.kind == "status" and e.data.get("reset")]
    first_token = next(i for i, e in enumerate(events) if e.kind == "token")
    assert resets and resets[0] > first_token
    record = world.stack.answers.get(job.id)
    assert record is not None and record.status == "done" and record.mode == "extractive"


def test_a_redelivered_job_already_answered_is_not_generated_twice(world_factory) -> None:  # type: ignore[no-untyped-def]
    model = ScriptedChatModel(cite_first)
    world = world_factory(model)
    job = AskJob(new_answer_id(), QUESTION)
    world.handler()(job_envelope(job))
    world.handler()(job_envelope(job, delivery_count=1))
    assert len(model.calls) == 1
    dones = [e for e in world.events(job.id) if e.kind == "done"]
    assert [e.attempt for e in dones] == [1, 2]  # republished for readers still waiting


def test_an_invented_phone_number_is_removed_and_recorded(world_factory) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(ScriptedChatModel(lambda m: "Appelez le 01 99 98 97 96 pour un rendez-vous [1]."))
    job = AskJob(new_answer_id(), QUESTION)
    world.handler()(job_envelope(job))
    record = world.stack.answers.get(job.id)
    assert record is not None
    assert "01 99 98 97 96" not in record.answer
    assert [(r.kind, r.value) for r in record.guard_removed] == [("phone", "01 99 98 97 96")]
    assert GUARD_NOTICE in record.notice
    streamed = "".join(e.data["text"] for e in world.events(job.id) if e.kind == "token")
    assert "99 98 97" not in streamed


def test_an_unreadable_job_is_rejected(world_factory) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(None)
    with pytest.raises(Reject):
        world.handler()(Envelope(b"not json", "x"))


def test_last_delivery_failure_records_failed_and_dead_letters(world_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(None)
    job = AskJob(new_answer_id(), QUESTION)
    world.stack.answers.put(AnswerRecord.queued(job))
    handler = world.handler()
    monkeypatch.setattr(Answerer, "answer", lambda *a: (_ for _ in ()).throw(RuntimeError("index down")))
    with pytest.raises(RuntimeError):
        handler(job_envelope(job, delivery_count=0))
    assert world.stack.answers.get(job.id).status == "running"  # type: ignore[union-attr]
    with pytest.raises(Reject):
        handler(job_envelope(job, delivery_count=2))
    record = world.stack.answers.get(job.id)
    assert record is not None and record.status == "failed" and record.error is not None
    assert "3 tentative" in record.error.message
    assert world.events(job.id)[-1].kind == "error"


def test_dead_job_with_a_running_record_is_recorded_failed(world_factory) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(None)
    job = AskJob(new_answer_id(), QUESTION)
    world.stack.answers.put(AnswerRecord.queued(job).running(3))
    DeadJobHandler(world.stack.answers, world.stream)(
        Envelope(job.to_json(), job.id, headers={REASON_HEADER: "delivery limit reached"})
    )
    record = world.stack.answers.get(job.id)
    assert record is not None and record.status == "failed"


def test_consumers_answer_jobs_concurrently_on_the_embedded_broker(world_factory) -> None:  # type: ignore[no-untyped-def]
    model = ConcurrencyProbe(ScriptedChatModel(cite_first, delay=0.02))
    world = world_factory(model)
    stop = threading.Event()
    consumers = answer_consumers(world.stack, stop, concurrency=3)
    jobs = [AskJob(new_answer_id(), QUESTION) for _ in range(6)]
    for job in jobs:
        enqueue(world.stack, job)
    world.broker.join(world.settings.ask_queue, timeout=60)
    stop.set()
    for consumer in consumers:
        consumer.join(10)
    statuses = [world.stack.answers.get(j.id).status for j in jobs]  # type: ignore[union-attr]
    assert statuses == ["done"] * 6
    assert world.broker.depth(dead_letter_queue(world.settings.ask_queue)) == 0
    assert model.max_concurrent >= 2


def answer_with(world: World, options: AnswerOptions) -> AnswerRecord:
    answerer = Answerer(world.stack.retriever, world.index, world.model, options)
    handler = AnswerJobHandler(world.stack.answers, world.stream, answerer, max_deliveries=3)
    job = AskJob(new_answer_id(), QUESTION)
    world.stack.answers.put(AnswerRecord.queued(job))
    handler(job_envelope(job))
    record = world.stack.answers.get(job.id)
    assert record is not None
    return record


@pytest.mark.parametrize(
    "reply", ["", "  \n ", "Faites la demande en mairie, sans citer de source.", "Voir l'extrait [9]."]
)
def test_an_empty_or_untraceable_model_answer_is_replaced_by_extracts(world_factory, reply: str) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(ScriptedChatModel(reply))
    record = answer_with(world, answer_options(world.settings))
    assert record.mode == "extractive" and UNUSABLE_NOTICE in record.notice
    assert record.answer.strip() and record.sources


def test_an_answer_saying_the_extracts_do_not_cover_it_is_kept(world_factory) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(ScriptedChatModel(NOT_COVERED))
    record = answer_with(world, answer_options(world.settings))
    # The model's own "not covered" is honoured: the record says covered false, cites nothing and
    # offers the closest fiches to consult.
    assert record.mode == "generated" and record.covered is False and record.sources == ()
    assert record.answer.startswith(NOT_COVERED_LEAD) and "[" not in record.answer
    # Sample fiches (EX- ids) have no service-public page (issue 18): a real fiche's link is https.
    assert record.consult and all(
        c.url.startswith("https://") or (c.id.startswith("EX-") and not c.url) for c in record.consult
    )


def test_an_answer_cut_by_the_token_limit_keeps_whole_sentences_and_says_so(world_factory) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(ScriptedChatModel(cite_first, delta_chars=10))
    options = AnswerOptions(generation=GenerationOptions(max_tokens=9))  # 90 characters: mid-sentence 2
    record = answer_with(world, options)
    assert record.mode == "generated" and TRUNCATED_NOTICE in record.notice
    assert record.answer.endswith(".") and "photo" not in record.answer


def prompt_chars(model: ScriptedChatModel) -> int:
    return sum(len(m.content) for m in model.calls[0])


def test_a_prompt_too_long_is_shrunk_without_using_up_retries_and_cites_only_what_was_seen(
    world_factory,
) -> None:  # type: ignore[no-untyped-def]
    probe = ScriptedChatModel(cite_first)
    answer_with(world_factory(probe), AnswerOptions())
    reply = "Faites la demande en mairie [1]. Un timbre de 25 € est demandé [6]."
    model = ScriptedChatModel(reply, context_chars=prompt_chars(probe) - 1)
    record = answer_with(world_factory(model), AnswerOptions(generation=GenerationOptions(retries=0)))
    assert record.mode == "generated" and len(model.calls) == 2
    assert "[6]" not in model.calls[1][-1].content and '<extrait n="6">' not in model.calls[1][-1].content
    assert "25 €" not in record.answer and len(record.sources) == 1


def test_a_cut_whose_citation_was_in_the_unfinished_sentence_is_replaced_by_extracts(world_factory) -> None:  # type: ignore[no-untyped-def]
    reply = "Il faut faire une demande en mairie [1] avec une photo récente et un justificatif."
    world = world_factory(ScriptedChatModel(reply, delta_chars=10))
    # 60 characters: "[1]" is there, but in a sentence the cut left unfinished
    record = answer_with(world, AnswerOptions(generation=GenerationOptions(max_tokens=6)))
    assert record.mode == "extractive" and advisor_notice(record) == CUT_UNUSABLE_NOTICE
    assert "[1]" in record.answer and record.sources


# Like vLLM: a prompt that fits leaves the answer only the rest of the context (usage then reports fewer
# completion tokens than max_tokens, finish_reason "length").
CUT_REPLY = "Faites la demande en mairie [1]. Apportez une photo récente [1]."


def prompt_length(world_factory, extracts: int) -> int:  # type: ignore[no-untyped-def]
    probe = ScriptedChatModel(cite_first)
    answer_with(world_factory(probe), AnswerOptions(extracts=extracts))
    return prompt_chars(probe)


def test_an_answer_cut_by_the_context_is_asked_again_with_fewer_extracts(world_factory) -> None:  # type: ignore[no-untyped-def]
    context = prompt_length(world_factory, 6) + 16  # two pieces of 8 characters
    model = ScriptedChatModel(CUT_REPLY, context_chars=context, cut_at_context=True)
    options = AnswerOptions(generation=GenerationOptions(retries=0))
    record = answer_with(world_factory(model), options)
    assert len(model.calls) == 2 and prompt_chars(model) > sum(len(m.content) for m in model.calls[1])
    assert (record.mode, advisor_notice(record), record.answer) == ("generated", "", CUT_REPLY)


@pytest.mark.parametrize(
    ("room", "mode", "notice"),
    [(40, "generated", TRUNCATED_NOTICE), (16, "extractive", CUT_UNUSABLE_NOTICE)],
)
def test_an_answer_cut_by_the_context_with_one_extract_is_never_presented_as_complete(
    world_factory,  # type: ignore[no-untyped-def]
    room: int,
    mode: str,
    notice: str,
) -> None:
    context = prompt_length(world_factory, 1) + room  # 40: "...mairie [1]. Apporte"; 16: "Faites la demande"
    model = ScriptedChatModel(CUT_REPLY, context_chars=context, cut_at_context=True)
    record = answer_with(world_factory(model), AnswerOptions(extracts=1))
    assert len(model.calls) == 1 and (record.mode, advisor_notice(record)) == (mode, notice)
    if mode == "generated":
        assert record.answer == "Faites la demande en mairie [1]."


def test_stopping_while_waiting_to_retry_requeues_instead_of_degrading(world_factory) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(ScriptedChatModel(cite_first, fail_first=5))
    stop = threading.Event()
    stop.set()
    answerer = Answerer(world.stack.retriever, world.index, world.model, answer_options(world.settings), stop)
    handler = AnswerJobHandler(world.stack.answers, world.stream, answerer, max_deliveries=3)
    job = AskJob(new_answer_id(), QUESTION)
    with pytest.raises(Requeue):  # handed back uncounted (through both brokers: test_answer_outcomes.py)
        handler(job_envelope(job, delivery_count=2))  # even on the last delivery: no failed record
    assert world.stack.answers.get(job.id).status == "running"  # type: ignore[union-attr]


def test_a_job_with_an_invalid_id_is_rejected(world_factory) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(None)
    with pytest.raises(Reject, match="identifiant"):
        world.handler()(job_envelope(AskJob("../../etc/passwd", QUESTION)))


class NoWait(threading.Event):
    """A stop event that is never set and never sleeps: retries without real waiting."""

    def wait(self, timeout: float | None = None) -> bool:
        return False


def test_the_dead_letter_handler_waits_out_an_answer_store_outage(world_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(None)
    job = AskJob(new_answer_id(), QUESTION)
    world.stack.answers.put(AnswerRecord.queued(job).running(5))
    failures = iter([True, True, False])
    real_put = AnswerRepository.put

    def flaky_put(self: AnswerRepository, record: AnswerRecord) -> None:
        if next(failures, False):
            raise StoreError("stockage injoignable")
        real_put(self, record)

    monkeypatch.setattr(AnswerRepository, "put", flaky_put)
    DeadJobHandler(world.stack.answers, world.stream, NoWait())(Envelope(job.to_json(), job.id))
    assert world.stack.answers.get(job.id).status == "failed"  # type: ignore[union-attr]


def test_a_duplicate_job_finishing_second_keeps_the_first_record(world_factory) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(ScriptedChatModel(cite_first))
    job = AskJob(new_answer_id(), QUESTION)
    first = replace(AnswerRecord.queued(job), status="done", answer="première réponse [1]", mode="generated")
    real_answer = Answerer.answer

    def answer_while_a_duplicate_finishes(self: Answerer, *args: object) -> AnswerRecord:
        record = real_answer(self, *args)  # type: ignore[arg-type]
        world.stack.answers.put(first)  # the other copy stored its record meanwhile
        return record

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Answerer, "answer", answer_while_a_duplicate_finishes)
        world.handler()(job_envelope(job))
    assert world.stack.answers.get(job.id) == first


def ask_question(world: World, question: str) -> AnswerRecord:
    answerer = Answerer(world.stack.retriever, world.index, world.model, answer_options(world.settings))
    handler = AnswerJobHandler(world.stack.answers, world.stream, answerer, max_deliveries=3)
    job = AskJob(new_answer_id(), question)
    world.stack.answers.put(AnswerRecord.queued(job))
    handler(job_envelope(job))
    record = world.stack.answers.get(job.id)
    assert record is not None
    return record


OUT_OF_CORPUS = "Comment obtenir la vignette Crit'Air pour sa voiture diesel ?"


@pytest.mark.parametrize("with_model", [True, False])
def test_a_question_the_sources_do_not_answer_is_declined_in_both_modes(
    world_factory, with_model: bool
) -> None:  # type: ignore[no-untyped-def]
    # The model would happily cite [1]: the decision is taken before drafting, so it is never asked.
    model = ConcurrencyProbe(ScriptedChatModel(cite_first)) if with_model else None
    world = world_factory(model)
    record = ask_question(world, OUT_OF_CORPUS)
    assert record.status == "done" and record.covered is False
    assert record.sources == () and record.links == () and "[1]" not in record.answer
    assert record.answer.startswith(NOT_COVERED_LEAD) and record.consult
    assert all(c.title in record.answer for c in record.consult)
    if model is not None:
        assert model.max_concurrent == 0
    assert json.loads(record.to_json())["covered"] is False


def test_a_question_the_sources_answer_is_covered_and_names_no_consult(world_factory) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(None)
    record = ask_question(world, QUESTION)
    assert record.covered is True and record.sources and record.consult == ()
    assert json.loads(record.to_json())["covered"] is True


def ask_in_situation(world: World, question: str, situation: str) -> AnswerRecord:
    answerer = Answerer(world.stack.retriever, world.index, world.model, answer_options(world.settings))
    handler = AnswerJobHandler(world.stack.answers, world.stream, answerer, max_deliveries=3)
    job = AskJob(new_answer_id(), question, situation=situation)
    world.stack.answers.put(AnswerRecord.queued(job))
    handler(job_envelope(job))
    record = world.stack.answers.get(job.id)
    assert record is not None
    return record


FIRST_CARD = "Quels justificatifs pour une première carte d'identité d'un majeur ?"


def test_the_record_names_the_case_the_situation_chose(world_factory) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(None)
    record = ask_in_situation(world, FIRST_CARD, "Il a un passeport valide")
    assert record.covered and "passeport" in record.case
    assert json.loads(record.to_json())["case"] == record.case
    assert "Plusieurs cas existent" not in record.notice


def test_without_a_deciding_situation_the_answer_lists_the_cases(world_factory) -> None:  # type: ignore[no-untyped-def]
    world = world_factory(None)
    # F21089's extracts hold two cases (old card at hand, card lost or stolen): nothing says which.
    record = ask_in_situation(world, "Comment renouveler sa carte d'identité ?", "Il habite à Paris.")
    assert record.covered and record.case == "" and "case" not in json.loads(record.to_json())
    assert "Plusieurs cas existent" in record.notice and record.notice.count("« ") >= 2


def test_the_worker_fits_the_prompt_to_guichet_llm_prompt_chars(world_factory) -> None:  # type: ignore[no-untyped-def]
    unbounded, bounded = ScriptedChatModel(cite_first), ScriptedChatModel(cite_first)
    world = world_factory(unbounded)
    answer_with(world, answer_options(world.settings))
    world = world_factory(bounded)
    answer_with(world, answer_options(world.settings.model_copy(update={"llm_prompt_chars": 3000})))
    assert prompt_chars(bounded) <= 3000 < prompt_chars(unbounded)  # samples: no URLs (issue 18)
