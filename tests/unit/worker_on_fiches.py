"""An answer worker's handler on a few real fiches of ../shared: the stored record, as a page reads it.

The embedded index, the hashing embedder (no cosine bar: words, names and cases decide) and the
extractive path (no model); a job goes through the handler (retrieval, evidence, coverage, composition,
storage) exactly as a worker runs it.
"""

from __future__ import annotations

from pathlib import Path

from guichet.answer.handlers import AnswerJobHandler
from guichet.answer.pipeline import Answerer
from guichet.answer.record import AnswerRecord, AskJob, new_answer_id
from guichet.answer.worker import answer_options
from guichet.indexing.bulk_ingest import ingest_into
from guichet.ports.answer_streams.local import LocalAnswerStream
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.records import Envelope
from guichet.settings import Settings
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.wiring import Stack

FICHES = Path(__file__).resolve().parents[2].parent / "shared" / "fiches" / "xml"


def have_fiches(ids: list[str]) -> bool:
    return all((FICHES / f"{i}.xml").is_file() for i in ids)


def fiche_stack(data_dir: Path, ids: list[str]) -> Stack:
    settings = Settings(data_dir=data_dir)
    embedder = HashingEmbedder()
    index = EmbeddedIndex(settings.index_path, dimension=embedder.dimension)
    stack = Stack(settings, embedder=embedder, index=index, announce_writes=False)
    ingest_into(stack, [FICHES / f"{i}.xml" for i in ids], progress=False)
    return stack


def ask(stack: Stack, question: str, situation: str = "", audience: str = "particuliers") -> AnswerRecord:
    """The record stored once the handler has run the job (status "done" checked)."""
    answerer = Answerer(stack.retriever, stack.index, None, answer_options(stack.settings))
    stream = LocalAnswerStream(stack.settings.data_dir / "events.sqlite3")
    try:
        handler = AnswerJobHandler(stack.answers, stream, answerer, max_deliveries=3)
        job = AskJob(new_answer_id(), question, situation=situation, audience=audience)
        stack.answers.put(AnswerRecord.queued(job))
        handler(Envelope(job.to_json(), job.id))
    finally:
        stream.close()
    record = stack.answers.get(job.id)
    assert record is not None and record.status == "done"
    return record
