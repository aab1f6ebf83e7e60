"""One contract, every VectorIndex backend (the semantics documented in guichet/ports/index.py).

A backend joins by subclassing IndexContract and providing the `index` fixture (and `reopen`
when it persists locally). Vectors come from HashingEmbedder: similar words, similar vectors.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from guichet.ports.index import VectorIndex
from guichet.ports.indexes._sqlite_schema import SCHEMA
from guichet.ports.indexes.embedded import DB_NAME, EmbeddedIndex
from guichet.ports.records import Chunk, DocumentState, SearchFilters, chunk_uuid
from guichet.testing.fake_embedder import HashingEmbedder

DIM = 64
EMBEDDER = HashingEmbedder(DIM)


def make_chunks(
    key: str, doc_id: str, texts: list[str], audience: tuple[str, ...] = ("particuliers",)
) -> list[Chunk]:
    return [
        Chunk(
            id=chunk_uuid(key, i),
            doc_key=key,
            doc_id=doc_id,
            ordinal=i,
            title=f"Titre {doc_id}",
            url=f"https://www.service-public.fr/particuliers/vosdroits/{doc_id}",
            audience=audience,
            section="Conditions",
            branch="",
            kind="text",
            text=text,
            context=f"Titre {doc_id} > Conditions",
        )
        for i, text in enumerate(texts)
    ]


def put(index: VectorIndex, key: str, doc_id: str, texts: list[str], **state: object) -> list[Chunk]:
    audience = state.pop("audience", ("particuliers",))
    chunks = make_chunks(key, doc_id, texts, audience)  # type: ignore[arg-type]
    vectors = EMBEDDER.embed_passages([c.indexed_text for c in chunks])
    defaults: dict[str, object] = {"content_hash": f"h-{doc_id}", "chunk_count": len(chunks)}
    index.replace_document(DocumentState(key=key, doc_id=doc_id, **{**defaults, **state}), chunks, vectors)  # type: ignore[arg-type]
    return chunks


def search(index: VectorIndex, query: str, **kwargs: object) -> list[str]:
    hits = index.search(query, EMBEDDER.embed_query(query), **kwargs)  # type: ignore[arg-type]
    return [h.chunk.doc_id for h in hits]


CNI = "Pour renouveler votre carte nationale d'identité, présentez-vous en mairie avec une photo."
APL = "L'aide personnalisée au logement est versée par la caisse d'allocations familiales."
RETRAITE = "La retraite anticipée pour carrière longue concerne les salariés ayant commencé tôt."


class IndexContract:
    @pytest.fixture
    def index(self) -> Iterator[VectorIndex]:
        raise NotImplementedError

    @pytest.fixture
    def corpus(self, index: VectorIndex) -> VectorIndex:
        put(index, "fiches/F21089.xml", "F21089", [CNI, "Le délai de fabrication dépend de la demande."])
        put(index, "fiches/F12006.xml", "F12006", [APL])
        put(index, "fiches/F13845.xml", "F13845", [RETRAITE], audience=("particuliers", "professionnels"))
        return index

    def test_hybrid_hits_carry_ranks_and_the_cosine(self, corpus: VectorIndex) -> None:
        # The coverage decision reads them, so every backend must report them alike.
        query = "aide personnalisée au logement"
        (hit,) = corpus.search(query, EMBEDDER.embed_query(query), k=1, mode="hybrid")
        (dense,) = corpus.search(query, EMBEDDER.embed_query(query), k=1, mode="vector")
        assert hit.chunk.doc_id == dense.chunk.doc_id == "F12006"
        assert hit.lexical_rank == 1 and hit.vector_rank == 1
        assert hit.vector_score == pytest.approx(dense.score, abs=1e-5)

    def test_document_chunks_give_chunks_and_vectors_in_order(self, index: VectorIndex) -> None:
        chunks = put(index, "fiches/F2.xml", "F2", [CNI, APL, RETRAITE])
        pairs = index.document_chunks("fiches/F2.xml")
        assert [c for c, _ in pairs] == chunks
        expected = EMBEDDER.embed_passages([c.indexed_text for c in chunks])
        for (_, vector), wanted in zip(pairs, expected, strict=True):
            assert vector == pytest.approx(wanted, abs=1e-6)
        assert index.document_chunks("fiches/absent.xml") == []

    @pytest.mark.parametrize("mode", ["lexical", "vector", "hybrid"])
    def test_replace_then_search_finds_it(self, corpus: VectorIndex, mode: str) -> None:
        assert search(corpus, "aide personnalisée au logement", mode=mode)[0] == "F12006"

    def test_hits_carry_the_whole_chunk(self, corpus: VectorIndex) -> None:
        hit = corpus.search("logement", EMBEDDER.embed_query("logement"), k=1, mode="lexical")[0]
        assert hit.chunk == make_chunks("fiches/F12006.xml", "F12006", [APL])[0]
        assert hit.lexical_rank == 1

    def test_french_stemming_and_accents(self, corpus: VectorIndex) -> None:
        assert search(corpus, "renouvellement", mode="lexical")[0] == "F21089"
        assert search(corpus, "IDENTITE", mode="lexical")[0] == "F21089"
        assert search(corpus, "carriere anticipee", mode="lexical")[0] == "F13845"

    def test_abbreviation_matches_spelled_out_text(self, corpus: VectorIndex) -> None:
        assert search(corpus, "APL", mode="lexical")[0] == "F12006"

    def test_lexical_miss_is_empty(self, corpus: VectorIndex) -> None:
        assert search(corpus, "hélicoptère", mode="lexical") == []
        assert search(corpus, "de la le", mode="lexical") == []

    def test_mentions_a_phrase_only_with_its_terms_in_a_row(self, corpus: VectorIndex) -> None:
        # The coverage decision asks whether the corpus knows a name the question uses (named_things.py).
        assert corpus.mentions("carte nationale d'identité")
        assert corpus.mentions("Caisse d'allocations familiales")  # "caisse d'allocations" in APL
        assert corpus.mentions("carrière longue")  # a passage of two audiences: any audience counts
        assert not corpus.mentions("identité nationale")  # both terms are there, not in a row
        assert not corpus.mentions("hélicoptère")
        assert not corpus.mentions("de la")

    def test_replace_with_fewer_chunks_removes_old_ones(self, corpus: VectorIndex) -> None:
        put(corpus, "fiches/F21089.xml", "F21089", ["Nouvelle version : passeport biométrique."])
        assert corpus.chunk_count() == 3
        assert search(corpus, "délai de fabrication", mode="lexical") == []
        assert search(corpus, "biométrique", mode="lexical") == ["F21089"]

    def test_delete_removes_chunks_and_leaves_tombstone(self, corpus: VectorIndex) -> None:
        assert corpus.delete_document("fiches/F21089.xml", sequencer="0000017F") == 2
        assert corpus.chunk_count() == 2
        assert "F21089" not in search(corpus, "carte d'identité", mode="hybrid")
        state = corpus.document_state("fiches/F21089.xml")
        assert (
            state is not None and state.deleted and state.sequencer == "0000017F" and state.chunk_count == 0
        )
        assert corpus.reusable_vectors("fiches/F21089.xml") == {}

    def test_delete_unknown_key_still_records_tombstone(self, index: VectorIndex) -> None:
        assert index.delete_document("fiches/absent.xml", sequencer="01") == 0
        state = index.document_state("fiches/absent.xml")
        assert state is not None and state.deleted and state.sequencer == "01" and state.embedder == ""

    def test_tombstone_keeps_metadata_and_embedder(self, index: VectorIndex) -> None:
        put(index, "fiches/F4.xml", "F4", [CNI], metadata_json='{"n": 4}', embedder="hashing:64")
        index.delete_document("fiches/F4.xml", sequencer="0C")
        state = index.document_state("fiches/F4.xml")
        assert state is not None and state.deleted
        assert (state.doc_id, state.metadata_json, state.embedder) == ("F4", '{"n": 4}', "hashing:64")

    def test_document_state_round_trip(self, index: VectorIndex) -> None:
        assert index.document_state("fiches/F1.xml") is None
        put(
            index,
            "fiches/F1.xml",
            "F1",
            [CNI],
            etag="abc",
            sequencer="0A",
            metadata_json='{"title": "Carte d\'identité", "n": 1}',
            embedder="hashing:64",
        )
        assert index.document_state("fiches/F1.xml") == DocumentState(
            key="fiches/F1.xml",
            doc_id="F1",
            content_hash="h-F1",
            etag="abc",
            sequencer="0A",
            deleted=False,
            chunk_count=1,
            metadata_json='{"title": "Carte d\'identité", "n": 1}',
            embedder="hashing:64",
        )

    def test_record_state_keeps_chunks(self, index: VectorIndex) -> None:
        chunks = put(index, "fiches/F3.xml", "F3", [CNI, APL], etag="e1", sequencer="0A", embedder="old:64")
        before = index.document_state("fiches/F3.xml")
        assert before is not None and before.embedder == "old:64"
        index.record_state(replace(before, etag="e2", sequencer="0B", embedder="new:64"))
        after = index.document_state("fiches/F3.xml")
        assert after == replace(before, etag="e2", sequencer="0B", embedder="new:64")
        assert set(index.reusable_vectors("fiches/F3.xml")) == {c.text_hash for c in chunks}

    def test_reusable_vectors_map_text_hash_to_vector(self, index: VectorIndex) -> None:
        chunks = put(index, "fiches/F2.xml", "F2", [CNI, APL])
        reusable = index.reusable_vectors("fiches/F2.xml")
        assert set(reusable) == {c.text_hash for c in chunks}
        expected = EMBEDDER.embed_passages([chunks[0].indexed_text])[0]
        assert reusable[chunks[0].text_hash] == pytest.approx(expected, abs=1e-6)

    @pytest.mark.parametrize("mode", ["lexical", "vector", "hybrid"])
    def test_audience_filter(self, corpus: VectorIndex, mode: str) -> None:
        found = search(
            corpus, "retraite logement carte", mode=mode, filters=SearchFilters(audience="professionnels")
        )
        assert found == ["F13845"]
        assert search(corpus, "retraite", mode=mode, filters=SearchFilters(audience="associations")) == []

    @pytest.mark.parametrize("mode", ["lexical", "vector", "hybrid"])
    def test_doc_id_filter(self, corpus: VectorIndex, mode: str) -> None:
        found = search(
            corpus, "carte logement retraite", mode=mode, filters=SearchFilters(doc_ids=("F12006", "F13845"))
        )
        assert set(found) == {"F12006", "F13845"}

    @pytest.mark.parametrize("mode", ["lexical", "vector", "hybrid"])
    def test_k_respected_and_scores_ordered(self, index: VectorIndex, mode: str) -> None:
        for n in range(6):
            put(index, f"fiches/F{n}.xml", f"F{n}", [f"{CNI} Cas numéro {n}.", f"{APL} Variante {n}."])
        hits = index.search(
            "carte identité logement", EMBEDDER.embed_query("carte identité logement"), k=4, mode=mode
        )  # type: ignore[arg-type]
        assert len(hits) == 4
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    def test_documents_lists_states(self, corpus: VectorIndex) -> None:
        corpus.delete_document("fiches/F12006.xml", sequencer="02")
        states = {s.key: s for s in corpus.documents()}
        assert set(states) == {"fiches/F21089.xml", "fiches/F12006.xml", "fiches/F13845.xml"}
        assert states["fiches/F12006.xml"].deleted and not states["fiches/F13845.xml"].deleted

    def test_ping(self, index: VectorIndex) -> None:
        assert index.ping()


class TestEmbeddedIndex(IndexContract):
    @pytest.fixture
    def reopen(self, tmp_path: Path) -> Callable[[], EmbeddedIndex]:
        return lambda: EmbeddedIndex(tmp_path / "index", dimension=DIM)

    @pytest.fixture
    def index(self, reopen: Callable[[], EmbeddedIndex]) -> Iterator[VectorIndex]:
        index = reopen()
        yield index
        index.close()

    def test_persists_in_its_folder(self, corpus: VectorIndex, reopen: Callable[[], EmbeddedIndex]) -> None:
        corpus.close()
        again = reopen()
        try:
            assert again.chunk_count() == 4
            assert search(again, "renouvellement", mode="hybrid")[0] == "F21089"
            assert again.document_state("fiches/F12006.xml") is not None
        finally:
            again.close()

    def test_sees_writes_of_another_connection(
        self, corpus: VectorIndex, reopen: Callable[[], EmbeddedIndex]
    ) -> None:
        # The API process reads while the index worker writes: the reader's matrix must refresh.
        assert search(corpus, "passeport biométrique", mode="vector")[0] != "F9"
        writer = reopen()
        try:
            put(writer, "fiches/F9.xml", "F9", ["Passeport biométrique délivré en urgence."])
            writer.delete_document("fiches/F12006.xml")
        finally:
            writer.close()
        assert search(corpus, "passeport biométrique", mode="vector")[0] == "F9"
        assert "F12006" not in search(corpus, "aide personnalisée au logement", mode="vector")

    def test_opens_an_index_created_without_the_embedder_column(self, tmp_path: Path) -> None:
        folder = tmp_path / "legacy"
        folder.mkdir()
        legacy = sqlite3.connect(folder / DB_NAME)
        legacy.executescript(
            SCHEMA.replace(", embedder TEXT NOT NULL DEFAULT ''", "")
            + "INSERT INTO documents VALUES ('fiches/F1.xml', 'F1', 'h', 'e', '0A', 0, 1, '{}');"
        )
        legacy.commit()
        legacy.close()
        index = EmbeddedIndex(folder, dimension=DIM)
        try:
            assert index.document_state("fiches/F1.xml") == DocumentState(
                key="fiches/F1.xml", doc_id="F1", content_hash="h", etag="e", sequencer="0A", chunk_count=1
            )
            put(index, "fiches/F2.xml", "F2", [APL], embedder="hashing:64")
            state = index.document_state("fiches/F2.xml")
            assert state is not None and state.embedder == "hashing:64"
        finally:
            index.close()
        EmbeddedIndex(folder, dimension=DIM).close()  # already migrated: opening again is a no-op

    def test_rejects_another_dimension(self, corpus: VectorIndex, tmp_path: Path) -> None:
        from guichet.ports.index import IndexBackendError

        with pytest.raises(IndexBackendError):
            EmbeddedIndex(tmp_path / "index", dimension=DIM + 1)


WEAVIATE_URL = os.environ.get("GUICHET_TEST_WEAVIATE_URL", "")


@pytest.mark.weaviate
class TestWeaviateIndex(IndexContract):
    @pytest.fixture
    def index(self) -> Iterator[VectorIndex]:
        if not WEAVIATE_URL:
            pytest.skip("GUICHET_TEST_WEAVIATE_URL not set: the Weaviate adapter contract was not run")
        from guichet.ports.indexes.weaviate import WeaviateIndex

        collection = f"GuichetTest{uuid.uuid4().hex[:12]}"
        grpc_port = int(os.environ.get("GUICHET_TEST_WEAVIATE_GRPC_PORT", "50051"))
        index = WeaviateIndex(WEAVIATE_URL, grpc_port=grpc_port, collection=collection, dimension=DIM)
        try:
            yield index
        finally:
            index.drop()
            index.close()
