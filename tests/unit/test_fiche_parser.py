"""Fiche parser: the whole shared corpus, a few real fiches in detail, and hostile XML."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from guichet.corpus.errors import DocumentError
from guichet.corpus.fiche import parse_fiche
from guichet.corpus.model import Document

FICHES = Path(__file__).resolve().parents[2].parent / "shared" / "fiches"
needs_corpus = pytest.mark.skipif(not FICHES.is_dir(), reason=f"shared fiches corpus absent ({FICHES})")
ALL_FILES = sorted(FICHES.glob("xml*/*.xml")) if FICHES.is_dir() else []


def _load(relative: str) -> Document:
    return parse_fiche((FICHES / relative).read_bytes())


def _count(tag: str, raw: str) -> int:
    # Independent of the parser: opening tags only ("<ServiceEnLigneAnnexe" must not count).
    return len(re.findall(rf"<{tag}[\s/>]", raw))


def _manifest() -> dict[str, dict[str, str]]:
    with (FICHES / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle, delimiter="\t")}


# -- the whole corpus -------------------------------------------------------------------------
@needs_corpus
def test_corpus_is_there() -> None:
    assert len(ALL_FILES) == 411


@needs_corpus
@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fiche_parses_with_exact_service_and_question_counts(path: Path) -> None:
    raw = path.read_bytes()
    doc = parse_fiche(raw)
    text = raw.decode("utf-8")
    assert doc.id == path.stem
    assert doc.title
    assert doc.blocks, "every fiche, dossier and theme yields at least one block"
    assert len(doc.services) == _count("ServiceEnLigne", text)
    assert len(doc.questions) == _count("QuestionReponse", text)
    assert all(q.id and q.question and q.url.endswith(q.id) for q in doc.questions)
    assert all(b.text.strip() for b in doc.blocks)


@needs_corpus
def test_counts_match_the_manifest() -> None:
    manifest = _manifest()
    assert len(manifest) == 403
    for name, row in manifest.items():
        raw = (FICHES / name).read_bytes()
        doc, text = parse_fiche(raw), raw.decode("utf-8")
        assert len(doc.services) == int(row["n_ServiceEnLigne"]) == _count("ServiceEnLigne", text), name
        assert len(doc.questions) == int(row["n_QuestionReponse"]) == _count("QuestionReponse", text), name
        assert doc.date_modified == row["date_modified"], name
        assert doc.title == " ".join(row["title"].split()), name
        assert "|".join(doc.audience) == row["audience"].lower(), name


# -- real fiches in detail --------------------------------------------------------------------
@needs_corpus
def test_f21258_metadata() -> None:
    doc = _load("xml-3.4/F21258.xml")
    assert doc.url == "https://www.service-public.gouv.fr/particuliers/vosdroits/F21258"
    assert doc.audience == ("particuliers",)
    assert doc.fiche_type == "Fiche Question-réponse conditionnée"
    assert doc.date_modified == "2025-06-06"
    assert doc.subject == "Papiers - Citoyenneté - Élections"
    assert doc.breadcrumb[0] == "Accueil particuliers" and doc.breadcrumb[-1] == doc.title
    assert doc.questions[0].url == "https://www.service-public.gouv.fr/particuliers/vosdroits/F34752"


@needs_corpus
def test_f21258_nested_cases_are_separate_branches() -> None:
    doc = _load("xml-3.4/F21258.xml")
    branches = {b.branch: b for b in doc.blocks if b.kind == "branch"}
    first_case = ("En France", "En ligne", "1er cas : vous allez faire une pré-demande sur le site de l'ANTS")
    assert "à la fin de la procédure" in branches[first_case].text
    assert "bureau de tabac" in branches[("En France", "Dans un bureau de tabac")].text
    assert "en espèces" in branches[("À l'étranger",)].text
    assert "en espèces" not in branches[first_case].text
    # The text after the nested BlocCas still belongs to the "En France" situation.
    after = [b for b in doc.blocks if b.branch == ("En France",) and "valable 1 an" in b.text]
    assert len(after) == 1


@needs_corpus
def test_f21258_services_carry_their_branch() -> None:
    doc = _load("xml-3.4/F21258.xml")
    by_branch = {(s.id, s.branch) for s in doc.services}
    first_case = "En France > En ligne > 1er cas : vous allez faire une pré-demande sur le site de l'ANTS"
    assert ("R42946", first_case) in by_branch
    assert ("R39812", "À l'étranger") in by_branch
    assert ("R39812", "") in by_branch  # the fiche-wide list at the end
    assert all(s.type == "teleservice" for s in doc.services)
    assert doc.services[0].institution == "Agence nationale des titres sécurisés (ANTS)"


@needs_corpus
def test_conditions_become_readable_through_the_questionnaire() -> None:
    doc = _load("xml/F14128.xml")
    tenant = [b for b in doc.blocks if b.branch[:1] == ("Locataire",)]
    assert tenant and all(b.condition == "Vous êtes locataire" for b in tenant)


@needs_corpus
def test_qui_peut_m_aider_contacts() -> None:
    caf = _load("xml-3.4/F20218.xml").contacts
    assert [c.title for c in caf] == [
        "Caisse d'allocations familiales (Caf)",
        "Mutualité sociale agricole (MSA)",
    ]
    assert caf[0].kind == "Local personnalisé sur SP"
    assert caf[0].url == "http://www.caf.fr/allocataires/ma-caf-recherche/"
    assert caf[0].text == "Si vous dépendez du régime général"
    contact = _load("xml-3.4/F35445.xml").contacts[0]
    assert contact.title == "France Travail pour demandeurs d'emploi - 3949"
    assert contact.kind == "Centre de contact"
    assert "39 49" in contact.text and "https://www1.pole-emploi.fr/faq/contactezNous" in contact.text


@needs_corpus
def test_table_rendered_one_line_per_row() -> None:
    doc = _load("xml/F10027.xml")
    text = "\n".join(b.text for b in doc.blocks)
    assert "Plafond de ressources pour l'attribution de la CSS gratuite\n" in text
    assert "Composition du foyer : 1 personne ; Plafond annuel de ressources : 9 032 €\n" in text


@needs_corpus
def test_a_cell_merged_down_holds_for_each_row_it_covers_and_stacked_headers_name_their_columns() -> None:
    # Read cell after cell, the second row of 1959 began "Année de naissance : 60 ans ; Âge de départ
    # à la retraite envisagé (à partir de) : 167", and the two columns under "Durée d'assurance minimale
    # en début de carrière" did not say which birth months they are for.
    text = "\n".join(b.text for b in _load("xml/F13845.xml").blocks)
    assert (
        "Année de naissance : 1959 ; Âge de départ à la retraite envisagé (à partir de) : 60 ans ;"
        " Durée d'assurance minimale cotisée (en trimestres) : 167 ;"
        " Durée d'assurance minimale en début de carrière – Si vous êtes né entre janvier et septembre :"
        " 5 trimestres à la fin de l'année des 20 ans ;"
        " Durée d'assurance minimale en début de carrière – Si vous êtes né entre octobre et décembre :"
        " 4 trimestres à la fin de l'année des 20 ans\n"
    ) in text
    assert "Année de naissance : 60 ans" not in text


@needs_corpus
def test_a_header_merged_down_past_the_header_rows_hides_no_row() -> None:
    text = "\n".join(b.text for b in _load("xml/F10027.xml").blocks)
    assert (
        "Foyer Nombre de personnes : 1 personne ; Plafond annuel de ressources : Entre 9 032 € et 12 193 €"
        in text
    )


@needs_corpus
def test_a_cell_across_columns_of_different_headers_is_named_by_both() -> None:
    text = "\n".join(b.text for b in _load("xml/F19211.xml").blocks)
    assert (
        "Nouvelle région / Ancienne région : Bretagne ; Montant de la taxe régionale pour 1 CV : 51 €" in text
    )


@needs_corpus
def test_formulaire_cerfa_and_notice() -> None:
    services = {s.id: s for s in _load("xml/F1050.xml").services}
    cerfa = services["R13567"]
    assert cerfa.type == "formulaire"
    assert cerfa.cerfa == "13750*07"
    assert cerfa.notice_url.startswith("https://www.formulaires.service-public.fr/gf/getNotice.do")
    assert services["R1417"].cerfa == "13753*04"


@needs_corpus
def test_notes_keep_their_path_and_prefix() -> None:
    doc = _load("xml/F10009.xml")
    notes = [b for b in doc.blocks if b.kind == "note" and "60e anniversaire" in b.text]
    assert [n.branch for n in notes] == [("Apa à domicile",), ("Apa en établissement",)]
    note = notes[0]
    assert note.text.startswith("À noter : la personne qui perçoit")
    assert note.title_path == ("Conditions", "Condition d'âge")
    assert note.branch == ("Apa à domicile",)
    assert any(b.kind == "note" and b.text.startswith("Attention : ") for b in doc.blocks)


@needs_corpus
def test_links_inline_and_collected() -> None:
    doc = _load("xml/F10009.xml")
    url = "https://www.pour-les-personnes-agees.gouv.fr/beneficier-daides/les-aides-domicile/les-aides-des-caisses-de-retraite"
    assert any(f"Aides des caisses de retraite ({url})" in b.text for b in doc.blocks)
    assert any(link.url == url and not link.target_id for link in doc.links)
    aggir = [link for link in doc.links if link.target_id == "F1229"]
    assert aggir and aggir[0].url == "https://www.service-public.fr/particuliers/vosdroits/F1229"
    assert aggir[0].title == "grille Aggir"
    # Internal links stay plain text: no fiche URL inside the prose.
    assert not any("vosdroits/F1229" in b.text for b in doc.blocks)


@needs_corpus
def test_references_definitions_see_also() -> None:
    doc = _load("xml-3.4/F21258.xml")
    assert doc.references[0].url == "https://www.legifrance.gouv.fr/codes/id/LEGIARTI000038715072/"
    assert doc.references[0].note.startswith("Remises accordées")
    assert doc.definitions[0].term == "Identification avec FranceConnect"
    see_also = _load("xml/N358.xml").see_also
    assert see_also[0].target_id == "N360" and see_also[0].title == "Passeport"


@needs_corpus
def test_professionnels_and_theme_pages() -> None:
    pro = _load("xml/N16178.xml")
    assert pro.audience == ("professionnels",)
    assert pro.url == "https://www.service-public.fr/professionnels-entreprises/vosdroits/N16178"
    theme = _load("xml/N19804.xml")
    assert theme.fiche_type == "Theme" and theme.subject == "Étranger"
    assert any(
        b.title_path == ("Étranger en France",) and "- Entrée en France" in b.text for b in theme.blocks
    )


# -- synthetic fiche: precise behaviours --------------------------------------------------------
SYNTHETIC = """<?xml version="1.0" encoding="UTF-8"?>
<Publication xmlns:dc="http://purl.org/dc/elements/1.1/" ID="F99999" type="Fiche d'information">
  <dc:title>Fiche de test</dc:title>
  <dc:date>modified 2024-01-02</dc:date>
  <Audience>Professionnels</Audience>
  <Audience>Associations</Audience>
  <Questionnaire><Question><Titre><Paragraphe>Q</Paragraphe></Titre>
    <Choix><Titre><Paragraphe>Oui</Paragraphe></Titre>
      <IntituleSiSelectionne><Paragraphe>Vous êtes salarié</Paragraphe></IntituleSiSelectionne>
      <SiSelectionne><affecteVrai var="T1"/></SiSelectionne></Choix>
  </Question></Questionnaire>
  <ListeSituations>
    <Situation>
      <Titre>Salarié</Titre>
      <Condition><estVrai var="T1"/></Condition>
      <Texte>
        <BlocCas>
          <Cas><Titre>CDD</Titre><Paragraphe>Texte  du
             CDD <Valeur>100 €</Valeur> .</Paragraphe>
            <ServiceEnLigne ID="R1" type="Formulaire, Cerfa" URL="https://f.example/1">
              <Titre>Formulaire A</Titre><NumeroFormulaire>12345*01</NumeroFormulaire>
              <Source ID="R2">Ministère</Source>
              <NoticeLiee ID="R3" type="Notice" URL="https://f.example/notice"/>
            </ServiceEnLigne>
          </Cas>
          <Cas><Titre>CDI</Titre>
            <Liste type="numero"><Item><Paragraphe>un</Paragraphe></Item><Item><Paragraphe>deux</Paragraphe>
              <Liste type="puce"><Item><Paragraphe>sous</Paragraphe></Item></Liste></Item></Liste>
            <Attention><Titre>Attention</Titre><Paragraphe>prudence</Paragraphe></Attention>
          </Cas>
        </BlocCas>
      </Texte>
    </Situation>
  </ListeSituations>
  <ServiceEnLigne ID="R9" type="Outil de recherche">
    <Titre>Annuaire</Titre><Source ID="R2">X</Source>
  </ServiceEnLigne>
</Publication>
"""


def test_synthetic_nested_case_in_situation() -> None:
    doc = parse_fiche(SYNTHETIC.encode())
    assert doc.audience == ("professionnels", "associations")
    assert doc.url == "https://www.service-public.fr/professionnels-entreprises/vosdroits/F99999"
    assert doc.date_modified == "2024-01-02"
    cdd = next(b for b in doc.blocks if b.branch == ("Salarié", "CDD"))
    assert cdd.kind == "branch" and cdd.condition == "Vous êtes salarié"
    assert cdd.text.startswith("Texte du CDD 100 €.")
    assert "Formulaire : Formulaire A" in cdd.text
    cdi = next(b for b in doc.blocks if b.branch == ("Salarié", "CDI") and b.kind == "branch")
    assert cdi.text == "1. un\n2. deux\n  - sous"
    note = next(b for b in doc.blocks if b.kind == "note")
    assert note.text == "Attention : prudence" and note.branch == ("Salarié", "CDI")


def test_synthetic_services() -> None:
    first, second = parse_fiche(SYNTHETIC.encode()).services
    assert (first.type, first.cerfa, first.institution) == ("formulaire", "12345*01", "Ministère")
    assert first.notice_url == "https://f.example/notice" and first.branch == "Salarié > CDD"
    assert second.type == "autre" and second.branch == ""
    assert second.url == "https://www.service-public.fr/professionnels-entreprises/vosdroits/R9"


# -- hostile or broken input ------------------------------------------------------------------
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Publication ID="F1"><dc:title xmlns:dc="http://purl.org/dc/elements/1.1/">&lol3;</dc:title></Publication>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Publication ID="F1"><Texte><Paragraphe>&xxe;</Paragraphe></Texte></Publication>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Publication SYSTEM "http://attacker.example/evil.dtd">
<Publication ID="F1"/>"""


@pytest.mark.parametrize(
    "payload", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD], ids=["laughs", "xxe", "dtd"]
)
def test_unsafe_xml_is_refused(payload: bytes) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_fiche(payload)
    assert caught.value.reason.startswith("XML refusé")


@pytest.mark.parametrize(
    ("payload", "start"),
    [
        (b"%PDF-1.4 not xml at all", "XML invalide"),
        (b"", "XML invalide"),
        (b"<Publication ID='F1'><Texte></Publication>", "XML invalide"),
        (b"<html><body/></html>", "XML invalide : racine <html>"),
        (b"<Publication><Texte/></Publication>", "fiche sans identifiant"),
    ],
)
def test_invalid_xml_is_refused(payload: bytes, start: str) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_fiche(payload)
    assert caught.value.reason.startswith(start)


def test_oversize_is_refused_before_parsing() -> None:
    payload = SYNTHETIC.encode()
    assert parse_fiche(payload, max_bytes=len(payload)).id == "F99999"
    with pytest.raises(DocumentError, match="trop volumineux"):
        parse_fiche(payload, max_bytes=len(payload) - 1)


# -- publication kinds without Texte: guided search, theme, commented external links -----------
_HEAD = (
    '<Publication xmlns:dc="http://purl.org/dc/elements/1.1/" ID="{id}" type="{type}"'
    ' spUrl="https://www.service-public.fr/particuliers/vosdroits/{id}">'
    "<dc:title>{title}</dc:title><Audience>Particuliers</Audience>"
)
GUIDED = (
    _HEAD.format(id="F34487", type="Recherche guidée", title="Carte d'identité")
    + "<Problematiques><Problematique><Titre><Paragraphe>Demande en France</Paragraphe></Titre>"
    '<SiSelectionne><affecteVrai var="T10576"/></SiSelectionne>'
    "<Branche><Titre><Paragraphe>Pour une personne majeure</Paragraphe></Titre>"
    "<Branche><Titre><Paragraphe>Vous avez un passeport valide</Paragraphe></Titre>"
    "<Aide><Paragraphe>Il doit s'agir d'un passeport français</Paragraphe></Aide>"
    '<SiSelectionne><affecteVrai var="T10685"/></SiSelectionne>'
    '<LienInterne LienPublication="F1341" type="Fiche d\'information conditionnée" audience="Particuliers"/>'
    "</Branche></Branche></Problematique>"
    "<Problematique><Titre><Paragraphe>Trottinette sans moteur</Paragraphe></Titre>"
    '<LienInterne LienPublication="F308" audience="Particuliers"/></Problematique>'
    "</Problematiques></Publication>"
)
THEME = (
    _HEAD.format(id="N19812", type="Theme", title="Transports")
    + '<Dossier ID="N367"><Titre>Carte grise</Titre></Dossier>'
    + '<Dossier ID="N530"><Titre>Permis de conduire</Titre>'
    + '<Fiche ID="F2828">Permis probatoire</Fiche><Fiche ID="F2830">Permis à points</Fiche></Dossier>'
    + '<VoirAussi important="non"><Dossier ID="N32" audience="Particuliers"><Titre>Assurance véhicule</Titre>'
    + "</Dossier></VoirAussi></Publication>"
)
AMF = "https://www.amf-france.org/investir"
COMMENTED_LINKS = (
    _HEAD.format(id="F2369", type="Fiche avec liens externes", title="Placements en bourse")
    + "<LienExterneCommente><Commentaire><Paragraphe>Avant d'investir, il faut connaître"
    " ses droits.</Paragraphe></Commentaire>"
    f"<LienExterne URL=\"{AMF}\">Ce qu'il faut savoir avant d'investir</LienExterne>"
    '<Source ID="R30630">Autorité des marchés financiers (AMF)</Source></LienExterneCommente>'
    '<LienExterneCommente><LienExterne URL="https://www.lafinancepourtous.com/">'
    "Vos investissements</LienExterne>"
    '<Source ID="R50260">La finance pour tous</Source></LienExterneCommente></Publication>'
)


def test_guided_search_problematiques_become_sections_of_their_branches() -> None:
    doc = parse_fiche(GUIDED.encode())
    first, leaf = doc.blocks
    assert (first.kind, first.title_path) == ("section", ("Demande en France",))
    assert first.text == (
        "- Pour une personne majeure\n"
        "  - Vous avez un passeport valide (fiche F1341)\n"
        "    Il doit s'agir d'un passeport français"
    )
    assert leaf.title_path == ("Trottinette sans moteur",)
    assert leaf.text == "- Trottinette sans moteur (fiche F308)"
    assert [(link.title, link.target_id) for link in doc.links] == [
        ("Vous avez un passeport valide", "F1341"),
        ("Trottinette sans moteur", "F308"),
    ]
    assert doc.links[0].url == "https://www.service-public.fr/particuliers/vosdroits/F1341"


def test_theme_dossiers_are_listed_with_their_fiches() -> None:
    blocks = parse_fiche(THEME.encode()).blocks
    assert [(b.title_path, b.text) for b in blocks] == [
        ((), "- Carte grise"),
        (("Permis de conduire",), "- Permis probatoire\n- Permis à points"),
    ]


def test_commented_external_links_become_sections() -> None:
    doc = parse_fiche(COMMENTED_LINKS.encode())
    first, second = doc.blocks
    assert first.kind == "section" and first.title_path == ("Ce qu'il faut savoir avant d'investir",)
    assert first.text == (
        "Avant d'investir, il faut connaître ses droits.\n"
        f"Lien : Ce qu'il faut savoir avant d'investir ({AMF})\n"
        "Source : Autorité des marchés financiers (AMF)"
    )
    assert second.text == (
        "Lien : Vos investissements (https://www.lafinancepourtous.com/)\nSource : La finance pour tous"
    )
    assert [link.url for link in doc.links] == [AMF, "https://www.lafinancepourtous.com/"]
