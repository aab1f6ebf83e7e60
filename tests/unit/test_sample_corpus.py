"""The sample corpus the project ships: real format, what advisors see most, findable."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from guichet.corpus.loader import parse_document
from guichet.corpus.model import Document
from guichet.indexing.indexer import Indexer
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.testing.fake_embedder import HashingEmbedder

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "guichet" / "samples"
TOPICS = [
    "carte d'identité", "passeport", "permis de conduire", "carte grise", "rsa", "prime d'activité",
    "logement", "retraite", "complémentaire santé solidaire", "impôt sur le revenu", "chèque énergie",
    "maprimerénov", "acte de naissance",
]  # fmt: skip


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    return [
        parse_document(p.name, p.read_bytes(), max_bytes=2_000_000)
        for p in sorted(SAMPLES.glob("fiches/*.xml"))
    ]


def test_at_least_25_fiches_in_schema_3_4(documents: list[Document]) -> None:
    assert len(documents) >= 25
    for path in SAMPLES.glob("fiches/*.xml"):
        assert b"Schemas/3.4/Publication.xsd" in path.read_bytes()[:2000], path.name


def test_topics_advisors_see_most_are_covered(documents: list[Document]) -> None:
    titles = " | ".join(d.title.lower() for d in documents)
    assert [t for t in TOPICS if t not in titles] == []


def test_online_services_questions_and_who_can_help(documents: list[Document]) -> None:
    types = Counter(s.type for d in documents for s in d.services)
    assert types["teleservice"] >= 10 and types["simulateur"] >= 5 and types["formulaire"] >= 5
    assert any(s.cerfa for d in documents for s in d.services)
    assert sum(len(d.questions) for d in documents) >= 50
    assert sum(1 for d in documents if d.contacts) >= 12
    assert {a for d in documents for a in d.audience} == {"particuliers", "professionnels", "associations"}


def test_sample_questions_find_their_fiche_lexically(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    index = EmbeddedIndex(tmp_path, dimension=embedder.dimension)
    indexer = Indexer(index, embedder)
    for path in sorted(SAMPLES.glob("fiches/*.xml")):
        indexer.index_object(f"exemples/{path.name}", path.read_bytes())
    cases = [json.loads(line) for line in (SAMPLES / "questions.jsonl").read_text().splitlines() if line]
    answerable = [c for c in cases if c["expected_sources"]]
    hits = 0
    for case in answerable:
        ranked = list(
            dict.fromkeys(h.chunk.doc_id for h in index.search(case["question"], [], k=30, mode="lexical"))
        )
        hits += bool(set(case["expected_sources"]) & set(ranked[:5]))
    assert len(answerable) >= 25
    assert hits / len(answerable) >= 0.9, f"lexical hit@5 {hits}/{len(answerable)}"
