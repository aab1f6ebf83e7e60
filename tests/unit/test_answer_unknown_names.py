"""A question naming a scheme no fiche mentions is declined, through the answer worker, on real fiches.

The embedded index with real fiches of ../shared (skipped when absent) and the hashing embedder (no
cosine bar: the names decide); the record is the stored one, as an advisor's page reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
IDS = ["F2882", "F12006", "F21089", "F1344"]
pytestmark = pytest.mark.skipif(
    not all((FICHES / f"{i}.xml").is_file() for i in IDS), reason=f"real fiches absent ({FICHES})"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("names"))
    embedder = HashingEmbedder()
    index = EmbeddedIndex(settings.index_path, dimension=embedder.dimension)
    stack = Stack(settings, embedder=embedder, index=index, announce_writes=False)
    ingest_into(stack, [FICHES / f"{i}.xml" for i in IDS], progress=False)
    yield stack
    stack.close()


def ask(stack: Stack, question: str) -> AnswerRecord:
    answerer = Answerer(stack.retriever, stack.index, None, answer_options(stack.settings))
    stream = LocalAnswerStream(stack.settings.data_dir / "events.sqlite3")
    try:
        handler = AnswerJobHandler(stack.answers, stream, answerer, max_deliveries=3)
        job = AskJob(new_answer_id(), question)
        stack.answers.put(AnswerRecord.queued(job))
        handler(Envelope(job.to_json(), job.id))
    finally:
        stream.close()
    record = stack.answers.get(job.id)
    assert record is not None and record.status == "done"
    return record


def test_a_scheme_no_fiche_names_is_declined_and_named(stack: Stack) -> None:
    # "prime" and "activité" are in F2882; "prime de partage" is in no fiche: a newer scheme.
    record = ask(stack, "Son employeur lui a versé une prime de partage de la valeur : est-elle imposable ?")
    assert not record.covered
    assert record.sources == ()
    assert "Aucune fiche indexée ne mentionne « prime de partage »" in record.answer
    assert record.consult  # the closest fiches are still offered


def test_a_scheme_the_fiches_name_is_answered(stack: Stack) -> None:
    record = ask(stack, "Salarié à mi-temps payé au Smic : peut-il toucher la prime d'activité ?")
    assert record.covered
    assert record.sources[0].id == "F2882"
    assert "ne mentionne" not in record.answer
