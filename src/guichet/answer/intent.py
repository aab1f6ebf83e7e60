"""What an advisor's question asks for, and which lines of a fiche answer it.

An advisor asks "what to bring", "how much", "what does one risk", "how long", "where" or "what
first"; the line that answers often shares no word with the question ("25 € en timbre fiscal." under
"Coût"). Each intent is a question cue and the cues of a line (or of its section title) that answer
it; facts an advisor acts on (amounts, delays, cerfa numbers) always count a little.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from guichet.lexical import fold


@dataclass(frozen=True)
class Intent:
    name: str
    question: re.Pattern[str]  # on the folded question
    answer: re.Pattern[str]  # on a folded line or section title


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


INTENTS: tuple[Intent, ...] = (
    Intent(
        "pieces",
        _rx(r"\b(papiers?|pieces?|documents?|justificatifs?|apporter|fournir|dossier|preuves?)\b"),
        _rx(
            r"\b(pieces? a fournir|justificatifs?|photo|pieces? d'identite|copie|attestation|"
            r"acte de naissance|formulaire|cerfa|documents? (originaux|suivants))\b"
        ),
    ),
    Intent(
        "cout",
        _rx(
            r"\b(combien (coute|ca coute|paye|toucher?|touche)|couts?|prix|tarifs?|payer|montants?|"
            r"gratuit|frais|somme|combien)\b"
        ),
        _rx(r"(€|\beuros?\b|\bgratuit|\btimbre fiscal\b|\bmontants?\b|\bcouts?\b|\btarifs?\b)"),
    ),
    Intent(
        "delai",
        _rx(
            r"\b(combien de temps|delais?|durees?|valables?|validite|quand|a partir de quel|"
            r"avant quelle|jusqu'a quand|age)\b"
        ),
        _rx(
            r"\b(\d+ ?(jours?|mois|ans?|semaines?|heures?)|delais?|duree|valables?|validite|"
            r"au plus tard|avant le|a partir de)\b"
        ),
    ),
    Intent(
        "sanction",
        _rx(
            r"\b(risque[rs]?|risque-t-(il|elle|on)|sanctions?|amendes?|penalites?|puni|peines?|majorations?)\b"
        ),
        _rx(r"\b(prison|amendes?|penalites?|puni[es]?|sanctions?|majorations?|peines?|\d+ ?%)"),
    ),
    Intent(
        "lieu",
        _rx(r"(\bou\b|\bou (aller|s'adresser|faire)|aupres de qui|a qui|s'adresser|guichet)"),
        _rx(
            r"\b(mairie|prefecture|en ligne|sur le site|caf|msa|agence|commissariat|gendarmerie|"
            r"consulat|ou s'adresser|teleservice|guichet|centre des impots|france travail)\b"
        ),
    ),
    Intent(
        "etapes",
        _rx(
            r"\b(que faire|que doit|quoi faire|premier|premiere|d'abord|comment|demarches?|etapes?|"
            r"renouveler|demander|refaire|obtenir|faire)\b"
        ),
        _rx(
            r"\b(d'abord|en premier|vous devez|il faut|faire une|pre-?demande|rendez-vous|"
            r"declare[rz]?|declaration|demande en ligne|teleservice|prendre)\b"
        ),
    ),
)
# Facts an advisor acts on, whatever the question: amounts, delays, forms.
_FACT = re.compile(r"(€|\b\d+ ?%|\bcerfa\b|\b\d+ ?(jours?|mois|ans|semaines)\b|\btimbre fiscal\b)")


def question_intents(question: str) -> tuple[Intent, ...]:
    folded = fold(question).replace("’", "'")
    return tuple(i for i in INTENTS if i.question.search(folded))


def intent_hits(text: str, intents: tuple[Intent, ...]) -> int:
    """How many of the question's intents this line (or title) answers."""
    folded = fold(text).replace("’", "'")
    return sum(1 for i in intents if i.answer.search(folded))


def has_fact(text: str) -> bool:
    return _FACT.search(fold(text)) is not None
