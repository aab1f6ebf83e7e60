"""Output guard: which facts it sees, which it lets through, and streaming that never leaks one."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guichet.answer.guard import REMOVED_MARKER, StreamGuard, find_facts, guard_answer
from guichet.answer.prompt import NOT_COVERED
from guichet.answer.record import GuardRemoval
from guichet.corpus.chunking import chunk_document
from guichet.corpus.fiche import parse_fiche

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "src" / "guichet" / "samples" / "fiches"
FICHES = ROOT.parent / "shared" / "fiches"


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.value) for f in find_facts(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Appelez le 01 23 45 67 89.", ("phone", "01 23 45 67 89")),
        ("Tél : 01.23.45.67.89", ("phone", "01.23.45.67.89")),
        ("Tél : 01-23-45-67-89", ("phone", "01-23-45-67-89")),
        ("Joignable au 0123456789 en semaine", ("phone", "0123456789")),
        ("Depuis l'étranger : +33 1 23 45 67 89", ("phone", "+33 1 23 45 67 89")),
        ("Depuis l'étranger : +33 (0)1 23 45 67 89", ("phone", "+33 (0)1 23 45 67 89")),
        ("Wallis : 00 681 72 27 15", ("phone", "00 681 72 27 15")),
        ("Numéro vert 0 800 840 800 (gratuit)", ("phone", "0 800 840 800")),
        ("Numéro vert 0800 840 800", ("phone", "0800 840 800")),
        ("Allô Service public : 39 39", ("phone", "39 39")),
        ("Appelez le 3939 du lundi au vendredi", ("phone", "3939")),
        ("composez le 3646", ("phone", "3646")),
        ("le numéro 3400 répond", ("phone", "3400")),
        ("appel gratuit au 115", ("phone", "115")),
        ("En cas d'urgence, composez le 17.", ("phone", "17")),
        ("Tél. 3237", ("phone", "3237")),
        ("appelez le 01 23 45", ("phone", "01 23 45")),
        ("le 12 34 56 78 répond", ("phone", "12 34 56 78")),
        ("Appelez le **3939**.", ("phone", "3939")),
        ("**Tél** : **39 39**", ("phone", "39 39")),
        ("Appelez le **115**.", ("phone", "115")),
        ("Le passeport coûte 86 €.", ("amount", "86 €")),
        ("Plafond : 1 500,50 € par an", ("amount", "1 500,50 €")),
        ("une amende de 135 euros", ("amount", "135 euros")),
        ("soit €25 de frais", ("amount", "€25")),
        ("soit 1.500 € de frais", ("amount", "1.500 €")),
        ("jusqu'à 10 000 euros", ("amount", "10 000 euros")),
        ("redevance de 2,76 €", ("amount", "2,76 €")),
        ("un prêt de 2 millions d'euros", ("amount", "2 millions d'euros")),
        ("un plafond de 1 500 € (sans condition)", ("amount", "1 500 €")),
        ("remplissez le formulaire cerfa n°12345*01", ("cerfa", "cerfa n°12345*01")),
        ("le formulaire 12345*01", ("cerfa", "formulaire 12345*01")),
        ("joindre le 12345*01", ("cerfa", "12345*01")),
        ("le formulaire n° 12345", ("cerfa", "n° 12345")),
        ("le Cerfa 13750", ("cerfa", "Cerfa 13750")),
        ("Rendez-vous sur https://ants.gouv.fr/demarches.", ("url", "https://ants.gouv.fr/demarches")),
        ("Voir (https://www.legifrance.gouv.fr/a?b=1) ici", ("url", "https://www.legifrance.gouv.fr/a?b=1")),
        ("sur www.impots.gouv.fr, rubrique", ("url", "www.impots.gouv.fr")),
        ("sur le site ameli.fr.", ("url", "ameli.fr")),
        ("écrivez à contact@caf.fr", ("url", "contact@caf.fr")),
        ("Il coûte 2 500 EUROS.", ("amount", "2 500 EUROS")),
        ("Il coûte 2 500 Eur.", ("amount", "2 500 Eur")),
        ("Il coûte 2\u2009500\u2009€.", ("amount", "2\u2009500\u2009€")),
        ("Il coûte 2\u202f500\u00a0€.", ("amount", "2\u202f500\u00a0€")),
        ("Il coûte 1\u2007500 €.", ("amount", "1\u2007500 €")),
        ("Tél\u00a0: 01\u200923\u200945\u200967\u200989", ("phone", "01\u200923\u200945\u200967\u200989")),
        ("Le 118 712 vous renseigne", ("phone", "118 712")),
        ("Contactez le Samu social au 115.", ("phone", "115")),
        ("Joignez la police, au 17", ("phone", "17")),
        ("Appelez le Samu (15)", ("phone", "15")),
        ("Téléphonez au service d'aide : 119", ("phone", "119")),
        ("Consultez bit.ly/ants", ("url", "bit.ly/ants")),
        ("Consultez ants.gouv.app/x.", ("url", "ants.gouv.app/x")),
        ("Remplissez l'imprimé 15646.", ("cerfa", "imprimé 15646")),
        ("le formulaire Cerfa (15646)", ("cerfa", "formulaire Cerfa (15646)")),
        ("le formulaire n° 15646", ("cerfa", "n° 15646")),
    ],
)
def test_facts_are_recognised(text: str, expected: tuple[str, str]) -> None:
    assert kinds(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "Faites la demande dans un délai de 2 mois, à partir de 18 ans.",
        "Né avant le 1er janvier 1990, entre 2019 et 2025.",
        "Article L. 262-2 du code ; loi n° 2019-1147 du 8 novembre 2019.",
        "Le délai d'appel est de 15 jours.",
        "Ouvert de 8 h 30 à 17 h 30, du lundi au vendredi.",
        "Le numéro fiscal comporte 13 chiffres.",
        "Étape 1 : préparez le bulletin n°3.",
        "Contactez la mairie dans les 15 jours, avant le 15 mars, de 9 h à 17 h.",
        "Contactez la mairie (article 112 du code).",
        "Voir la fiche et/ou le guide 2.3/4.",
        NOT_COVERED,
        REMOVED_MARKER,
    ],
)
def test_ordinary_numbers_are_not_facts(text: str) -> None:
    assert kinds(text) == []


def test_both_bounds_of_a_range_are_amounts() -> None:
    assert kinds("entre 100 et 200 €, de 1 500 à 2 000 euros") == [
        ("amount", "100"),
        ("amount", "200 €"),
        ("amount", "1 500"),
        ("amount", "2 000 euros"),
    ]
    assert kinds("entre 18 et 25 ans") == []


def test_unsupported_facts_are_removed_and_reported() -> None:
    source = "Appelez le 39 39. Le timbre coûte 86 €. Formulaire cerfa n°12100*03 sur https://ants.gouv.fr/."
    answer = (
        "Appelez le 3939 [1] ou le 01 40 00 00 00. Le timbre coûte 86,00 € [1], et non 96 €. "
        "Remplissez le cerfa n°12100 [1] sur www.ants.gouv.fr [1] ou sur https://ants-fr.com/carte [1]."
    )
    result = guard_answer(answer, [source])
    assert result.removed == (
        GuardRemoval("phone", "01 40 00 00 00"),
        GuardRemoval("amount", "96 €"),
        GuardRemoval("url", "https://ants-fr.com/carte"),
    )
    assert result.text == (
        f"Appelez le 3939 [1] ou le {REMOVED_MARKER}. Le timbre coûte 86,00 € [1], et non {REMOVED_MARKER}. "
        f"Remplissez le cerfa n°12100 [1] sur www.ants.gouv.fr [1] ou sur {REMOVED_MARKER} [1]."
    )


@pytest.mark.parametrize(
    ("answer", "source", "kept"),
    [
        ("Appelez le 09 70 83 07 07.", "Depuis l'étranger : +33 9 70 83 07 07", True),
        ("Appelez le +33 1 23 45 67 89.", "Tél. 01 23 45 67 89", True),
        ("Appelez le 01 23 45 67 88.", "Tél. 01 23 45 67 89", False),
        ("Appelez le 3400.", "34 00 (prix d'un appel local)", True),
        ("Montant : 1500 €.", "Montant : 1 500 €", True),
        ("Montant : 1 500 €.", "Montant : 1 500 jours", False),
        ("Montant : 15 000 €.", "Montant : 1 500 €", False),
        ("Le cerfa n°12100*03.", "cerfa n°12100*02", False),
        ("Le cerfa 12100*03.", "https://www.formulaires.service-public.fr/gf/cerfa_12100.do", False),
        ("Le cerfa n°12100.", "https://www.formulaires.service-public.fr/gf/cerfa_12100.do", True),
        ("Voir https://ants.gouv.fr/Carte.", "https://ants.gouv.fr/carte", False),
        ("Voir HTTP://WWW.ANTS.GOUV.FR/carte/ .", "https://ants.gouv.fr/carte", True),
        ("Voir ants.gouv.fr.", "https://ants.gouv.fr/carte", True),
        ("Voir ants.gouv.fr/autre.", "https://ants.gouv.fr/carte", False),
    ],
)
def test_facts_are_compared_normalised(answer: str, source: str, kept: bool) -> None:
    result = guard_answer(answer, [source])
    assert (result.text == answer) is kept
    assert (not result.removed) is kept


def test_every_emergency_number_after_a_call_word_is_seen() -> None:
    assert kinds("Contactez le 115 ou le 15, ou encore le 3939") == [
        ("phone", "115"),
        ("phone", "15"),
        ("phone", "3939"),
    ]


@pytest.mark.parametrize(
    "answer",
    ["Appelez le 3960 pour un rendez-vous.", "Appelez le 15 en cas d'urgence.", "Composez le 396 0."],
)
def test_an_amount_or_a_delay_does_not_back_a_phone_number(answer: str) -> None:
    source = "Le plafond de ressources est de 3 960 € par an. Délai : 15 jours. Cerfa n°15646*01."
    assert guard_answer(answer, [source]).removed


@pytest.mark.parametrize(
    ("answer", "source"),
    [
        ("Appelez le 15.", "En cas d'urgence médicale, appelez le 15."),
        ("Appelez le 115.", "Contactez le Samu social au 115."),
        ("Appelez le 3960.", "Plateforme téléphonique : 39 60"),
        ("Appelez le 01 23 45 678.", "Standard : 01 23 45 678"),  # no pattern sees it: a long run
    ],
)
def test_a_phone_number_of_the_sources_is_kept(answer: str, source: str) -> None:
    assert guard_answer(answer, [source]).text == answer


@pytest.mark.parametrize(
    "answer",
    [
        "Il coûte 2 500 EUROS [1].",
        "Il coûte 2 500 Eur [1].",
        "Il coûte 2 500\u2009€ [1].",
        "Le 118 712 vous renseigne [1].",
        "Contactez le Samu social au 115 [1].",
        "Consultez bit.ly/ants [1].",
        "Consultez ants.gouv.app/x [1].",
        "Remplissez l'imprimé 15646 [1].",
        "Remplissez le formulaire Cerfa (15646) [1].",
    ],
)
def test_unusual_spellings_of_invented_facts_are_removed(answer: str) -> None:
    result = guard_answer(answer, ["Appelez le 3939."])
    assert len(result.removed) == 1
    assert REMOVED_MARKER in result.text


def test_unusual_spellings_are_compared_normalised() -> None:
    source = "Coût : 2 500 €. Cerfa n°15646*01. Renseignements : 118 712."
    answer = "Il coûte 2\u2009500 EUROS, formulaire Cerfa (15646), appelez le 118712."
    assert guard_answer(answer, [source]).text == answer


def test_a_fact_counts_only_from_the_allowed_texts() -> None:
    assert guard_answer("Appelez le 01 23 45 67 89.", []).removed == (
        GuardRemoval("phone", "01 23 45 67 89"),
    )


def _corpus_chunks() -> list[str]:
    paths = sorted(SAMPLES.glob("*.xml"))
    paths += sorted(FICHES.glob("xml/F1*.xml"))[:40] if FICHES.is_dir() else []
    return [c.text for p in paths for c in chunk_document(parse_fiche(p.read_bytes()), p.name)]


def test_a_verbatim_copy_of_a_source_keeps_every_fact() -> None:
    """No false positive when the model copies a passage: the guard agrees with itself on real text."""
    texts = _corpus_chunks()
    # The project's samples alone hold about 80 facts; with 40 real fiches, well over 100.
    assert sum(len(find_facts(t)) for t in texts) > (100 if FICHES.is_dir() else 50)
    for text in texts:
        assert guard_answer(text, [text]).text == text


def test_a_passage_guarded_against_an_unrelated_one_loses_its_facts() -> None:
    texts = [t for t in _corpus_chunks() if find_facts(t)]
    other = "Aucun chiffre ici."
    for text in texts:
        result = guard_answer(text, [other])
        # Durations ("29 ans") no source gives go too (guard_claims), on top of every fact.
        assert len([r for r in result.removed if r.kind != "duration"]) == len(find_facts(text))
        assert not find_facts(result.text)


ALLOWED = ["Appelez le 39 39 ou le 01 23 45 67 89. Coût : 25 €. Cerfa n°12345*01, https://ants.gouv.fr/x"]
FRAGMENTS = [
    "Appelez le ", "39 39", "3939", "3646", "01 23 45 67 89", "01 23 45 67 80", "+33 1 23 45 67 89",
    "Tél. ", "numéro ", "au ", ". ", ".", "\n", "! ", "… ", " ", ":", "25 €", "26 €", "1 500,50 €",
    "€", "euros", "cerfa n°12345*01", "n° 54321", "https://ants.gouv.fr/x", "www.faux.fr/y",
    "ameli.fr", "[1]", "ok", "0", "1", "2", "3", "9", "Contactez le Samu au ", "115", "15", " ou ",
    "118 712", "\u2009", "\u202f€", "EUROS", "bit.ly/x", "imprimé 12345", "Cerfa (12345)", "-",
]  # fmt: skip
texts = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet=" .\n0123456789€+*°n:telTé", max_size=4)),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_streaming_releases_exactly_the_guarded_text(text: str, cuts: list[int]) -> None:
    positions = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *positions], [*positions, len(text)], strict=True)]
    guard = StreamGuard(ALLOWED)
    released = "".join(guard.feed(p) for p in pieces) + guard.finish()
    expected = guard_answer(text, ALLOWED)
    assert released == expected.text
    assert guard.removed == expected.removed


def test_streaming_holds_back_an_unfinished_sentence() -> None:
    guard = StreamGuard(ALLOWED)
    assert guard.feed("Première étape. Appelez le 01 23 45") == "Première étape. "
    assert guard.feed(" 67 00 pour") == ""
    assert guard.feed(" un rendez-vous.\nEnsuite") == f"Appelez le {REMOVED_MARKER} pour un rendez-vous.\n"
    assert guard.finish() == "Ensuite"
    assert guard.removed == (GuardRemoval("phone", "01 23 45 67 00"),)


def test_an_abbreviation_does_not_end_a_segment() -> None:
    guard = StreamGuard([])
    assert guard.feed("Tél. ") == ""
    assert guard.feed("115 en urgence.\n") == f"Tél. {REMOVED_MARKER} en urgence.\n"
