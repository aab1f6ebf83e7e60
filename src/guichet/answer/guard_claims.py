"""Claims the fact guard cannot see: an inverted rule, a changed delay.

"La DPAE n'est pas obligatoire" shares every content word with "La DPAE est obligatoire": ne, pas,
plus are stop words, so a word-overlap check scores the inverted rule fully supported. The most
dangerous error of a generated answer passes. Two checks close that gap:

- polarity: a claim is compared with the source sentence closest to it (most shared content words);
  when that sentence says the same thing (SAME_CLAIM of the claim's words) with the other polarity
  (one negated, the other not), the claim contradicts its source;
- durations: "15 jours", "2 mois", "3 ans" in a claim must be written in a source, like amounts are
  (guard_facts): a changed delay is a wrong fact.

Used by the output guard (guard.py) on each segment, against the texts the model was given, and by the
evaluation's grounding check on each claim, against the sources it cites.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from guichet.lexical import analyze, fold

# Of the claim's content words, the share the closest source sentence must have for both to be read as
# the same statement (below it, they are about different things and polarity is not compared).
SAME_CLAIM = 0.75
MIN_TERMS = 2

# French negation: "ne/n' … pas|plus|jamais|aucun|rien|guère|nullement|point", "aucun(e)", "non" before a
# word ("non imposable"), "pas de/d'", "sans". "ne … que" is a restriction, not a negation.
_NEGATION = re.compile(
    r"\b(?:n['’]\s*\w+(?:\s+\w+)?\s+(?:pas|plus|jamais|aucun|aucune|rien|guere|nullement|point|personne)"
    r"|ne\s+(?:\w+\s+){0,2}(?:pas|plus|jamais|aucun|aucune|rien|guere|nullement|point)"
    r"|aucun|aucune|nul|nulle|non(?:\s|-)\w+|pas\s+(?:de|d['’]|besoin|obligatoire|necessaire)|sans)\b"
)
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n")  # as guard.segments cuts answers
_UNITS = {
    "jour": "jour", "jours": "jour", "semaine": "semaine", "semaines": "semaine", "mois": "mois",
    "an": "an", "ans": "an", "annee": "an", "annees": "an", "heure": "heure", "heures": "heure",
    "h": "heure", "minute": "minute", "minutes": "minute",
}  # fmt: skip
_DURATION = re.compile(
    r"(?<![\d,.])(\d+(?:[.,]\d+)?)\s*(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")\b"
)
_MARKERS = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class ClaimProblem:
    kind: str  # "polarity" or "duration"
    value: str  # the claim (polarity) or the duration as written


def negated(sentence: str) -> bool:
    return bool(_NEGATION.search(fold(sentence).replace("’", "'")))


def durations(text: str) -> list[tuple[str, tuple[str, str]]]:
    """(as written, (number, unit)) of each duration in text: "15 jours" -> ("15 jours", ("15", "jour"))."""
    folded = fold(text)
    out = []
    for match in _DURATION.finditer(folded):
        number = match.group(1).replace(",", ".")
        out.append((text[match.start() : match.end()], (number, _UNITS[match.group(2)])))
    return out


class SourceClaims:
    """The sentences of the allowed texts, with their terms and polarity, and their durations."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.sentences: list[tuple[frozenset[str], bool]] = []
        self.durations: set[tuple[str, str]] = set()
        for text in texts:
            for sentence in _SENTENCE.split(text):
                terms = _terms(sentence)
                if terms:
                    self.sentences.append((terms, negated(sentence)))
            self.durations.update(value for _, value in durations(text))

    def problems(self, claim: str) -> list[ClaimProblem]:
        found = [ClaimProblem("duration", w) for w, v in durations(claim) if v not in self.durations]
        if self.contradicts(claim):
            found.append(ClaimProblem("polarity", claim.strip()))
        return found

    def contradicts(self, claim: str) -> bool:
        """The closest source sentence states the claim with the other polarity."""
        terms = _terms(_MARKERS.sub(" ", claim))
        if len(terms) < MIN_TERMS or not self.sentences:
            return False
        best = max(len(terms & source) for source, _ in self.sentences)
        if best < SAME_CLAIM * len(terms):
            return False
        polarity = negated(claim)
        # Several equally close sentences: a contradiction only if none of them agrees.
        closest = [neg for source, neg in self.sentences if len(terms & source) == best]
        return all(neg != polarity for neg in closest)


@lru_cache(maxsize=8192)
def _terms(sentence: str) -> frozenset[str]:
    return frozenset(analyze(sentence))
