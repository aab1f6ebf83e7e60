"""Practical links (filtered by the chosen case), helpers and related questions from the cited fiches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from guichet.answer.evidence import DocumentMeta, Extract
from guichet.answer.links import helpers, practical_links
from guichet.answer.related import related_questions
from guichet.answer.situation import on_path
from guichet.corpus.chunking import chunk_document
from guichet.corpus.fiche import parse_fiche
from guichet.corpus.model import Contact, Document, Link, OnlineService, RelatedQuestion
from guichet.indexing.indexer import document_metadata
from guichet.ports.records import Chunk

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "src" / "guichet" / "samples" / "fiches"
F1420 = ROOT.parent / "shared" / "fiches" / "xml" / "F1420.xml"
CASIER_TELESERVICE = "https://casier-judiciaire.justice.gouv.fr/pages/accueil.xhtml"
CASIER_FORM = "https://www.formulaires.service-public.fr/gf/cerfa_10071.do"


def extracts_of(
    doc: Document, pick: Callable[[Chunk], bool] = lambda c: True, start: int = 1
) -> list[Extract]:
    meta = DocumentMeta.from_metadata_json(document_metadata(doc))
    chunks = [c for c in chunk_document(doc, f"service-public/{doc.id}.xml") if pick(c)]
    return [Extract(i + 1, c, 1.0, meta) for i, c in enumerate(chunks)]


def sample(fiche_id: str) -> Document:
    return parse_fiche((SAMPLES / f"{fiche_id}.xml").read_bytes())


@pytest.mark.parametrize(
    ("service", "chosen", "kept"),
    [
        ("", "A > B", True),
        ("A > B", "", True),
        ("A", "A > B", True),
        ("A > B", "A", True),
        ("A > B", "A > B", True),
        ("A > C", "A > B", False),
        ("D", "A", False),
    ],
)
def test_a_service_is_on_the_branch_when_on_its_path(service: str, chosen: str, kept: bool) -> None:
    assert on_path(service, chosen) is kept


@pytest.mark.skipif(not F1420.is_file(), reason=f"real fiche absent ({F1420})")
@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        ("Né à l'étranger > Par courrier", {CASIER_FORM}),
        ("Né à l'étranger > En ligne", {CASIER_TELESERVICE}),
        ("Né à l'étranger", {CASIER_TELESERVICE, CASIER_FORM}),
        ("", {CASIER_TELESERVICE, CASIER_FORM}),
    ],
)
def test_real_fiche_links_follow_the_chosen_case(chosen: str, expected: set[str]) -> None:
    cited = extracts_of(parse_fiche(F1420.read_bytes()))[:1]
    links = practical_links(cited, {"F1420": chosen})
    fiche_wide = "https://casier-judiciaire.justice.gouv.fr/mai-web-b3-presentation/pages/validationB3Neant/accueil.xhtml"
    assert {link.url for link in links} == expected | {fiche_wide}
    assert len(links) == len({link.url for link in links})
    form = next((link for link in links if link.url == CASIER_FORM), None)
    if form is not None:
        assert (form.type, form.cerfa, form.source) == ("formulaire", "10071*14", "F1420")


def test_sample_links_are_deduplicated_and_teleservices_come_first() -> None:
    cited = extracts_of(sample("F1341"))[:1]
    links = practical_links(cited, {})
    urls = [link.url for link in links]
    assert len(urls) == len(set(urls)) == len({s.url for s in cited[0].document.services})
    order = {"teleservice": 0, "simulateur": 1, "formulaire": 2}
    assert [order[link.type] for link in links] == sorted(order[link.type] for link in links)


def test_services_of_the_other_case_are_dropped_on_a_sample() -> None:
    cited = extracts_of(sample("F1427"), lambda c: c.branch == "Vous êtes né à l'étranger")
    (link,) = practical_links(cited, {"EX-F1427": "Vous êtes né à l'étranger"})
    assert link.url.endswith("/R42970") and link.source == "EX-F1427"


def _extract(n: int, meta: DocumentMeta) -> Extract:
    chunk = Chunk(f"c{n}", meta.id, meta.id, 0, meta.title, meta.url, ("particuliers",), "", "", "x", "texte")
    return Extract(n, chunk, 1.0, meta)


def test_autre_services_are_mapped_and_links_are_capped() -> None:
    many = [
        OnlineService(f"R{i}", "teleservice", f"Service {i}", f"https://s{i}.gouv.fr/") for i in range(12)
    ]
    services = (
        *many,
        OnlineService(
            "R90", "autre", "Attestation d'hébergement", "https://www.service-public.gouv.fr/x/R90"
        ),
        OnlineService("R91", "autre", "Trouver un artisan", "https://france-renov.gouv.fr/annuaire"),
    )
    meta = DocumentMeta(id="F1", services=services)
    assert len(practical_links([_extract(1, meta)], {})) == 8
    mapped = practical_links([_extract(1, DocumentMeta(id="F1", services=services[-2:]))], {})
    assert [(link.type, link.url) for link in mapped] == [
        ("teleservice", "https://france-renov.gouv.fr/annuaire"),
        ("formulaire", "https://www.service-public.gouv.fr/x/R90"),
    ]


def test_helpers_skip_further_reading_and_duplicates() -> None:
    contacts = (
        Contact("France services", "Local personnalisé sur SP", "https://lannuaire.service-public.fr/"),
        Contact("France services", "Local personnalisé sur SP", "https://lannuaire.service-public.fr/"),
        Contact("Guide de l'ANTS", "Information pratique", "https://ants.gouv.fr/guide"),
        Contact("Casier judiciaire national", "Centre de contact", ""),
    )
    found = helpers([_extract(1, DocumentMeta(id="F9", contacts=contacts))])
    assert [(h.title, h.source) for h in found] == [
        ("France services", "F9"),
        ("Casier judiciaire national", "F9"),
    ]


def test_sample_helpers_come_from_the_cited_fiches_only() -> None:
    cited = extracts_of(sample("F12118"))[:1]
    found = helpers(cited)
    assert found and {h.source for h in found} == {"EX-F12118"}
    assert {h.title for h in found} == {c.title for c in sample("F12118").contacts}


# -- related questions --------------------------------------------------------------------------------
def test_related_questions_come_from_the_fiches_ranked_by_closeness() -> None:
    extracts = extracts_of(sample("F12118"))
    related = related_questions("Dans quel délai vais-je recevoir ma carte grise ?", extracts)
    ids = [q.id for q in related]
    assert ids[0] == "F11475"  # "Dans quel délai reçoit-on sa carte grise ... ?"
    assert set(ids) == {"F16536", "F11475", "F1028", "EX-F90040"}  # QuestionReponse + VoirAussi
    assert all(q.url.endswith(q.id) for q in related if not q.id.startswith("EX-"))
    assert [q.url for q in related if q.id.startswith("EX-")] == [""], "a sample has no service-public page"


def test_related_questions_are_deduplicated_excluded_and_limited() -> None:
    questions = (
        RelatedQuestion("F2", "Comment renouveler son passeport ?", "https://sp/F2"),
        RelatedQuestion("F3", "Comment  renouveler son PASSEPORT ?", "https://sp/F3"),
        RelatedQuestion("F4", "Quel est le prix du passeport ?", "https://sp/F4"),
        RelatedQuestion("F5", "Que faire en cas de perte ?", "https://sp/F5"),
    )
    first = DocumentMeta(id="F1", questions=questions, see_also=(Link("Passeport", "https://sp/F2", "F2"),))
    qr = DocumentMeta(id="F6", title="Quel est le délai pour un passeport ?", url="https://sp/F6",
                      fiche_type="Fiche Question-réponse")  # fmt: skip
    extracts = [_extract(1, first), _extract(2, qr)]
    related = related_questions("Combien coûte le passeport ?", extracts, exclude={"F4"})
    assert [q.id for q in related] == ["F2", "F6", "F5"]
    assert len(related_questions("passeport", extracts, limit=2)) == 2
    asked = related_questions("Comment renouveler son passeport ?", extracts)
    assert "F2" not in [q.id for q in asked] and "F3" not in [q.id for q in asked]
