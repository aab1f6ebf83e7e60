"""One contract, every Reranker (guichet/ports/reranker.py).

The HTTP reranker runs against guichet.testing.rerank_standin, a local stand-in speaking the TEI and
Albert API request/response shapes: these tests certify the adapter against that stand-in (the shapes
as documented), not against a real TEI or Albert server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guichet.ports.records import Chunk, SearchHit, chunk_uuid
from guichet.ports.reranker import Reranker, RerankerError
from guichet.ports.rerankers.features import FeatureReranker
from guichet.ports.rerankers.http import HttpReranker
from guichet.testing.rerank_standin import RerankStandIn

QUESTION = "À quoi sert l'attestation scolaire de sécurité routière ?"


def hit(doc_id: str, title: str, text: str, rank: int) -> SearchHit:
    chunk = Chunk(
        id=chunk_uuid(doc_id, rank), doc_key=f"service-public/{doc_id}.xml", doc_id=doc_id, ordinal=rank,
        title=title, url=f"https://www.service-public.fr/particuliers/vosdroits/{doc_id}",
        audience=("particuliers",), section="", branch="", kind="text", text=text, context=title,
    )  # fmt: skip
    return SearchHit(chunk, 1.0 / (60 + rank), lexical_rank=rank, vector_rank=rank + 1, vector_score=0.8)


HITS = [
    hit("F34836", "Fichier des auteurs d'infractions", "Le fichier est consulté par les préfectures.", 1),
    hit("F1411", "Légalisation de signature", "La mairie légalise une signature sur présentation.", 2),
    hit(
        "F16548",
        "Attestation scolaire de sécurité routière (ASSR)",
        "L'attestation scolaire de sécurité routière est passée au collège ; elle sert à l'inscription"
        " au permis.",
        3,
    ),
]


class RerankerContract:
    @pytest.fixture
    def reranker(self) -> Iterator[Reranker]:
        raise NotImplementedError

    def test_returns_each_hit_once_best_first(self, reranker: Reranker) -> None:
        ranked = reranker.rerank(QUESTION, HITS)
        assert sorted(h.chunk.id for h in ranked) == sorted(h.chunk.id for h in HITS)
        scores = [h.score for h in ranked]
        assert scores == sorted(scores, reverse=True)

    def test_keeps_ranks_and_cosine(self, reranker: Reranker) -> None:
        by_id = {h.chunk.id: h for h in HITS}
        for ranked in reranker.rerank(QUESTION, HITS):
            given = by_id[ranked.chunk.id]
            assert (ranked.chunk, ranked.lexical_rank, ranked.vector_rank, ranked.vector_score) == (
                given.chunk, given.lexical_rank, given.vector_rank, given.vector_score,
            )  # fmt: skip

    def test_puts_the_passage_that_answers_first(self, reranker: Reranker) -> None:
        assert reranker.rerank(QUESTION, HITS)[0].chunk.doc_id == "F16548"

    def test_no_hits(self, reranker: Reranker) -> None:
        assert reranker.rerank(QUESTION, []) == []


class TestFeatureReranker(RerankerContract):
    @pytest.fixture
    def reranker(self) -> Iterator[Reranker]:
        yield FeatureReranker()


@pytest.fixture(scope="module")
def standin() -> Iterator[RerankStandIn]:
    server = RerankStandIn()
    yield server
    server.close()


class TestTeiReranker(RerankerContract):
    @pytest.fixture
    def reranker(self, standin: RerankStandIn) -> Iterator[Reranker]:
        standin.fail_with = None
        reranker = HttpReranker(standin.url, api="tei")
        yield reranker
        reranker.close()

    def test_sends_passages_with_their_context(self, reranker: Reranker, standin: RerankStandIn) -> None:
        standin.requests.clear()
        reranker.rerank(QUESTION, HITS)
        path, body = standin.requests[-1]
        assert path == "/rerank"
        assert body["query"] == QUESTION
        assert body["texts"] == [h.chunk.indexed_text for h in HITS]

    def test_no_request_without_hits(self, reranker: Reranker, standin: RerankStandIn) -> None:
        standin.requests.clear()
        reranker.rerank(QUESTION, [])
        assert standin.requests == []

    def test_an_error_status_is_a_reranker_error(self, reranker: Reranker, standin: RerankStandIn) -> None:
        standin.fail_with = 503
        with pytest.raises(RerankerError, match="503"):
            reranker.rerank(QUESTION, HITS)


class TestAlbertReranker(RerankerContract):
    @pytest.fixture
    def reranker(self, standin: RerankStandIn) -> Iterator[Reranker]:
        standin.fail_with = None
        reranker = HttpReranker(standin.url + "/v1", api="albert", model="bge-reranker-v2-m3")
        yield reranker
        reranker.close()

    def test_sends_the_albert_shape(self, reranker: Reranker, standin: RerankStandIn) -> None:
        standin.requests.clear()
        reranker.rerank(QUESTION, HITS)
        path, body = standin.requests[-1]
        assert (path, body["prompt"], body["model"]) == ("/v1/rerank", QUESTION, "bge-reranker-v2-m3")
        assert body["input"] == [h.chunk.indexed_text for h in HITS]


def test_an_unreachable_endpoint_is_a_reranker_error() -> None:
    reranker = HttpReranker("http://127.0.0.1:9", api="tei", timeout=1.0)
    with pytest.raises(RerankerError, match="injoignable"):
        reranker.rerank(QUESTION, HITS)


def test_albert_needs_a_model() -> None:
    with pytest.raises(ValueError, match="GUICHET_RERANK_MODEL"):
        HttpReranker("http://127.0.0.1:9/v1", api="albert")
