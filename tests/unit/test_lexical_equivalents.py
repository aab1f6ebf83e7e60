"""Lexical expansion (guichet.lexical.EQUIVALENTS): the fiches' own words are searched for an advisor's.

Each equivalence must be stated by the fiches themselves (one element of a fiche holds both phrases),
and a lexical search through the embedded index finds a fiche by its word for the advisor's.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

from guichet.lexical import EQUIVALENTS, analyze, query_terms
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.records import Chunk, DocumentState, chunk_uuid
from guichet.testing.fake_embedder import HashingEmbedder

FICHES = Path(__file__).resolve().parents[2].parent / "shared" / "fiches" / "xml"


def _holds(terms: list[str], phrase: str) -> bool:
    wanted = analyze(phrase)
    return any(terms[i : i + len(wanted)] == wanted for i in range(len(terms) - len(wanted) + 1))


@pytest.mark.skipif(not FICHES.exists(), reason="../shared/fiches absent")
def test_every_equivalence_is_stated_by_a_fiche() -> None:
    unstated = set(EQUIVALENTS)
    for path in sorted(FICHES.glob("*.xml")):
        for element in ElementTree.parse(path).iter():
            terms = analyze("".join(element.itertext()))
            unstated -= {s for s in unstated if _holds(terms, s) and _holds(terms, EQUIVALENTS[s])}
        if not unstated:
            break
    assert not unstated, f"equivalences no fiche states: {sorted(unstated)}"


def test_query_terms_add_the_fiches_words_once() -> None:
    assert query_terms("Elle vend sa voiture, une vieille voiture") == [
        *analyze("Elle vend sa voiture, une vieille voiture"),
        *analyze("véhicule"),
    ]
    assert query_terms("Elle vend sa maison") == analyze("Elle vend sa maison")


def test_a_lexical_search_finds_the_fiche_by_its_word(tmp_path: Path) -> None:
    embedder = HashingEmbedder(64)
    index = EmbeddedIndex(tmp_path, dimension=64)
    for doc_id, title, text in (
        ("F1707", "Vendre ou donner son véhicule", "Le vendeur remet le certificat de cession du véhicule."),
        ("F1344", "Carte d'identité perdue", "Déclarez la perte en mairie."),
    ):
        key = f"service-public/{doc_id}.xml"
        chunk = Chunk(
            id=chunk_uuid(key, 0), doc_key=key, doc_id=doc_id, ordinal=0, title=title, url="", audience=(
                "particuliers",
            ), section="", branch="", kind="text", text=text, context=title,
        )  # fmt: skip
        state = DocumentState(key=key, doc_id=doc_id, content_hash=doc_id, chunk_count=1)
        index.replace_document(state, [chunk], embedder.embed_passages([chunk.indexed_text]))
    hits = index.search("Elle vend sa voiture : que doit-elle remettre ?", [], k=5, mode="lexical")
    assert [h.chunk.doc_id for h in hits] == ["F1707"]
    index.close()
