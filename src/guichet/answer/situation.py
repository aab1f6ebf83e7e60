"""Choosing, among retrieved passages, the Situation/Cas branch that fits the citizen's situation.

Lexical and cheap: each level of a passage's branch ("Né à l'étranger > Par courrier") is scored by how
many of its analysed terms the situation has (then by the share of the label they cover). Of two
passages of the same fiche that part at some level, the one whose label there scores lower than its
sibling's contradicts the situation. A passage that matches somewhere and contradicts nowhere is moved
up to its fiche's first place; one that contradicts goes last. Everything else keeps the retrieval order.

Only passages among the hits are compared: the caller should retrieve with the situation in the query,
so that the matching case is among them. Lexical matching has blind spots ("né au Maroc" says nothing
of "né à l'étranger", "voiture" nothing of "véhicule"): expand_situation adds the words case labels
use for what advisors commonly write ("nationalité française" still shares a stem with "né en France").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from guichet.answer.guard_claims import negated
from guichet.lexical import analyze, fold
from guichet.ports.records import Chunk

# Words of branch labels that say nothing about a situation ("Cas général", "Autre situation"); "ans"
# because ages need arithmetic: "30 ans" shares "ans" with "moins de 25 ans" and "25 ans ou plus" alike.
_GENERIC: frozenset[str] = frozenset(analyze("cas général autre autres situation situations vous êtes ans"))
_CONDITION = " — Condition : "

# What advisors write, and the words the fiches' case labels use for it. Each entry adds the label's
# words to the situation; nothing is removed, so a situation that already says "véhicule" is unchanged.
# A country is a capitalised word after "né au/en/à": those patterns are case-sensitive on purpose.
# "à" comes before cities (French or not), "en/au" before French regions and a few towns: left out.
_FRENCH_PLACES = (
    "France|Bretagne|Normandie|Alsace|Lorraine|Corse|Provence|Auvergne|Bourgogne|Picardie|Savoie|Vendée"
    "|Champagne|Occitanie|Aquitaine|Guadeloupe|Martinique|Guyane|Île|Ile|Havre|Mans|Puy|Creusot|Lamentin"
)
_ABROAD = rf"\s+(?:au|aux|en)\s+(?!(?:{_FRENCH_PLACES})\b)[A-ZÉÈ]"
_SYNONYMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words)
    for pattern, words in (
        (
            r"(?i:\b(?:voitures?|autos?|automobiles?|motos?|scooters?|camionnettes?|camping-cars?)\b)",
            "véhicule",
        ),
        (r"\b(?i:n[ée]e?s?)" + _ABROAD, "né à l'étranger"),
        (r"\b(?i:vit|vivent|habite\w*|r[ée]side\w*|install[ée]e?s?)" + _ABROAD, "résidant à l'étranger"),
        (r"\b(?i:mari[ée]e?s?)" + _ABROAD, "mariage à l'étranger"),
        (r"\b(?i:d[ée]c[ée]d[ée]e?s?|morte?s?)" + _ABROAD, "décès à l'étranger"),
        (r"\b(?i:immatricul[ée]e?s?)" + _ABROAD, "immatriculé à l'étranger"),
        (r"\b(?i:nationalit[ée])\s+(?!fran[çc]aise)\w+", "étranger"),
        # Anything else "au/en" a named country (not an acronym: "en CDI"): somewhere abroad.
        (r"\s(?:au|aux|en)\s+(?!(?:" + _FRENCH_PLACES + r")\b)[A-ZÉÈ][a-zéèëïô]", "à l'étranger"),
        (rf"\b(?i:n[ée]e?s?)\s+(?:en|à|a|au)\s+(?:{_FRENCH_PLACES})\b", "né en France"),
        (r"(?i:\b(?:pacs[ée]e?s?|pacte civil)\b)", "pacs"),
        (r"(?i:\b(?:mari[ée]e?s?|époux|épouse)\b)", "mariage marié"),
        (r"(?i:\b(?:ch[ôo]meurs?|sans emploi|demandeur d'emploi|au ch[ôo]mage)\b)", "demandeur d'emploi"),
        (r"(?i:\b(?:salari[ée]e?s?|CDI|CDD|employ[ée]e?s?)\b)", "salarié"),
        (r"(?i:\b(?:retrait[ée]e?s?|à la retraite)\b)", "retraité"),
        (r"(?i:\b[ée]tudiante?s?\b)", "étudiant"),
        (r"(?i:\b(?:locataires?|loue\w*)\b)", "locataire"),
        (r"(?i:\bpropriétaires?\b)", "propriétaire"),
    )
)
_AGE = re.compile(r"\b(\d{1,3})\s*ans\b")
MAJORITY = 18


def situation_age(situation: str) -> int | None:
    """The citizen's age when the situation gives one ("Il a 30 ans")."""
    match = re.search(r"\b(moins de|plus de|a|âgée?)\s+(\d{1,3})\s*ans\b", situation, re.IGNORECASE)
    if not match:
        return None
    age, bound = int(match.group(2)), match.group(1).lower()
    return age - 1 if bound == "moins de" else age + 1 if bound == "plus de" else age


_ABROAD_TERM = analyze("étranger")[0]
_DAYS = {"jour": 1, "jours": 1, "semaine": 7, "semaines": 7, "mois": 30, "an": 365, "ans": 365}
_SPAN = r"(\d+)\s*(jours?|semaines?|mois|ans?)"


def situation_days(situation: str) -> int | None:
    """A duration the situation gives ("arrêt de 2 mois", "périmé depuis 3 ans"), in days; not an age."""
    for match in re.finditer(_SPAN, fold(situation)):
        before = fold(situation)[: match.start()].rstrip()
        if not re.search(r"\b(?:a|agee?|de moins de|de plus de)$", before):
            return int(match.group(1)) * _DAYS[match.group(2)]
    return None


def duration_fits(label: str, days: int) -> bool | None:
    """Whether a duration fits a label's range ("Arrêt de 30 jours à 3 mois", "+ de 5 ans")."""
    folded = fold(label).replace("+ de", "plus de")
    spans = [int(n) * _DAYS[unit] for n, unit in re.findall(_SPAN, folded)]
    if re.search(rf"(?:de|entre) {_SPAN} (?:a|et) {_SPAN}", folded) and len(spans) >= 2:
        return spans[0] <= days <= spans[1]
    if re.search(rf"moins de {_SPAN}", folded) and spans:
        return days < spans[0]
    if re.search(rf"plus de {_SPAN}", folded) and spans:
        return days > spans[0]
    return None


def age_fits(label: str, age: int) -> bool | None:
    """Whether an age fits a label's range ("Vous avez moins de 25 ans"); None when the label has none."""
    folded = fold(label)
    if match := re.search(r"entre (\d+) et (\d+) ans", folded):
        return int(match.group(1)) <= age <= int(match.group(2))
    if match := re.search(r"moins de (\d+) ans", folded):
        return age < int(match.group(1))
    if match := re.search(r"(?:plus de|au moins) (\d+) ans", folded):
        return age >= int(match.group(1))
    if match := re.search(r"(\d+) ans ou (plus|moins)", folded):
        n = int(match.group(1))
        return age >= n if match.group(2) == "plus" else age <= n
    return None


def expand_situation(situation: str) -> str:
    """The situation plus the words case labels use for what it says ("voiture" -> "véhicule",
    "né au Maroc" -> "né à l'étranger", "16 ans" -> "mineur")."""
    extra = [words for pattern, words in _SYNONYMS if pattern.search(situation)]
    for match in _AGE.finditer(situation):
        extra.append("mineur" if int(match.group(1)) < MAJORITY else "majeur")
    return " ".join([situation, *extra])


def branch_levels(chunk: Chunk) -> tuple[str, ...]:
    return tuple(chunk.branch.split(" > ")) if chunk.branch else ()


def on_path(branch: str, other: str) -> bool:
    """One branch is the other, one of its ancestors or one of its sub-cases ("" is everyone's root)."""
    if not branch or not other:
        return True
    a, b = branch.split(" > "), other.split(" > ")
    depth = min(len(a), len(b))
    return a[:depth] == b[:depth]


@lru_cache(maxsize=4096)
def _terms(label: str) -> frozenset[str]:
    return frozenset(analyze(label)) - _GENERIC


def _level_scores(
    chunk: Chunk,
    wanted: frozenset[str],
    age: int | None = None,
    days: int | None = None,
    polarity: list[tuple[frozenset[str], bool]] | None = None,
) -> tuple[float, ...]:
    levels = branch_levels(chunk)
    scores: list[float] = []
    for depth, label in enumerate(levels):
        fits = age_fits(label, age) if age is not None else None
        if fits is None and days is not None:
            fits = duration_fits(label, days)
        if fits is not None:  # an age or duration range decides by arithmetic, not by shared words
            scores.append(1.5 if fits else 0.0)
            continue
        terms = _terms(label)
        if _ABROAD_TERM in terms and _ABROAD_TERM not in wanted:
            # France services serve people in France: "à l'étranger" is the case only when said.
            scores.append(-0.5)
            continue
        if depth == len(levels) - 1 and _CONDITION in chunk.context:
            terms = terms | _terms(chunk.context.split(_CONDITION, 1)[1])
        shared = len(terms & wanted)
        if shared and polarity is not None and polarity_differs(label, terms, polarity):
            shared = 0  # "Vous n'avez pas de passeport" against "il a un passeport": no match
        # Shared terms first, then the share of the label they cover (< 1, so only a tie-break).
        scores.append(shared + shared / (2 * len(terms)) if terms else 0.0)
    return tuple(scores)


def clause_polarities(situation: str) -> list[tuple[frozenset[str], bool]]:
    """(terms, negated) of each clause of the situation ("périmée depuis 6 ans, il n'a pas de passeport")."""
    return [
        (frozenset(analyze(c)), negated(c))
        for c in re.split(r"[,;.\n]|\bet\b|\bmais\b", situation)
        if c.strip()
    ]


def polarity_differs(label: str, terms: frozenset[str], clauses: list[tuple[frozenset[str], bool]]) -> bool:
    """The situation's clause that shares the most words with the label says it with the other polarity."""
    best = max(clauses, key=lambda c: len(c[0] & terms), default=None)
    return best is not None and bool(best[0] & terms) and best[1] != negated(label)


def _contradicted(a: Chunk, a_scores: tuple[float, ...], b: Chunk, b_scores: tuple[float, ...]) -> bool:
    """a and b part at some level of their branch, and there b's label fits the situation better."""
    a_levels, b_levels = branch_levels(a), branch_levels(b)
    for depth in range(min(len(a_levels), len(b_levels))):
        if a_levels[depth] != b_levels[depth]:
            return b_scores[depth] > a_scores[depth]
    return False


def situation_order(chunks: Sequence[Chunk], situation: str) -> list[tuple[int, bool]]:
    """(position in chunks, matches the situation) pairs, in the order the passages should be used."""
    wanted = frozenset(analyze(expand_situation(situation))) - _GENERIC
    if not wanted:
        return [(i, False) for i in range(len(chunks))]
    age, days = situation_age(situation), situation_days(situation)
    clauses = clause_polarities(situation)
    scores = [_level_scores(c, wanted, age, days, clauses) for c in chunks]
    first_of_doc: dict[str, int] = {}
    for i, chunk in enumerate(chunks):
        first_of_doc.setdefault(chunk.doc_id, i)
    keyed: list[tuple[tuple[int, int, int, int], int, bool]] = []
    for i, chunk in enumerate(chunks):
        contradicted = any(
            j != i and other.doc_id == chunk.doc_id and _contradicted(chunk, scores[i], other, scores[j])
            for j, other in enumerate(chunks)
        )
        matched = not contradicted and any(s > 0 for s in scores[i])
        if contradicted:
            key = (1, i, 1, i)
        elif matched:
            key = (0, first_of_doc[chunk.doc_id], 0, i)
        else:
            key = (0, i, 1, i)
        keyed.append((key, i, matched))
    return [(i, matched) for _, i, matched in sorted(keyed)]
