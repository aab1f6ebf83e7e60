"""A case of another fiche that the question does not name is left out of the model's prompt too, as the
extractive composer leaves it out (answer/unasked.py), and the sources streamed before the draft are
those the prompt holds, with the prompt's numbers. Through the Answerer, on an embedded index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from guichet.answer.live_events import EventWriter
from guichet.answer.pipeline import Answerer, AnswerOptions
from guichet.answer.record import AnswerRecord, AskJob, new_answer_id
from guichet.answer.retrieval import Retriever
from guichet.answer.unasked import unasked_steps, wanted_terms
from guichet.ports.answer_streams.local import LocalAnswerStream
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.records import Chunk, DocumentState, SearchHit, SearchMode
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.testing.helpers import RecordingAnswerStream
from guichet.testing.scripted_llm import ScriptedChatModel

QUESTION = "À partir de quel âge peut-on demander l'allocation Aspa ?"
GENERAL = "L'allocation Aspa est versée dès l'âge de 65 ans, à partir de cet âge."
VETERAN = "L'allocation Aspa est versée à partir de 60 ans aux anciens combattants, quel que soit l'âge."
COMMON = "L'allocation Aspa est demandée à partir de l'âge légal et récupérable sur la succession."
EMBEDDER = HashingEmbedder()


def _chunk(doc_id: str, ordinal: int, text: str, branch: str = "") -> Chunk:
    key = f"service-public/{doc_id}.xml"
    return Chunk(f"{doc_id}-{ordinal}", key, doc_id, ordinal, f"Aspa ({doc_id})", "", ("particuliers",), "",
                 branch, "x", text)  # fmt: skip


# F1's general rule, then F2's exception (nobody asked), then F2's common text: the exception sits
# between two passages the prompt keeps, so dropping it renumbers F2's common text [2].
PASSAGES = [_chunk("F1", 0, GENERAL), _chunk("F2", 1, VETERAN, "Ancien combattant"), _chunk("F2", 0, COMMON)]


class FixedRetriever(Retriever):
    def search(
        self, query: str, *, audience: str | None = None, k: int = 5, mode: SearchMode = "hybrid"
    ) -> list[SearchHit]:
        return [SearchHit(c, 1.0 - i / 10) for i, c in enumerate(PASSAGES)]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[EmbeddedIndex]:
    index = EmbeddedIndex(tmp_path / "index", dimension=EMBEDDER.dimension)
    for doc_id in ("F1", "F2"):
        chunks = sorted((c for c in PASSAGES if c.doc_id == doc_id), key=lambda c: c.ordinal)
        state = DocumentState(chunks[0].doc_key, doc_id, doc_id, chunk_count=len(chunks))
        index.replace_document(state, chunks, EMBEDDER.embed_passages([c.text for c in chunks]))
    yield index
    index.close()


def ask(
    question: str, index: EmbeddedIndex, tmp_path: Path
) -> tuple[str, list[dict[str, object]], AnswerRecord]:
    """The prompt the model got, the sources streamed before the draft, and the final record."""
    model = ScriptedChatModel("Elle est demandée à partir de l'âge légal [2].")
    answerer = Answerer(FixedRetriever(index, EMBEDDER), index, model, AnswerOptions())
    stream = RecordingAnswerStream(LocalAnswerStream(tmp_path / "events.sqlite3"))
    job = AskJob(new_answer_id(), question, "particuliers")
    record = answerer.answer(job, AnswerRecord.queued(job).running(1), EventWriter(stream, job.id, 1))
    (sources,) = [e.data["sources"] for e in stream.events(job.id) if e.kind == "sources"]
    stream.close()
    return model.calls[0][-1].content, list(sources), record  # type: ignore[arg-type]


def test_another_fiche_s_case_nobody_asked_about_is_not_in_the_prompt(
    index: EmbeddedIndex, tmp_path: Path
) -> None:
    prompt, sources, record = ask(QUESTION, index, tmp_path)
    assert GENERAL in prompt and COMMON in prompt and VETERAN not in prompt
    assert '<extrait n="2">' in prompt and '<extrait n="3">' not in prompt, "numbered again from 1"
    # What the page shows for [2] while the draft streams is the passage the prompt calls [2].
    assert [(s["n"], s["id"], s["branch"]) for s in sources] == [(1, "F1", ""), (2, "F2", "")]
    assert [(s.id, s.branch) for s in record.sources] == [("F2", "")]


def test_a_case_the_question_names_stays_in_the_prompt(index: EmbeddedIndex, tmp_path: Path) -> None:
    prompt, sources, _ = ask(
        "À partir de quel âge un ancien combattant peut-il demander l'Aspa ?", index, tmp_path
    )
    assert VETERAN in prompt and '<extrait n="3">' in prompt
    assert [s["n"] for s in sources] == [1, 2, 3]


@pytest.mark.parametrize(
    ("step", "question", "unasked"),
    [
        ("Avant novembre 2019", "Comment estimer son allocation chômage ?", True),
        ("Avant le 1er janvier 2020", "Comment estimer son allocation chômage ?", True),
        ("Avant novembre 2019", "Licencié en 2018, comment estimer son allocation chômage ?", False),
        ("Depuis le 1er novembre 2019", "Comment estimer son allocation chômage ?", False),
        ("Avant 62 ans si né après 1960", "Peut-il partir à la retraite ?", False),  # an age, not a period
        ("Jusqu'au 31 décembre 2099", "Comment estimer son allocation chômage ?", False),  # not over
        ("Ancien combattant", "Comment estimer son allocation chômage ?", True),
        ("Ancien combattant", "Un ancien combattant peut-il toucher l'allocation ?", False),
    ],
)
def test_a_step_nobody_asked_about(step: str, question: str, unasked: bool) -> None:
    assert bool(unasked_steps(step, wanted_terms(question, ""))) is unasked
