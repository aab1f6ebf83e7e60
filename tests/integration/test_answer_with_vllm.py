"""The answer worker against vLLM itself (tests/vllm_server.py): a question published on RabbitMQ, taken by
the worker's consumers, answered in generated mode by the real server, stored and acked.

Gemma 270M writes nonsense and the context is 512 tokens: guichet's instructions alone take ≈ 400, so
the corpus is two one-sentence documents (the sample fiches' extracts would not fit at all). The prompt
(≈ 470 tokens with both) leaves the answer little room: vLLM cuts it at the context's end (HTTP 200,
finish_reason "length") rather than refusing it, and guichet asks again with one extract. Whatever
the model wrote, the record must say what happened: a cut answer is never presented as complete, an
untraceable one is replaced by extracts, and no unverifiable fact survives.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from guichet.answer.drafting import CUT_UNUSABLE_NOTICE, LLM_FAILED_NOTICE, TRUNCATED_NOTICE, UNUSABLE_NOTICE
from guichet.answer.evidence import gather_evidence
from guichet.answer.guard import guard_answer
from guichet.answer.pipeline import allowed_texts
from guichet.answer.record import AskJob, new_answer_id
from guichet.answer.worker import answer_consumers, answer_options, enqueue
from guichet.indexing.bulk_ingest import ingest_into
from guichet.ports.answer_streams.local import LocalAnswerStream
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.llms.openai_compat import OpenAICompatChatModel
from guichet.process.consumers import join_all
from guichet.settings import Settings
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.testing.helpers import RecordingAnswerStream, wait_for
from guichet.wiring import Stack
from tests.vllm_server import VLLM_MODEL, VllmServer

pytestmark = [pytest.mark.vllm, pytest.mark.rabbitmq]

QUESTION = "Comment faire une première demande de carte d'identité ?"
DOCUMENTS = {
    "carte-identite.md": "# Carte d'identité : première demande\n\nFaites une pré-demande en ligne, puis "
    "prenez rendez-vous en mairie avec une photo d'identité récente.\n",
    "passeport.md": "# Passeport : demande\n\nLe passeport se demande en mairie, sur rendez-vous, avec un "
    "timbre fiscal.\n",
}
FINISHED = re.compile(r'^vllm:request_success_total\{.*finished_reason="(\w+)".*\} ([0-9.e+]+)$', re.M)


def finished(vllm: VllmServer) -> dict[str, float]:
    """vLLM's own count of the requests it ended, by finish reason."""
    return {reason: float(value) for reason, value in FINISHED.findall(vllm.metrics())}


def retried_cuts() -> float:
    """guichet's count of prompts sent again with fewer extracts (refused too long, or cut by the context)."""
    return REGISTRY.get_sample_value("guichet_llm_requests_total", {"outcome": "context_too_long"}) or 0.0


def test_a_question_through_rabbitmq_answered_by_vllm_says_what_happened(
    vllm: VllmServer, amqp_url: str, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        broker_url=amqp_url,
        ask_queue=unique_name("ask"),
        index_queue=unique_name("index"),
        llm_url=vllm.base,
        llm_max_tokens=300,
        llm_temperature=0.0,
        llm_retries=0,
        llm_timeout=120,
    )
    embedder = HashingEmbedder()
    index = EmbeddedIndex(settings.index_path, dimension=embedder.dimension)
    model = OpenAICompatChatModel(vllm.base, timeout=120)
    events = RecordingAnswerStream(LocalAnswerStream(tmp_path / "events.sqlite3"))
    stack = Stack(settings, embedder=embedder, index=index, answer_stream=events, chat_model=model)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in DOCUMENTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    ingest_into(stack, [corpus], prefix="partenaires", progress=False)
    before, cut_before = finished(vllm), retried_cuts()
    stop = threading.Event()
    consumers = answer_consumers(stack, stop, concurrency=1)
    try:
        job = AskJob(new_answer_id(), QUESTION)
        enqueue(stack, job)  # the queued record, then the job on RabbitMQ, as POST /v1/ask does
        wait_for(lambda: (r := stack.answers.get(job.id)) is not None and r.final, timeout=600, interval=0.5)
    finally:
        stop.set()
        join_all(consumers, 60)
    record = stack.answers.get(job.id)
    assert record is not None and record.status == "done" and record.answer.strip()
    assert stack.broker.depth(settings.ask_queue) == 0  # acked after the record was stored
    after = finished(vllm)
    ended = {reason: after[reason] - before.get(reason, 0.0) for reason in after}
    cut = retried_cuts() - cut_before
    print(f"\nvLLM ended {ended}; guichet retried {cut:.0f} time(s) with fewer extracts")
    print(f"mode={record.mode} model={record.model!r} notice={record.notice!r}\nanswer={record.answer!r}")

    assert sum(ended.values()) >= 1  # the real server was asked
    if record.mode == "generated":
        assert record.model == VLLM_MODEL
        if not ended.get("stop"):  # every generation was cut: never presented as complete
            assert record.notice.startswith(TRUNCATED_NOTICE)
            assert re.search(r"[.!?…»)]$", record.answer.rstrip())
    else:
        notices = (UNUSABLE_NOTICE, CUT_UNUSABLE_NOTICE, LLM_FAILED_NOTICE)
        assert record.notice.startswith(notices)
        if record.notice.startswith(CUT_UNUSABLE_NOTICE):
            assert ended.get("length")  # it says "cut" only when vLLM did cut

    hits = stack.retriever.search(QUESTION, audience="particuliers", k=answer_options(settings).retrieve_k)
    extracts = gather_evidence(hits, index, limit=settings.answer_extracts)
    cited = [e for e in extracts if e.chunk.doc_id in {s.id for s in record.sources}]
    # The final text holds no fact its cited sources do not hold, and the advisor never saw one streamed.
    assert guard_answer(record.answer, allowed_texts(cited)).removed == ()
    streamed = "".join(e.data["text"] for e in events.events(job.id) if e.kind == "token")
    assert guard_answer(streamed, allowed_texts(extracts)).removed == ()
    stack.close()
    events.close()
    model.close()
    index.close()
