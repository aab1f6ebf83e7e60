"""Indexer: idempotency, vector reuse, ordering by sequencer, tombstones."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from guichet.corpus.errors import DocumentError
from guichet.indexing.indexer import Indexer
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.records import Vector
from guichet.testing.fake_embedder import HashingEmbedder

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "guichet" / "samples" / "fiches"


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        self.embedded.extend(texts)
        return super().embed_passages(texts)


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def index(tmp_path: Path, embedder: CountingEmbedder) -> EmbeddedIndex:
    return EmbeddedIndex(tmp_path / "index", dimension=embedder.dimension)


@pytest.fixture
def indexer(index: EmbeddedIndex, embedder: CountingEmbedder) -> Indexer:
    return Indexer(index, embedder)


def fiche(n: int = 0) -> bytes:
    return sorted(SAMPLES.glob("*.xml"))[n].read_bytes()


def test_unchanged_bytes_cost_no_embedding(indexer: Indexer, embedder: CountingEmbedder) -> None:
    first = indexer.index_object("a.xml", fiche(), etag="e1")
    assert first.outcome == "indexed" and first.embedded == first.chunks > 0
    embedded_before = len(embedder.embedded)
    again = indexer.index_object("a.xml", fiche(), etag="e1")
    assert again.outcome == "unchanged"
    assert len(embedder.embedded) == embedded_before


def test_edit_embeds_only_changed_chunks(indexer: Indexer, embedder: CountingEmbedder) -> None:
    original = fiche()
    first = indexer.index_object("a.xml", original)
    edited = original.replace(b"</Paragraphe>", b" Phrase ajout\xc3\xa9e pour le test.</Paragraphe>", 1)
    assert edited != original
    second = indexer.index_object("a.xml", edited)
    assert second.outcome == "indexed"
    assert 0 < second.embedded < first.chunks


def test_stale_event_is_ignored(indexer: Indexer, index: EmbeddedIndex) -> None:
    indexer.index_object("a.xml", fiche(0), sequencer="0000000000000010")
    stale = indexer.index_object("a.xml", fiche(1), sequencer="000000000000000F")
    assert stale.outcome == "stale"
    state = index.document_state("a.xml")
    assert state is not None and state.sequencer == "0000000000000010"


def test_late_create_does_not_resurrect_a_removed_document(indexer: Indexer, index: EmbeddedIndex) -> None:
    indexer.index_object("a.xml", fiche(), sequencer="0000000000000010")
    removed = indexer.remove_object("a.xml", sequencer="0000000000000020")
    assert removed.outcome == "removed" and removed.chunks > 0
    late = indexer.index_object("a.xml", fiche(), sequencer="0000000000000018")
    assert late.outcome == "stale"
    state = index.document_state("a.xml")
    assert state is not None and state.deleted
    assert index.reusable_vectors("a.xml") == {}


def test_unchanged_content_still_records_the_newer_sequencer(indexer: Indexer, index: EmbeddedIndex) -> None:
    indexer.index_object("a.xml", fiche(), sequencer="0000000000000010", etag="e1")
    indexer.index_object("a.xml", fiche(), sequencer="0000000000000030", etag="e1")
    state = index.document_state("a.xml")
    assert state is not None and state.sequencer == "0000000000000030"
    assert indexer.index_object("a.xml", fiche(1), sequencer="0000000000000020").outcome == "stale"


def test_events_without_sequencer_are_authoritative(indexer: Indexer) -> None:
    indexer.index_object("a.xml", fiche(0), sequencer="0000000000000010")
    assert indexer.index_object("a.xml", fiche(1)).outcome == "indexed"


def test_unparsable_document_raises_document_error(indexer: Indexer, index: EmbeddedIndex) -> None:
    with pytest.raises(DocumentError):
        indexer.index_object("broken.xml", b"<Publication><oops>")
    assert index.document_state("broken.xml") is None


def test_metadata_keeps_links_and_questions(indexer: Indexer, index: EmbeddedIndex) -> None:
    indexer.index_object("a.xml", fiche())
    state = index.document_state("a.xml")
    assert state is not None
    assert '"services"' in state.metadata_json and '"questions"' in state.metadata_json
    assert '"blocks"' not in state.metadata_json


class OtherEmbedder(CountingEmbedder):
    @property
    def name(self) -> str:
        return "autre-modele"


def test_changing_the_embedder_embeds_everything_again(index: EmbeddedIndex, indexer: Indexer) -> None:
    first = indexer.index_object("a.xml", fiche(), etag="e1")
    other = OtherEmbedder()
    switched = Indexer(index, other)
    assert switched.skip_if_current("a.xml", etag="e1") is None
    again = switched.index_object("a.xml", fiche(), etag="e1")
    assert again.outcome == "indexed" and again.embedded == first.chunks == len(other.embedded)
    state = index.document_state("a.xml")
    assert state is not None and state.embedder == "autre-modele"
    assert switched.index_object("a.xml", fiche(), etag="e1").outcome == "unchanged"
