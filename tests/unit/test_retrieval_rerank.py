"""Reranking through the embedded stack: settings -> Stack -> Retriever -> EmbeddedIndex -> reranker.

The corpus is built so that the index's own order is wrong: the fiche that answers "À quoi sert
l'ASSR ?" (titled with it) mentions the acronym once in a long passage, a fiche about something else
repeats it; BM25 prefers the latter, the embedded reranker's title feature the former.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from guichet import metrics
from guichet.ports.records import Chunk, DocumentState, SearchHit, chunk_uuid
from guichet.ports.rerankers.features import FeatureReranker, FeatureWeights
from guichet.ports.rerankers.http import HttpReranker
from guichet.settings import Settings
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.testing.rerank_standin import RerankStandIn, overlap_score
from guichet.wiring import Stack

QUESTION = "Qu'est-ce que l'ASSR ?"
FICHES = {
    "F34836": (
        "Fichier des auteurs d'infractions",
        "ASSR, ASSR 2, BSR : le fichier liste les titres de l'auteur. Un ASSR perdu ne change rien.",
    ),
    "F16548": (
        "Attestation scolaire de sécurité routière (ASSR)",
        "Elle est passée au collège, en classe de 5e puis de 3e, et sert à l'inscription au permis de"
        " conduire ; un jeune qui ne l'a pas obtenue passe l'ASR dans un centre de formation.",
    ),
    "F1411": ("Légalisation de signature", "La mairie légalise une signature sur présentation d'une pièce."),
}


def chunk(doc_id: str, title: str, text: str) -> Chunk:
    key = f"service-public/{doc_id}.xml"
    return Chunk(
        id=chunk_uuid(key, 0), doc_key=key, doc_id=doc_id, ordinal=0, title=title,
        url=f"https://www.service-public.fr/particuliers/vosdroits/{doc_id}", audience=("particuliers",),
        section="", branch="", kind="text", text=text, context=title,
    )  # fmt: skip


def stack_with(tmp_path: Path, **settings: object) -> Stack:
    embedder = HashingEmbedder(64)
    stack = Stack(Settings(data_dir=tmp_path, **settings), embedder=embedder, announce_writes=False)  # type: ignore[arg-type]
    for doc_id, (title, text) in FICHES.items():
        c = chunk(doc_id, title, text)
        state = DocumentState(key=c.doc_key, doc_id=doc_id, content_hash=doc_id, chunk_count=1)
        stack.index.replace_document(state, [c], embedder.embed_passages([c.indexed_text]))
    return stack


def first_fiche(stack: Stack) -> str:
    return stack.retriever.search(QUESTION, k=3, mode="lexical")[0].chunk.doc_id


@pytest.fixture
def standin() -> Iterator[RerankStandIn]:
    server = RerankStandIn()
    yield server
    server.close()


def test_the_index_alone_puts_the_wrong_fiche_first(tmp_path: Path) -> None:
    stack = stack_with(tmp_path, rerank_embedded=False)
    assert stack.reranker is None
    assert first_fiche(stack) == "F34836"
    stack.close()


def test_the_embedded_reranker_is_the_default_and_puts_the_titled_fiche_first(tmp_path: Path) -> None:
    stack = stack_with(tmp_path)
    assert isinstance(stack.reranker, FeatureReranker)
    assert first_fiche(stack) == "F16548"
    stack.close()


def test_a_rerank_url_selects_the_http_reranker(tmp_path: Path, standin: RerankStandIn) -> None:
    stack = stack_with(tmp_path, rerank_url=standin.url, rerank_api="tei")
    assert isinstance(stack.reranker, HttpReranker)
    hits = stack.retriever.search(QUESTION, k=3)
    assert [path for path, _ in standin.requests] == ["/rerank"]
    assert [h.score for h in hits] == [overlap_score(QUESTION, h.chunk.indexed_text) for h in hits]
    assert hits[-1].chunk.doc_id == "F1411"  # shares no term with the question: the stand-in's last
    stack.close()


def test_a_failing_reranker_keeps_the_index_order(tmp_path: Path, standin: RerankStandIn) -> None:
    standin.fail_with = 503
    stack = stack_with(tmp_path, rerank_url=standin.url)
    before = metrics.RERANK_FAILURES._value.get()
    assert first_fiche(stack) == "F34836"
    assert metrics.RERANK_FAILURES._value.get() == before + 1
    stack.close()


def test_hits_past_the_rerank_depth_keep_the_index_order(tmp_path: Path) -> None:
    stack = stack_with(tmp_path, rerank_depth=1)
    plain = stack_with(tmp_path / "plain", rerank_embedded=False)
    reranked = [h.chunk.doc_id for h in stack.retriever.search(QUESTION, k=3, mode="lexical")]
    assert reranked == [h.chunk.doc_id for h in plain.retriever.search(QUESTION, k=3, mode="lexical")]
    stack.close()
    plain.close()


def test_a_title_holding_the_question_s_words_in_a_row_moves_up() -> None:
    # "carte d'identité": the title that holds both words in a row, not "Carte" alone (ADR 0032)
    question = "Elle a perdu sa carte d'identité, combien coûte la nouvelle ?"
    vitale = chunk("F265", "Carte Vitale", "Perdue ou volée : la carte Vitale se refait en ligne.")
    minor = chunk("F1794", "Carte nationale d'identité d'un mineur : en cas de vol", "Déclarez le vol.")
    adult = chunk("F1344", "Carte d'identité d'un majeur : en cas de perte", "Déclarez la perte en mairie.")
    hits = [SearchHit(c, 1.0) for c in (vitale, adult, minor)]
    words_only = FeatureReranker(FeatureWeights(pairs=0.0)).rerank(question, hits)
    assert [h.chunk.doc_id for h in words_only] == ["F265", "F1344", "F1794"]
    assert [h.chunk.doc_id for h in FeatureReranker().rerank(question, hits)] == ["F1344", "F265", "F1794"]


@pytest.mark.parametrize(
    ("question", "first"),
    [
        ("Son passeport a expiré, comment le renouveler ?", "F21091"),  # the citizen is the adult
        ("Le passeport de son fils a expiré, comment le renouveler ?", "F21092"),  # a child is named
    ],
)
def test_the_fiche_for_minors_yields_unless_a_child_is_named(question: str, first: str) -> None:
    minor = chunk("F21092", "Renouvellement du passeport d'un mineur", "Le passeport de l'enfant.")
    adult = chunk("F21091", "Renouvellement du passeport d'un majeur", "Votre passeport.")
    hits = [SearchHit(c, 1.0) for c in (minor, adult)]
    unweighted = FeatureReranker(FeatureWeights(minor=0.0)).rerank(question, hits)
    assert unweighted[0].chunk.doc_id == "F21092"
    assert FeatureReranker().rerank(question, hits)[0].chunk.doc_id == first
