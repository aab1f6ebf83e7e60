"""The quantities a situation gives (age, duration, month) and whether a case label's range holds them.

"Il a 30 ans" is an age, "périmée depuis 6 ans" a duration; "Vous avez moins de 25 ans", "Arrêt de 30
jours à 3 mois", "entre juillet 2020 et février 2021" are ranges. Arithmetic, not shared words: "30 ans"
shares "ans" with "moins de 25 ans" and "25 ans ou plus" alike (situation.py scores the words).
"""

from __future__ import annotations

import re

from guichet.lexical import fold

_DAYS = {"jour": 1, "jours": 1, "semaine": 7, "semaines": 7, "mois": 30, "an": 365, "ans": 365}
_SPAN = r"(\d+)\s*(jours?|semaines?|mois|ans?)"
# What makes "N ans" a duration rather than an age: "depuis (plus de) 5 ans", "il y a 3 ans"...
_DURATION_CUE = re.compile(r"(?:\bdepuis|\by a|\bpendant|\bdurant|\bdans|\bvoila|\bsous)$")
# ... and an age: "a 30 ans", "âgée de 70 ans", "enfant de 16 ans", or the situation opening on "22 ans".
_AGE_CUE = re.compile(
    r"(?:\ba|\bagee?s?(?: de)?|\b(?:enfant|fils|fille|homme|femme|personne|jeune|adulte|garcon|bebe)s? de"
    r"|^|[,;.:(])$"
)
_BOUND = re.compile(r"\b(moins|plus) de$")


def _quantities(situation: str) -> tuple[int | None, int | None]:
    """(age in years, duration in days) the situation gives, the first of each; "plus de 5 ans" is more
    than 5 years ("depuis plus de 5 ans": 5 years and a day; "a moins de 25 ans": 24)."""
    folded = fold(situation).replace("+ de", "plus de")
    age: int | None = None
    days: int | None = None
    for match in re.finditer(_SPAN, folded):
        before = folded[: match.start()].rstrip()
        bound = _BOUND.search(before)
        shift = 0 if bound is None else (-1 if bound.group(1) == "moins" else 1)
        if bound is not None:
            before = before[: bound.start()].rstrip()
        number, unit = int(match.group(1)), match.group(2)
        is_age = unit.startswith("an") and not _DURATION_CUE.search(before) and bool(_AGE_CUE.search(before))
        if is_age and age is None:
            age = number + shift
        elif not is_age and days is None:
            days = number * _DAYS[unit] + shift
    return age, days


def situation_age(situation: str) -> int | None:
    """The citizen's age when the situation gives one ("Il a 30 ans"; not "périmée depuis 6 ans")."""
    return _quantities(situation)[0]


def situation_days(situation: str) -> int | None:
    """A duration the situation gives ("arrêt de 2 mois", "périmé depuis 3 ans"), in days; not an age."""
    return _quantities(situation)[1]


# A label about a duration ("Carte périmée depuis + de 5 ans", "Date d'expiration : moins de 2 ans") is
# never read as an age range, even when the situation gives an age too.
_DURATION_LABEL = re.compile(r"\b(?:depuis|expir\w*|perime\w*|duree|pendant|arret|anciennete|il y a)\b")


def duration_fits(label: str, days: int) -> bool | None:
    """Whether a duration fits a label's range ("Arrêt de 30 jours à 3 mois", "+ de 5 ans",
    "Date d'expiration entre 2 et 5 ans")."""
    folded = re.sub(r"superieure? a", "plus de", re.sub(r"inferieure? a", "moins de", fold(label)))
    folded = folded.replace("+ de", "plus de")
    if match := re.search(r"(?:de|entre) (\d+) (?:a|et) " + _SPAN, folded):  # one unit for both bounds
        unit = _DAYS[match.group(3)]
        return int(match.group(1)) * unit <= days <= int(match.group(2)) * unit
    spans = [int(n) * _DAYS[unit] for n, unit in re.findall(_SPAN, folded)]
    if re.search(rf"(?:de|entre) {_SPAN} (?:a|et) {_SPAN}", folded) and len(spans) >= 2:
        return spans[0] <= days <= spans[1]
    if re.search(rf"moins de {_SPAN}", folded) and spans:
        return days < spans[0]
    if re.search(rf"plus de {_SPAN}", folded) and spans:
        return days > spans[0]
    return None


_MONTHS = ("janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout", "septembre", "octobre",
           "novembre", "decembre")  # fmt: skip
_MONTH_YEAR = r"(?:(?:le )?(?:1er|\d{1,2}) )?(" + "|".join(_MONTHS) + r") (\d{4})"


def _month(name: str, year: str) -> int:
    return int(year) * 12 + _MONTHS.index(name)


def situation_month(situation: str) -> int | None:
    """The month the situation dates ("embauche en septembre 2020"), as year * 12 + month index."""
    match = re.search(_MONTH_YEAR, fold(situation))
    return _month(match.group(1), match.group(2)) if match else None


def month_fits(label: str, month: int) -> bool | None:
    """Whether a month fits a label's period ("entre juillet 2020 et février 2021", "avant juillet 2020",
    "à partir de mars 2021"); None when the label has none."""
    folded = fold(label)
    if match := re.search(rf"(?:entre|du|de) {_MONTH_YEAR} (?:et|au|a) {_MONTH_YEAR}", folded):
        start, end = _month(match.group(1), match.group(2)), _month(match.group(3), match.group(4))
        return start <= month <= end
    if match := re.search(rf"avant {_MONTH_YEAR}", folded):
        return month < _month(match.group(1), match.group(2))
    if match := re.search(rf"(?:apres|depuis|a partir d[eu]|a compter d[eu]) {_MONTH_YEAR}", folded):
        return month >= _month(match.group(1), match.group(2))
    return None


def age_fits(label: str, age: int) -> bool | None:
    """Whether an age fits a label's range ("Vous avez moins de 25 ans"); None when the label has none."""
    folded = fold(label)
    if _DURATION_LABEL.search(folded):
        return None
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
