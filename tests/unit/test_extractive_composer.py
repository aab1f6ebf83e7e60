"""The extractive composer (issue 18): the question's intent, one case, lists and tables whole, no line
twice, links instead of URLs; and what feeds it (dated sources, helpers' directory search)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from guichet.answer.evidence import DocumentMeta, Extract
from guichet.answer.extractive import compose_extractive
from guichet.answer.links import helpers
from guichet.answer.passage_units import linkify, read_units
from guichet.answer.record import SourceRef
from guichet.answer.source_dates import age_notice, dated, example_notice
from guichet.corpus.chunking import chunk_document
from guichet.corpus.fiche import parse_fiche
from guichet.corpus.model import Contact
from guichet.evaluation.checks import duplicated_lines
from guichet.indexing.indexer import document_metadata
from guichet.ports.records import Chunk

REAL = Path(__file__).resolve().parents[3] / "shared" / "fiches" / "xml"


def real_extracts(fiche_id: str, ordinals: list[int]) -> list[Extract]:
    path = REAL / f"{fiche_id}.xml"
    if not path.is_file():
        pytest.skip(f"{path} absent (../shared/fiches)")
    doc = parse_fiche(path.read_bytes())
    meta = DocumentMeta.from_metadata_json(document_metadata(doc))
    chunks = chunk_document(doc, f"service-public/{fiche_id}.xml")
    return [Extract(n, chunks[i], 1.0, meta) for n, i in enumerate(ordinals, 1)]


def extract(n: int, doc_id: str, text: str, *, branch: str = "", section: str = "") -> Extract:
    chunk = Chunk(
        f"c{n}", doc_id, doc_id, n, "Carte d'identité", "", ("particuliers",), section, branch, "x", text,
        context=" — ".join(p for p in ("Carte d'identité", section, branch) if p),
    )  # fmt: skip
    return Extract(n, chunk, 1.0, DocumentMeta(id=doc_id, title="Carte d'identité"))


def two_fiches(first: str, second: str, second_case: str) -> list[Extract]:
    """F1's common text, then F2's passage in a case: an answer's first and second fiche."""
    return [extract(1, "F1", first), extract(2, "F2", second, branch=second_case)]


def test_how_much_quotes_the_amount_of_the_cost_section() -> None:
    extracts = real_extracts("F1344", [0, 6, 7, 9, 13, 20])  # 20: "Coût > Cas général": 25 € timbre
    answer = compose_extractive("Elle a perdu sa carte d'identité, combien coûte la nouvelle ?", "", extracts)
    assert "25 € en timbre fiscal." in answer
    assert duplicated_lines(answer) == ()


def test_one_case_per_fiche_the_sibling_case_is_dropped() -> None:
    extracts = real_extracts("F1759", list(range(6)))
    answer = compose_extractive(
        "Sa carte d'identité a été volée, que doit-il faire en premier ?", "", extracts
    )
    cases = [line for line in answer.splitlines() if line.startswith("Cas «")]
    assert cases[-1] == "Cas « En France > Si le vol a eu lieu en France » :", answer
    assert "à l'étranger" not in answer, "the sibling case is dropped"
    assert "commissariat" in answer


def test_a_list_is_quoted_whole_as_a_list_and_its_introduction_kept() -> None:
    text = "Il faut fournir :\n- une photo d'identité\n- un justificatif de domicile\n- le timbre fiscal"
    answer = compose_extractive(
        "Quelles pièces fournir pour la carte d'identité ?", "", [extract(1, "F1", text)]
    )
    assert answer.splitlines() == [
        "Il faut fournir : [1]",
        "- une photo d'identité [1]",
        "- un justificatif de domicile [1]",
        "- le timbre fiscal [1]",
    ]


def test_a_sentence_the_list_completes_is_never_quoted_without_it() -> None:
    # F1480 writes "… dispose" then the list that ends the sentence, without a colon.
    extracts = real_extracts("F1480", [44])
    question = "Son père est décédé et il veut garder sa voiture : quelle démarche pour la carte grise ?"
    answer = compose_extractive(question, "", extracts)
    lines = answer.splitlines()
    opening = next(i for i, line in enumerate(lines) if line.endswith("carte grise dispose [1]"))
    assert lines[opening + 1] == "- d'une attestation d'assurance du véhicule [1]", answer


def test_a_sentence_announcing_what_its_passage_lacks_is_not_quoted() -> None:
    # F13104 opens "Qui est concerné ?" with this sentence; the conditions are the next passages' cases.
    question = "Veuve d'un salarié : peut-elle toucher une pension de réversion ?"
    announcing = "Vous pouvez obtenir une pension de réversion si vous remplissez les conditions suivantes."
    rule = "La pension de réversion est versée au conjoint survivant d'un salarié."
    alone = compose_extractive(question, "", [extract(1, "F1", f"{announcing}\n{rule}")])
    assert "conditions suivantes" not in alone and "conjoint survivant" in alone, alone
    listed = f"{announcing}\n- Avoir été marié avec le défunt\n- Avoir au moins 55 ans"
    answer = compose_extractive(question, "", [extract(1, "F1", listed)])
    assert "conditions suivantes. [1]\n- Avoir été marié avec le défunt [1]" in answer, answer


def test_a_sentence_opening_with_a_pronoun_is_quoted_with_the_one_it_refers_to() -> None:
    text = (
        "La preuve d'un contrôle technique en cours de validité est demandée. "
        "Elle peut être apportée par la vignette apposée sur la carte grise.\n"
        "Le paiement se fait en ligne. Il faut une adresse électronique pour la vignette."
    )
    answer = compose_extractive("La vignette suffit-elle pour la carte grise ?", "", [extract(1, "F1", text)])
    assert "est demandée. Elle peut être apportée par la vignette" in answer, answer
    assert "Il faut une adresse" in answer and "en ligne" not in answer, "« Il faut » refers to nothing"


def test_the_advisor_s_word_finds_the_fiche_s_word() -> None:
    # Retrieval searches "véhicule" for "voiture" (lexical.EQUIVALENTS): the composer reads it too, or
    # the fiche it retrieved first shares one word with the question and the answer is a decline.
    extracts = real_extracts("F1707", [0, 3])
    question = "Elle vend sa voiture à un particulier : que doit-elle déclarer ?"
    answer = compose_extractive(question, "", extracts)
    assert answer.startswith("Vendre un véhicule (ou le donner) vous impose de remettre"), answer


def test_a_table_is_quoted_as_a_table_with_its_caption() -> None:
    text = (
        "Durée de validité de la carte\n"
        "Titulaire : Majeur ; Durée : 15 ans\n"
        "Titulaire : Mineur ; Durée : 10 ans"
    )
    answer = compose_extractive("Carte d'identité valable combien de temps ?", "", [extract(1, "F1", text)])
    assert answer.splitlines() == [
        "Durée de validité de la carte [1]",
        "| Titulaire | Durée | [1]",
        "| --- | --- |",
        "| Majeur | 15 ans | [1]",
        "| Mineur | 10 ans | [1]",
    ]


def test_a_row_under_stacked_headers_is_still_a_table_row() -> None:
    # fiche_tables names a column by its header rows: such headers run past 80 characters.
    header = "Durée d'assurance minimale en début de carrière – Si vous êtes né entre janvier et septembre"
    rows = [
        f"Année de naissance : {year} ; {header} : {n} trimestres" for year, n in (("1959", 5), ("1960", 4))
    ]
    units = read_units("\n".join(rows))
    assert [u.kind for u in units] == ["row", "row"]
    assert units[0].cells == (("Année de naissance", "1959"), (header, "5 trimestres"))


def test_the_same_text_in_two_fiches_or_two_cases_is_said_once() -> None:
    same = "La carte d'identité se demande en mairie, sur rendez-vous."
    extracts = [extract(1, "F1", same), extract(2, "F2", same), extract(3, "F1", same, branch="En France")]
    answer = compose_extractive("Où demander la carte d'identité ?", "", extracts)
    assert answer.count("se demande en mairie") == 1 and duplicated_lines(answer) == ()


def test_links_read_as_links_not_raw_urls() -> None:
    assert linkify("Voir le texte sur Légifrance (https://www.legifrance.gouv.fr/x) avant.") == (
        "Voir [le texte sur Légifrance](https://www.legifrance.gouv.fr/x) avant."
    )
    assert (
        linkify("Liste : https://ants.gouv.fr/villes.")
        == "Liste : [ants.gouv.fr](https://ants.gouv.fr/villes)."
    )


def test_a_lone_row_like_sentence_is_not_a_table() -> None:
    units = read_units("Date : 1er janvier ; Lieu : mairie")
    assert [u.kind for u in units] == ["sentence"]


def test_duplicated_lines_check_ignores_markers_bullets_and_short_lines() -> None:
    answer = "- La carte est gratuite [1]\nLa carte est gratuite [2]\nOui [1]\nOui [2]"
    assert duplicated_lines(answer) == ("La carte est gratuite [2]",)


def test_sources_are_dated_flagged_when_old_and_samples_named() -> None:
    sources = (
        SourceRef(1, "F1344", "Perte", "u", "e", updated="2020-08-26"),
        SourceRef(2, "EX-F21089", "Exemple", "", "e", updated="2025-04-02"),
    )
    out = dated(sources, max_age_days=730, today=dt.date(2026, 12, 5))
    assert [(s.outdated, s.example) for s in out] == [(True, False), (False, True)]
    assert "[1] (26/08/2020)" in age_notice(out) and "non officielles" in example_notice(out)
    assert not any(s.outdated for s in dated(sources, max_age_days=0, today=dt.date(2026, 12, 5)))


def test_helpers_read_as_an_advisor_reads_them_with_the_directory_search() -> None:
    contact = Contact("Mairie", "Local personnalisé sur SP", "https://lannuaire.service-public.gouv.fr/")
    base = extract(1, "F1", "texte")
    cited = [replace(base, document=replace(base.document, contacts=(contact,)))]
    (helper,) = helpers(cited)
    assert helper.kind == "annuaire"
    assert helper.url == "https://lannuaire.service-public.fr/recherche?whoWhat=Mairie&where="


def test_what_one_risks_quotes_the_penalties_announced_by_a_sentence() -> None:
    text = (
        "Fabriquer un faux document est un délit.\n"
        "Le délit de faux ou d'usage de faux est puni jusqu'à :\n- 3 ans de prison\n- et 45 000 € d'amende."
    )
    answer = compose_extractive("Que risque-t-on pour un faux document ?", "", [extract(1, "F1", text)])
    assert "- 3 ans de prison [1]" in answer and "- et 45 000 € d'amende. [1]" in answer


def test_the_first_fiche_s_decided_case_is_quoted_though_it_shares_few_words() -> None:
    # F1069's "Hors parcours > Généraliste" is a table of tariffs: two of the question's terms, where
    # F163's explanation of the parcours de soins has six. The situation chose that case, in the fiche
    # retrieval put first: its tariffs are the answer, F163's rule the context.
    question = (
        "Sans médecin traitant déclaré, une consultation chez le généraliste est-elle moins bien remboursée ?"
    )
    situation = "Pas de médecin traitant déclaré, consultation d'un généraliste"
    decided = next(
        e for e in real_extracts("F1069", list(range(17)))
        if e.branch == "Hors parcours de soins coordonnés > Généraliste"
    )  # fmt: skip
    explained = real_extracts("F163", [1, 2, 3])
    extracts = [replace(decided, n=1, matches_situation=True)]
    extracts += [replace(e, n=n) for n, e in enumerate(explained, 2)]
    answer = compose_extractive(question, situation, extracts)
    assert "Cas « Hors parcours de soins coordonnés > Généraliste » :" in answer
    assert "6,50 €" in answer and "[1]" in answer
    # Not in a fiche retrieval ranked below: there, the relative bar still decides.
    answer = compose_extractive(question, situation, [*extracts[1:], replace(extracts[0], n=4)])
    assert "6,50 €" not in answer


def test_without_a_situation_the_general_case_comes_before_an_exception_the_question_does_not_name() -> None:
    # The exception's line shares one more word with the question: without a situation, it used to win.
    general = extract(1, "F1", "L'allocation Aspa est versée dès l'âge de 65 ans.", branch="Cas général")
    earlier = "L'allocation Aspa est versée à partir d'un âge inférieur à 65 ans."
    exception = extract(2, "F1", earlier, branch="Ancien combattant")
    question = "À partir de quel âge peut-on demander l'allocation Aspa ?"
    answer = compose_extractive(question, "", [general, exception])
    assert "dès l'âge de 65 ans" in answer and "inférieur" not in answer, answer
    veteran = "À partir de quel âge un ancien combattant peut-il demander l'allocation Aspa ?"
    named = compose_extractive(veteran, "", [general, exception])
    assert "inférieur à 65 ans" in named and "dès" not in named, named


def test_a_second_fiche_quotes_no_case_the_question_does_not_name() -> None:
    extracts = two_fiches(
        "En cas de perte, la nouvelle carte d'identité coûte 25 € en timbre fiscal.",
        "La nouvelle carte d'identité d'un ancien combattant perdue coûte 0 € de timbre fiscal.",
        "Ancien combattant",
    )
    question = "Elle a perdu sa carte d'identité, combien coûte la nouvelle ?"
    answer = compose_extractive(question, "", extracts)
    assert "25 €" in answer and "[2]" not in answer, answer
    named = compose_extractive(
        "Un ancien combattant a perdu sa carte d'identité, combien coûte la nouvelle ?", "", extracts
    )
    assert "0 € de timbre fiscal. [2]" in named, named


def test_a_second_fiche_s_case_for_a_period_is_not_an_exception() -> None:
    extracts = two_fiches(
        "Le coût du permis de chasser dépend de sa validation, chaque année.",
        "Le permis de chasser validé pour une année coûte 44,50 € de redevance.",
        "Cas général > 2019",
    )
    answer = compose_extractive("Combien coûte le permis de chasser ?", "", extracts)
    assert "44,50 €" in answer and "[2]" in answer, answer


def test_without_a_year_the_rule_in_force_comes_before_a_past_period() -> None:
    # Dev l.37 followed "Avant novembre 2019", whose lines shared a word more with the question.
    current = "Le montant de l'allocation chômage est calculé sur le salaire."
    past = "Pour estimer le montant de l'allocation chômage, utilisez le simulateur."
    extracts = [
        extract(1, "F1", current, branch="Depuis le 1er novembre 2019"),
        extract(2, "F1", past, branch="Avant novembre 2019"),
    ]
    answer = compose_extractive("Comment estimer le montant de son allocation chômage ?", "", extracts)
    assert "calculé sur le salaire" in answer and "simulateur" not in answer, answer
    dated = "Licencié en 2018, comment estimer le montant de son allocation chômage ?"
    assert "utilisez le simulateur" in compose_extractive(dated, "", extracts)


def test_a_passage_opening_on_the_end_of_the_one_before_is_quoted_from_its_second_line() -> None:
    # evidence marks it (overlap.py): the row's first cells, its "Revenu fiscal", are in the passage before.
    text = "7 850 € ; Moins de 1,5 UC : 98 € ; 2 UC ou plus : 137 €\nLe chèque énergie est envoyé en avril."
    question = "Quel chèque énergie pour moins de 1,5 UC, et quand est-il envoyé ?"
    whole = compose_extractive(question, "", [extract(1, "F1", text)])
    assert "Moins de 1,5 UC : 98 €" in whole, "the row is quoted when nothing says it is cut"
    cut = compose_extractive(question, "", [replace(extract(1, "F1", text), continues=True)])
    assert "7 850 €" not in cut and "envoyé en avril" in cut, cut
