"""The names a question uses (named_things.py): what the coverage decision looks up in the index."""

from __future__ import annotations

import pytest

from guichet.answer.named_things import named_things


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("Comment obtenir le Pass'Sport pour son fils de 10 ans ?", ["Pass'Sport"]),
        ("Comment inscrire son enfant au Pass Colo pour cet été ?", ["Pass Colo"]),
        ("Comment activer l'application France Identité sur son téléphone ?", ["France Identité"]),
        # A capitalised function word opens a name that runs to the next function word.
        ("Des séances remboursées avec Mon soutien psy ?", ["Mon soutien psy"]),
        ("Comment demander MaPrimeAdapt' pour sa salle de bains ?", ["MaPrimeAdapt"]),
        # A scheme noun and its qualifier, the elided article cut off, "de" crossed.
        ("Qui a droit à l'indemnité inflation de 100 € ?", ["indemnité inflation"]),
        ("Une prime de partage de la valeur est-elle imposable ?", ["prime de partage"]),
        ("Un auto-entrepreneur peut-il toucher la prime d'activité ?", ["prime d'activité"]),
    ],
)
def test_names_a_question_uses(question: str, names: list[str]) -> None:
    assert named_things(question) == names


@pytest.mark.parametrize(
    "question",
    [
        "Passeport perdu : Que faire ?",  # a sentence's first word is capitalised anyway
        "Existe-t-il une prime pour changer sa vieille chaudière ?",  # "pour" parts them
        "Une aide de 100 € existe-t-elle ?",  # an amount qualifies nothing
        "Quelle aide existe pour un retraité ?",  # nor does a verb
        "Avec le permis B, peut-on conduire une moto de 125 ?",  # too short to judge
        "Chauffeur de bus, son permis D arrive à échéance ?",  # "D" is a category, not "d'"
        "Son fils veut faire du sport, à quel âge ?",
    ],
)
def test_no_name(question: str) -> None:
    assert named_things(question) == []


def test_each_name_once() -> None:
    assert named_things("Sa carte Vitale et sa carte Vitale ?") == ["carte Vitale"]


def test_a_single_capitalised_word_is_context_not_a_name() -> None:
    # "au Smic", "à Lille", "en CDD": a small partner corpus need not mention them to answer.
    assert named_things("Payé au Smic en CDD à Lille, quelle prime d'activité ?") == ["prime d'activité"]
