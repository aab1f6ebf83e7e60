"""Each mechanical check fires on a record made to fail it, and stays quiet on one made to pass."""

from __future__ import annotations

from guichet.answer.extractive import not_covered_answer
from guichet.answer.prompt import NOT_COVERED
from guichet.evaluation.checks import (
    branch_check,
    check_answer,
    claims,
    coverage,
    grounding,
    missing_facts,
    missing_links,
    orphan_lines,
    outside_citations,
)
from guichet.evaluation.command import embedder_similarity
from guichet.testing.fake_embedder import HashingEmbedder
from tests.eval.support import case, record

PASSPORT = "Le passeport d'un majeur coûte 86 € en timbre fiscal. La demande se fait en mairie."
TEXTS = {
    "F1": [PASSPORT, "https://timbres.impots.gouv.fr/achat"],
    "F2": ["La carte Vitale se commande sur ameli."],
}


def test_citations_outside_the_retrieved_fiches_or_to_no_source_are_flagged() -> None:
    answer = record("Le passeport coûte 86 € [1]. Voir aussi [3].", ("F1", ""), ("F9", ""))
    assert outside_citations(answer, ["F1", "F2"]) == ("F9", "[3]")
    assert outside_citations(record("Le passeport coûte 86 € [1].", ("F1", "")), ["F1"]) == ()


def test_a_cited_sentence_must_share_its_words_with_its_source() -> None:
    texts = {1: TEXTS["F1"], 2: TEXTS["F2"]}
    supported = "- Le passeport d'un majeur coûte 86 € en timbre fiscal. [1]"
    invented = "- Le passeport est gratuit pour les étudiants boursiers inscrits à l'université [1]"
    assert grounding(supported, texts) == ((), ())
    unsupported, uncited = grounding(invented, texts)
    assert unsupported == (invented,) and uncited == ()
    # Citing the wrong fiche is as bad as citing none that supports it.
    assert grounding("Le passeport d'un majeur coûte 86 € en timbre fiscal [2].", texts)[0]


def test_a_claim_without_citation_is_flagged_but_a_heading_is_not() -> None:
    answer = (
        "Cas « Né en France » :\nLa demande de passeport se fait toujours en mairie du domicile.\nVoici :"
    )
    unsupported, uncited = grounding(answer, {})
    assert uncited == ("La demande de passeport se fait toujours en mairie du domicile.",)
    assert unsupported == ()


def test_a_marker_after_the_full_stop_belongs_to_the_sentence_before_it() -> None:
    assert claims("Le passeport coûte 86 € en timbre fiscal. [1]") == [
        ("Le passeport coûte 86 € en timbre fiscal.", [1])
    ]


def test_semantic_similarity_rescues_a_paraphrase_only_above_its_bar() -> None:
    paraphrase = "Un adulte paie quatre-vingt-six euros pour ce titre de voyage [1]."
    assert grounding(paraphrase, {1: TEXTS["F1"]})[0] == (paraphrase,)
    assert grounding(paraphrase, {1: TEXTS["F1"]}, lambda s, t: 0.9)[0] == ()
    assert grounding(paraphrase, {1: TEXTS["F1"]}, lambda s, t: 0.5)[0] == (paraphrase,)


def test_facts_absent_from_the_cited_sources_are_flagged() -> None:
    bad = record("Appelez le 01 23 45 67 89, coût 99 €, cerfa n°12345*01, www.faux.fr [1].", ("F1", ""))
    checks = check_answer(case(), bad, ["F1"], TEXTS)
    assert {f.split(":")[0] for f in checks.unsupported_facts} == {"phone", "amount", "cerfa", "url"}
    good = record("Le passeport coûte 86 € (https://timbres.impots.gouv.fr/achat) [1].", ("F1", ""))
    assert check_answer(case(), good, ["F1"], TEXTS).unsupported_facts == ()


def test_a_fact_of_an_uncited_retrieved_fiche_does_not_count_as_sourced() -> None:
    answer = record("La carte coûte 86 € [1].", ("F2", ""))
    assert check_answer(case(), answer, ["F1", "F2"], TEXTS).unsupported_facts == ("amount: 86 €",)


def test_expected_facts_and_links_are_looked_for_in_the_answer_and_its_links() -> None:
    answer = "Il faut un timbre fiscal de 86 € [1]."
    assert missing_facts(["86 €", "Timbre  fiscal", "mairie"], answer) == ("mairie",)
    with_link = record(answer, ("F1", ""), links=("https://www.timbres.impots.gouv.fr/achat/",))
    assert missing_links(["http://timbres.impots.gouv.fr/achat", "https://ants.gouv.fr"], with_link) == (
        "https://ants.gouv.fr",
    )


def test_the_answer_must_follow_the_expected_case() -> None:
    expected = case(expected_branch="Né à l'étranger")
    assert branch_check(expected, record("x [1]", ("F1", "Né à l'étranger > Par courrier"))) == ("ok", ())
    assert branch_check(expected, record("x [1]", ("F1", "Né en France"))) == ("wrong", ("Né en France",))
    assert branch_check(expected, record("x [1]", ("F1", ""))) == ("none", ())
    extractive = "Cas « Né à l'étranger » :\n- a [1]\nCas « Né en France » :\n- b [1]"
    assert branch_check(expected, record(extractive, ("F1", "Né à l'étranger"))) == (
        "wrong",
        ("Né en France",),
    )
    assert branch_check(case(), record("x [1]", ("F1", "Né en France"))) == ("", ())


def test_out_of_corpus_questions_must_be_declined_and_others_answered() -> None:
    declined = record(NOT_COVERED)
    answered = record("Le passeport coûte 86 € [1].", ("F1", ""))
    off_corpus = case(expected_sources=(), expect_not_covered=True)
    assert coverage(off_corpus, declined) == "ok"
    assert coverage(off_corpus, answered) == "answered_out_of_corpus"
    assert coverage(case(), declined) == "said_not_covered"
    assert coverage(case(), answered) == "ok"


def test_a_declined_answer_asserts_nothing_even_with_fiches_to_consult() -> None:
    """The titles listed "à consulter" under a decline are not claims: 138 were counted on the gate."""
    titles = [
        "Timbre fiscal : 86 € pour un passeport de majeur",
        "Prime de partage de la valeur versée par l'employeur",
    ]
    declined = record(not_covered_answer(titles))
    checks = check_answer(case(expected_sources=(), expect_not_covered=True), declined, ["F1", "F2"], TEXTS)
    assert all(n == 0 for n in checks.counts().values()), checks


def test_a_clean_answer_passes_every_check() -> None:
    answer = record("Le passeport d'un majeur coûte 86 € en timbre fiscal [1].", ("F1", ""))
    checks = check_answer(case(expected_facts=("86 €",)), answer, ["F1"], TEXTS)
    assert all(n == 0 for n in checks.counts().values()), checks


def test_extracts_that_cannot_be_read_alone_are_flagged() -> None:
    unfinished = "Vous devez certifier sur l'honneur que le demandeur de la carte grise dispose [1]"
    pronoun = "Elle peut être apportée par la vignette de contrôle technique. [2]"
    assert orphan_lines(f"{unfinished}\n{pronoun}") == (unfinished[:-4], pronoun[:-4])
    assert orphan_lines(pronoun) == (pronoun[:-4],)
    completed = f"{unfinished}\n- d'une attestation d'assurance du véhicule [1]"
    under_its_case = f"Cas « Vous avez une carte d'identité sécurisée » :\n{pronoun}"
    under_its_sentence = f"La preuve d'un contrôle technique est demandée. [2]\n{pronoun}"
    labelled = "Où s'adresser : Démolisseurs de VHU agréés [1]"
    caption = "Durée de validité de la carte d'identité selon l'âge du titulaire [1]\n| Majeur | 15 ans | [1]"
    aids = "Ces aides servent au loyer."
    under_its_list = f"Le FSL accorde 2 aides : [3]\n- une subvention [3]\n- un prêt. [3]\n{aids} [3]"
    readable = (completed, under_its_case, under_its_sentence, labelled, caption, under_its_list)
    assert orphan_lines("\n".join(readable)) == ()
    # A list of another extract names nothing for it.
    assert orphan_lines(f"- une subvention [3]\n{aids} [4]") == (aids,)


def test_a_bullet_cites_once_for_all_its_sentences_but_a_line_without_marker_cites_nothing() -> None:
    answer = (
        "- Démarche : adresse de la carte grise ; où la faire ? En ligne sur le site de l'ANTS [2]\n"
        "Le délai pour changer l'adresse est d'un mois."
    )
    assert claims(answer) == [
        ("- Démarche : adresse de la carte grise ; où la faire ?", [2]),
        ("En ligne sur le site de l'ANTS [2]", [2]),
        ("Le délai pour changer l'adresse est d'un mois.", []),
    ]


def test_the_embedder_similarity_is_the_best_cosine_over_the_source_texts() -> None:
    similarity = embedder_similarity(HashingEmbedder())
    sentence = "Le passeport coûte 86 € en timbre fiscal"
    assert similarity(sentence, ["La carte Vitale se commande sur ameli.", sentence]) > 0.99
    assert similarity(sentence, ["La carte Vitale se commande sur ameli."]) < 0.5
