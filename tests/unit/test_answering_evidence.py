"""Evidence: metadata read back from the index, duplicates, limits, and the branch that fits the situation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from guichet.answer.evidence import DocumentMeta, Extract, chosen_branches, gather_evidence
from guichet.answer.situation import situation_order
from guichet.corpus.chunking import chunk_document
from guichet.corpus.fiche import parse_fiche
from guichet.corpus.model import Document
from guichet.indexing.indexer import Indexer, document_metadata
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.records import Chunk, DocumentState, SearchHit
from guichet.testing.fake_embedder import HashingEmbedder

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "src" / "guichet" / "samples" / "fiches"
F1420 = ROOT.parent / "shared" / "fiches" / "xml" / "F1420.xml"
needs_f1420 = pytest.mark.skipif(not F1420.is_file(), reason=f"real fiche absent ({F1420})")


def sample(fiche_id: str) -> Document:
    return parse_fiche((SAMPLES / f"{fiche_id}.xml").read_bytes())


class CountingIndex(EmbeddedIndex):
    def __init__(self, path: Path, *, dimension: int) -> None:
        super().__init__(path, dimension=dimension)
        self.state_reads: list[str] = []

    def document_state(self, key: str) -> DocumentState | None:
        self.state_reads.append(key)
        return super().document_state(key)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[CountingIndex]:
    embedder = HashingEmbedder()
    index = CountingIndex(tmp_path / "index", dimension=embedder.dimension)
    indexer = Indexer(index, embedder)
    for path in [*sorted(SAMPLES.glob("*.xml")), *([F1420] if F1420.is_file() else [])]:
        indexer.index_object(f"service-public/{path.name}", path.read_bytes())
    index.state_reads.clear()
    yield index
    index.close()


def chunks_of(doc: Document) -> list[Chunk]:
    return chunk_document(doc, f"service-public/{doc.id}.xml")


def hits(chunks: list[Chunk]) -> list[SearchHit]:
    return [SearchHit(c, 1.0 - i / 100) for i, c in enumerate(chunks)]


# -- DocumentMeta -----------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["{}", "", "not json", "[]", '{"services": "x", "questions": [1, null]}'])
def test_metadata_is_read_tolerantly(raw: str) -> None:
    meta = DocumentMeta.from_metadata_json(raw)
    assert meta.id == "" and meta.services == () and meta.questions == ()


def test_metadata_round_trips_through_the_index_json() -> None:
    doc = sample("F12118")
    assert DocumentMeta.from_metadata_json(document_metadata(doc)) == DocumentMeta.from_document(doc)


def test_an_unknown_service_type_becomes_autre() -> None:
    raw = json.dumps({"services": [{"type": "hologramme", "url": "https://x.fr", "title": "X"}]})
    (service,) = DocumentMeta.from_metadata_json(raw).services
    assert service.type == "autre" and service.url == "https://x.fr" and service.branch == ""


def test_question_reponse_fiches_are_recognised() -> None:
    assert DocumentMeta(fiche_type="Fiche Question-réponse conditionnée").is_question
    assert not DocumentMeta(fiche_type="Fiche d'information").is_question


# -- gather_evidence ---------------------------------------------------------------------------------
def test_evidence_is_numbered_deduplicated_and_limited(index: CountingIndex) -> None:
    embedder = HashingEmbedder()
    question = "changer l'adresse de la carte grise après un déménagement"
    found = index.search(question, embedder.embed_query(question), k=8)
    extracts = gather_evidence([*found, *found], index, limit=5)
    assert [e.n for e in extracts] == [1, 2, 3, 4, 5]
    assert [e.chunk.id for e in extracts] == [h.chunk.id for h in found[:5]]
    assert len(set(index.state_reads)) == len(index.state_reads), "one metadata read per document"
    first = extracts[0]
    assert first.doc_id == "EX-F12118" and first.document.services and first.title == first.chunk.title


def test_a_document_without_metadata_falls_back_on_its_chunk(index: CountingIndex) -> None:
    chunk = Chunk(
        "c1", "ailleurs/guide.md", "ailleurs/guide.md", 0, "Guide", "", ("particuliers",), "", "", "x", "t"
    )
    (extract,) = gather_evidence([SearchHit(chunk, 0.5)], index, limit=3)
    assert (extract.doc_id, extract.title, extract.document.audience) == (
        "ailleurs/guide.md",
        "Guide",
        ("particuliers",),
    )


def test_the_matching_branch_comes_first_and_the_contradicted_one_last(index: CountingIndex) -> None:
    chunks = chunks_of(sample("F1427"))
    france = [c for c in chunks if c.branch.startswith("Vous êtes né en France")]
    abroad = [c for c in chunks if c.branch == "Vous êtes né à l'étranger"]
    intro = chunks[0]
    ordered = [france[0], intro, abroad[0], france[1]]
    extracts = gather_evidence(
        hits(ordered), index, limit=10, situation="Elle est née à l'étranger, au Maroc."
    )
    assert [e.chunk.id for e in extracts] == [abroad[0].id, intro.id, france[0].id, france[1].id]
    assert [e.n for e in extracts] == [1, 2, 3, 4]
    assert [e.matches_situation for e in extracts] == [True, False, False, False]
    assert chosen_branches(extracts) == {"EX-F1427": "Vous êtes né à l'étranger"}
    # Without a situation, retrieval order stands.
    plain = gather_evidence(hits(ordered), index, limit=10)
    assert [e.chunk.id for e in plain] == [c.id for c in ordered]
    assert chosen_branches(plain) == {"EX-F1427": ""}, "two sibling cases shown, none chosen"
    alone = gather_evidence(hits([france[1], intro, france[0]]), index, limit=10)
    assert chosen_branches(alone) == {"EX-F1427": france[1].branch}, "one case shown: the answer follows it"


def test_a_contradicted_branch_is_what_the_limit_cuts(index: CountingIndex) -> None:
    chunks = chunks_of(sample("F12118"))
    new_plate = next(c for c in chunks if c.branch == "Immatriculation au format AA-123-AA")
    old_plate = next(c for c in chunks if c.branch == "Immatriculation au format 123 ABC 45")
    extracts = gather_evidence(
        hits([new_plate, old_plate, chunks[0]]), index, limit=2, situation="vieille plaque 123 ABC 45"
    )
    assert [e.chunk.id for e in extracts] == [old_plate.id, chunks[0].id]


def test_a_situation_that_names_no_branch_changes_nothing(index: CountingIndex) -> None:
    chunks = chunks_of(sample("F1427"))
    extracts = gather_evidence(hits(chunks), index, limit=20, situation="Monsieur a 45 ans, il est pressé.")
    assert [e.chunk.id for e in extracts] == [c.id for c in chunks]
    assert not any(e.matches_situation for e in extracts)


@needs_f1420
def test_real_fiche_nested_cases_follow_the_situation(index: CountingIndex) -> None:
    chunks = chunks_of(parse_fiche(F1420.read_bytes()))
    procedure = [c for c in chunks if c.section == "Procédure"]
    assert [c.branch for c in procedure] == [
        "Né en métropole > En ligne",
        "Né en métropole > Par courrier",
        "Né à l'étranger > En ligne",
        "Né à l'étranger > Par courrier",
    ]
    situation = "Née à l'étranger (Maroc), elle préfère envoyer sa demande par courrier."
    extracts = gather_evidence(hits(procedure), index, limit=2, situation=situation)
    assert extracts[0].branch == "Né à l'étranger > Par courrier" and extracts[0].matches_situation
    assert chosen_branches(extracts) == {"F1420": "Né à l'étranger > Par courrier"}


def test_chosen_branch_is_that_of_the_first_extract_of_each_fiche() -> None:
    a, b = chunks_of(sample("F1427"))[:2]
    c = chunks_of(sample("F12118"))[2]
    extracts = [
        Extract(2, a, 0.5, DocumentMeta(id="EX-F1427")),
        Extract(1, c, 0.9, DocumentMeta(id="EX-F12118")),
        Extract(3, b, 0.4, DocumentMeta(id="EX-F1427")),
    ]
    assert chosen_branches(extracts) == {"EX-F1427": a.branch, "EX-F12118": c.branch}


def _branch_chunk(n: int, branch: str, doc_id: str = "F1") -> Chunk:
    return Chunk(f"c{n}", doc_id, doc_id, n, "T", "", ("particuliers",), "", branch, "branch", "texte")


def test_ages_are_matched_by_arithmetic_not_by_shared_words() -> None:
    # "30 ans" shares "ans" with both labels; only the range decides.
    chunks = [_branch_chunk(0, "Vous avez moins de 25 ans"), _branch_chunk(1, "Vous avez 25 ans ou plus")]
    assert situation_order(chunks, "Il a 30 ans.") == [(1, True), (0, False)]
    assert situation_order(chunks, "Elle a 19 ans.") == [(0, True), (1, False)]
    assert situation_order(chunks, "Il a moins de 25 ans.") == [(0, True), (1, False)]


@pytest.mark.parametrize(
    ("situation", "labels", "expected"),
    [
        ("Il vend sa voiture", ("Vous vendez un véhicule", "Vous vendez un bateau"), 0),
        ("Elle est née au Maroc", ("Vous êtes né en France", "Vous êtes né à l'étranger"), 1),
        ("Il est né en Bretagne", ("Vous êtes né à l'étranger", "Vous êtes né en France"), 1),
        ("Ils habitent en Espagne", ("Vous résidez en France", "Vous résidez à l'étranger"), 1),
        ("Elle est au chômage", ("Vous êtes salarié", "Vous êtes demandeur d'emploi"), 1),
        ("Il a un CDI", ("Vous êtes salarié", "Vous êtes demandeur d'emploi"), 0),
        (
            "Carte périmée, il n'a pas de passeport",
            ("Vous avez un passeport", "Vous n'avez pas de passeport"),
            1,
        ),
        (
            "Il a un passeport, sa carte est perdue",
            ("Vous n'avez pas de passeport", "Vous avez un passeport"),
            1,
        ),
        ("Arrêt maladie de 2 mois", ("Arrêt de plus de 3 mois", "Arrêt de 30 jours à 3 mois"), 1),
    ],
)
def test_the_case_is_chosen_by_meaning(situation: str, labels: tuple[str, str], expected: int) -> None:
    chunks = [_branch_chunk(i, label) for i, label in enumerate(labels)]
    assert situation_order(chunks, situation)[0] == (expected, True)


def test_only_siblings_of_the_same_fiche_contradict_each_other() -> None:
    chunks = [
        _branch_chunk(0, "Vous êtes salarié", "F1"),
        _branch_chunk(1, "Vous êtes fonctionnaire", "F2"),
        _branch_chunk(2, "Vous êtes fonctionnaire", "F1"),
    ]
    # F1's matching case takes F1's first place; its salarié case, contradicted, goes last.
    assert situation_order(chunks, "fonctionnaire territorial") == [(2, True), (1, True), (0, False)]


@needs_f1420
def test_a_fiche_retrieved_only_by_its_common_text_is_judged_on_all_its_cases(index: CountingIndex) -> None:
    # Only the fiche's opening passage (outside any case) was retrieved: its cases are read from the index.
    chunks = chunks_of(parse_fiche(F1420.read_bytes()))
    opening = [c for c in chunks if not c.branch][:1]
    extracts = gather_evidence(hits(opening), index, limit=3, situation="Il est né au Maroc")
    assert extracts[0].branch.startswith("Né à l'étranger") and extracts[0].matches_situation
    assert chosen_branches(extracts)["F1420"].startswith("Né à l'étranger")


def test_a_passage_opening_on_the_end_of_the_one_before_is_marked(index: CountingIndex) -> None:
    # F33667's table is cut in two windows: the second opens on "7 850 € ; Moins de 1,5 UC : 98 € ; …",
    # the end of a row whose first cells are in the first window.
    chunks = [chunk for chunk, _ in index.document_chunks("service-public/F33667.xml")]
    cut = next(c for c in chunks if c.text.startswith("7 850 € ; Moins de 1,5 UC"))
    whole = next(c for c in chunks if c.ordinal > 0 and "\n" in c.text and c.section != cut.section)
    extracts = gather_evidence(hits([cut, whole]), index, limit=5)
    assert [(e.chunk.id, e.continues) for e in extracts] == [(cut.id, True), (whole.id, False)]
