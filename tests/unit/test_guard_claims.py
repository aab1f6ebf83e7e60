"""Inverted rules, changed amounts and changed delays: the guard removes them, the evaluation counts them.

Each case pairs a source sentence with an answer that restates it faithfully (kept) or wrongly (removed).
"""

from __future__ import annotations

import pytest

from guichet.answer.guard import REMOVED_MARKER, AllowedFacts, StreamGuard, guard_answer
from guichet.answer.guard_claims import SourceClaims, negated
from guichet.evaluation.checks import grounding

DPAE = "La déclaration préalable à l'embauche (DPAE) est obligatoire pour tout salarié embauché."
CNI = "La carte d'identité est gratuite. Elle n'est pas renouvelée automatiquement."
DELAI = "Vous disposez d'un délai de 15 jours pour contester la décision devant la commission."
APL = "L'aide personnalisée au logement n'est pas versée si le loyer est inférieur à 10 €."
CAF = "Le dossier doit être envoyé à la caisse d'allocations familiales dans les 2 mois."

INVERTED = [
    (
        DPAE,
        "La déclaration préalable à l'embauche (DPAE) n'est pas obligatoire pour un salarié embauché [1].",
    ),
    (CNI, "La carte d'identité n'est pas gratuite [1]."),
    (CNI, "Elle est renouvelée automatiquement [1]."),
    (APL, "L'aide personnalisée au logement est versée si le loyer est inférieur à 10 € [1]."),
    (DELAI, "Vous ne disposez d'aucun délai pour contester la décision devant la commission [1]."),
]
FAITHFUL = [
    (DPAE, "La DPAE est obligatoire pour tout salarié embauché [1]."),
    (CNI, "La carte d'identité est gratuite [1]."),
    (CNI, "Elle n'est pas renouvelée automatiquement [1]."),
    (APL, "L'aide personnalisée au logement n'est pas versée si le loyer est inférieur à 10 € [1]."),
    (DELAI, "Vous avez 15 jours pour contester la décision devant la commission [1]."),
    (CAF, "Envoyez le dossier à la caisse d'allocations familiales dans les 2 mois [1]."),
]
CHANGED_FACTS = [
    (DELAI, "Vous disposez d'un délai de 30 jours pour contester la décision [1].", "30 jours"),
    (CAF, "Le dossier doit être envoyé à la caisse d'allocations familiales dans les 6 mois [1].", "6 mois"),
    (APL, "L'aide n'est pas versée si le loyer est inférieur à 15 € [1].", "15 €"),
]


@pytest.mark.parametrize(("source", "answer"), INVERTED)
def test_an_inverted_rule_is_removed_whole(source: str, answer: str) -> None:
    result = guard_answer(answer, [source])
    assert result.text == REMOVED_MARKER
    assert [r.kind for r in result.removed] == ["polarity"]


@pytest.mark.parametrize(("source", "answer"), FAITHFUL)
def test_a_faithful_restatement_is_kept(source: str, answer: str) -> None:
    result = guard_answer(answer, [source])
    assert result.text == answer and result.removed == ()


@pytest.mark.parametrize(("source", "answer", "changed"), CHANGED_FACTS)
def test_a_changed_amount_or_delay_is_removed(source: str, answer: str, changed: str) -> None:
    result = guard_answer(answer, [source])
    assert changed not in result.text and REMOVED_MARKER in result.text
    assert [r.value for r in result.removed] == [changed]


def test_the_stream_guard_removes_an_inverted_rule_like_the_whole_text_guard() -> None:
    answer = f"{FAITHFUL[1][1]} {INVERTED[2][1]}\n{FAITHFUL[4][1]}"
    sources = [CNI, DELAI]
    stream = StreamGuard(sources)
    pieces = [stream.feed(answer[i : i + 7]) for i in range(0, len(answer), 7)]
    streamed = "".join(pieces) + stream.finish()
    assert streamed == guard_answer(answer, sources).text
    assert "renouvelée automatiquement" not in streamed and "gratuite" in streamed


def test_the_evaluation_counts_an_inverted_rule_as_ungrounded() -> None:
    # Word overlap alone scores it fully supported (ne, pas are stop words): the polarity check does not.
    unsupported, _ = grounding(INVERTED[0][1], {1: [DPAE]})
    assert unsupported == (INVERTED[0][1],)
    unsupported, _ = grounding(CHANGED_FACTS[0][1], {1: [DELAI]})
    assert unsupported == (CHANGED_FACTS[0][1],)
    assert grounding(FAITHFUL[0][1], {1: [DPAE]}) == ((), ())


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Ce n'est pas obligatoire.", True),
        ("Il ne peut plus la demander.", True),
        ("Aucun justificatif n'est demandé.", True),
        ("Les revenus non imposables comptent.", True),
        ("L'aide n'est versée que si le loyer dépasse 10 €.", False),  # a restriction, not a negation
        ("La nouvelle carte est plus solide.", False),
        ("Vous pouvez la demander en ligne.", False),
    ],
)
def test_negation_is_recognised(sentence: str, expected: bool) -> None:
    assert negated(sentence) is expected


def test_unrelated_sentences_are_not_compared() -> None:
    assert not SourceClaims([DPAE]).contradicts("Le passeport n'est pas valable dix ans.")


def test_a_delay_cited_to_the_wrong_extract_stays_an_invented_one_goes() -> None:
    # Cited sources hold the rule, another extract given to the model holds the delay: a citation slip.
    allowed = AllowedFacts([DPAE], claims_from=[DPAE, DELAI])
    kept = guard_answer("Vous avez 15 jours pour contester la décision [1].", allowed)
    assert kept.removed == ()
    invented = guard_answer("Vous avez 45 jours pour contester la décision [1].", allowed)
    assert [r.value for r in invented.removed] == ["45 jours"]
