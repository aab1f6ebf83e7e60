"""Recognising and normalising checkable facts in French text: URLs, phone numbers, amounts, cerfa numbers.

Patterns err on the side of seeing a fact (a wrongly flagged number is only removed when no source has
it). No pattern crosses a line break, so facts never span two of guard.py's segments. Facts found by
several patterns keep the first in priority order: URL, e-mail, site name, cerfa, amount, phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

FactKind = Literal["url", "phone", "amount", "cerfa", "duration", "polarity"]

# A blank inside a fact: space, no-break, narrow no-break, thin and figure spaces (typographers use all).
BLANKS = " \u00a0\u202f\u2009\u2007"
_B = f"[{BLANKS}]"
_SEP = rf"[{BLANKS}.\-]"  # what may separate digit groups of a phone number
_URL_CHARS = r"[^\s<>\"'`(){}\[\]|\\^«»]"
_TRAILING = ".,;:!?'\"»…*"
_GROUPED = rf"\d{{1,3}}(?:[{BLANKS}.]\d{{3}})+(?:,\d+)?"
_NUM = rf"{_GROUPED}|\d+(?:[.,]\d+)?"
_MONTHS = "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre"
_NOT_A_SHORT_NUMBER = (
    rf"(?![\d€%]|,\d|{_B}?(?:€|%|euros?\b|ans?\b|jours?\b|mois\b|semaines?\b|h\b|heures?\b|min"
    rf"|chiffres?\b|caract[eè]res?\b|lettres?\b|{_MONTHS}))"
)

_URL = re.compile(rf"(?i)\b(?:https?://|www\.){_URL_CHARS}+")
_EMAIL = re.compile(r"(?i)(?<![\w.+-])[\w.+-]+@(?:[a-z0-9-]+\.)+[a-z]{2,}\b")
_SITE = re.compile(
    r"(?i)(?<![\w.@/-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
    r"(?:(?:fr|com|org|net|eu|info|io|re|gp|mq|gf|yt|nc|pf|pm|wf|be|ch|lu|ca|de|uk|es|it|ly|app)\b"
    # Any other top-level domain once a path follows: "bit.ly/ants", "ants.gouv.app/x".
    rf"(?:/{_URL_CHARS}*)?|[a-z]{{2,6}}/{_URL_CHARS}*)"
)
_CERFA_ID = rf"\d{{5}}(?:{_B}?\*{_B}?\d{{2}})?(?!\d)"
_CERFA_REF = rf"(?:\({_B}*{_CERFA_ID}{_B}*\)|{_CERFA_ID})"  # "Cerfa (15646)" as well as "Cerfa 15646"
_CERFA = re.compile(
    rf"(?i)\bcerfa(?:{_B}*(?:n{_B}?[°º]|no\.?|num[ée]ro))?{_B}*:?{_B}*{_CERFA_REF}"
    rf"|(?<![\d*])\d{{5}}{_B}?\*{_B}?\d{{2}}(?!\d)"
    rf"|(?<!\w)n{_B}?[°º]{_B}*\d{{5}}(?:{_B}?\*{_B}?\d{{2}})?(?![\d/-])"
    rf"|\b(?:formulaire|imprim[ée]s?){_B}+(?:cerfa{_B}*)?:?{_B}*{_CERFA_REF}"
)
_CURRENCY = r"(?:k?€|(?i:euros?|eur)\b)"
_AMOUNT = re.compile(
    rf"(?<![\d,.])(?:{_NUM}){_B}?(?:(?i:millions?|milliards?){_B}+d['’]{_B}?)?{_CURRENCY}"
    rf"|(?:€|\b(?i:eur)\b){_B}?(?:{_NUM})"
    # The first bound of a range: "entre 100 et 200 €", "de 1 500 à 2 000 euros".
    rf"|(?<![\d,.])(?:{_NUM})(?={_B}*(?:et|à|-|–){_B}*(?:{_NUM}){_B}?{_CURRENCY})"
)
_PHONES = (
    # International: +33 1 23 45 67 89, +33 (0)1 23 45 67 89, 00 681 72 27 15.
    re.compile(rf"(?:\+|(?<![\w+])00){_B}?[1-9]\d{{0,2}}(?:{_B}?\(0\))?(?:{_SEP}?\d){{6,13}}(?!\d)"),
    # Ten French digits however grouped: 01 23 45 67 89, 01.23.45.67.89, 0 800 840 800, 0969324252.
    re.compile(rf"(?<![\w+])0{_SEP}?[1-9](?:{_SEP}?\d){{8}}(?!\d)"),
    # Four or more pairs: a truncated or foreign-looking number is still a phone number.
    re.compile(rf"(?<![\w+,.])\d{{2}}(?:{_SEP}\d{{2}}){{3,}}(?![\w,])"),
    # Short numbers written "39 39" or "3939" (national short numbers start with 3).
    re.compile(rf"(?<![\w+,./-])3\d{_B}?\d{{2}}(?![\w/-]|{_B}?\d){_NOT_A_SHORT_NUMBER}"),
    # Directory enquiries "118 712" need no word around them.
    re.compile(rf"(?<![\w+,./-])(?<!\d{_B})118{_SEP}?\d{{3}}(?![\w/-]|{_SEP}?\d)"),
)
# Short numbers (3939, 115, 17) only where the words around say it is a number to call.
_FILLER = (
    rf"(?:le|la|au|à|l['’]|:|num[ée]ro|vert|gratuit(?:ement)?|directement|unique|court|national"
    rf"|de{_B}+t[ée]l[ée]phone)(?![a-zà-ÿ])"
)
_CALL_WORD = (
    r"(?i)\b(?:appel(?:ez|er)?|num[ée]ros?|compos(?:ez|er)|t[ée]l[ée]phon(?:e[zr]?|ez)|t[ée]l"
    r"|contact(?:ez|er)|joindre|joign(?:ez|able)|sms|fax)(?!\w)\.?"
)
_CALL = re.compile(
    rf"{_CALL_WORD}(?:{_B}*{_FILLER})*{_B}*\**(\d{{2,4}}(?:{_SEP}\d{{1,4}})*)(?!{_B}?\d){_NOT_A_SHORT_NUMBER}"
)
# Emergency and social lines (15, 17, 112, 115, 119...) a few words after a call word: "Contactez le
# Samu social au 115". The walk stops at any punctuation but a comma (or a bracket
# just before the number), so it stays in its clause.
_CALL_AT = re.compile(_CALL_WORD)
_CALL_STEP = re.compile(
    rf"{_B}*(?:[:,*\-]{_B}*)*(?:\(?(\d+(?:{_SEP}\d+)*)|[^\W\d_]+(?:['’][^\W\d_]*)?(?:-[^\W\d_]+)*)"
)
_CALL_WINDOW = 6
_EMERGENCY = re.compile(rf"1\d{{1,2}}(?![\w/-]){_NOT_A_SHORT_NUMBER}")
_PATTERNS: tuple[tuple[FactKind, re.Pattern[str]], ...] = (
    ("url", _URL),
    ("url", _EMAIL),
    ("url", _SITE),
    ("cerfa", _CERFA),
    ("amount", _AMOUNT),
    *(("phone", p) for p in _PHONES),
)


@dataclass(frozen=True)
class Fact:
    kind: FactKind
    value: str  # as written in the text
    span: tuple[int, int]

    @property
    def start(self) -> int:
        return self.span[0]

    @property
    def end(self) -> int:
        return self.span[1]

    def shifted(self, offset: int) -> Fact:
        return Fact(self.kind, self.value, (self.start + offset, self.end + offset))


def find_in_segment(text: str) -> list[Fact]:
    """The facts of one segment (no line break inside), in order, never overlapping."""
    found: list[Fact] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if kind == "url":
                end = start + len(match.group().rstrip(_TRAILING))
            _keep(found, Fact(kind, text[start:end], (start, end)))
    for match in _CALL.finditer(text):
        _keep(found, Fact("phone", match.group(1), match.span(1)))
    for start, end in _called_short_numbers(text):
        _keep(found, Fact("phone", text[start:end], (start, end)))
    return sorted(found, key=lambda f: f.start)


def _called_short_numbers(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for call in _CALL_AT.finditer(text):
        position = call.end()
        for _ in range(_CALL_WINDOW):
            step = _CALL_STEP.match(text, position)
            if step is None:
                break
            position = step.end()
            number = _EMERGENCY.match(text, step.start(1)) if step.group(1) else None
            if number is not None and number.end() == step.end(1):
                spans.append(step.span(1))
    return spans


def _keep(found: list[Fact], fact: Fact) -> None:
    if fact.end > fact.start and not any(f.start < fact.end and fact.start < f.end for f in found):
        found.append(fact)


def normalise_url(value: str) -> str:
    """Scheme, "www.", letter case of the host and trailing slash or punctuation do not matter."""
    url = value.strip().rstrip(_TRAILING)
    url = re.sub(r"(?i)^[a-z][a-z0-9+.-]*://", "", url)
    host, _, path = url.partition("/")
    host = host.lower()
    host = host.removeprefix("www.")
    path = path.rstrip("/")
    return f"{host}/{path}" if path else host


def normalise_phone(value: str) -> str:
    """Digits only, "+" as "00", and +33 / 0033 written the French way: "+33 (0)1 23" -> "0123"."""
    text = value.replace("(0)", "")
    digits = re.sub(r"\D", "", text)
    if text.lstrip().startswith("+"):
        digits = "00" + digits
    if digits.startswith("0033"):
        digits = "0" + digits[4:]
    return digits


def amount_value(value: str) -> Decimal | None:
    """The number an amount stands for: "1 500,50 €" -> 1500.50, "1.500 €" -> 1500, "2 millions d'euros"."""
    match = re.search(_NUM, value)
    if match is None:
        return None
    number = match.group()
    if re.fullmatch(_GROUPED, number):
        number = re.sub(rf"[{BLANKS}.]", "", number)
    try:
        amount = Decimal(number.replace(",", "."))
    except InvalidOperation:
        return None
    lowered = value.lower()
    if "milliard" in lowered:
        amount *= 1_000_000_000
    elif "million" in lowered:
        amount *= 1_000_000
    elif "k€" in lowered:
        amount *= 1000
    return amount


def cerfa_key(value: str) -> tuple[str, str]:
    """("12345", "01") for "cerfa n°12345*01"; the version is "" when not written."""
    match = re.search(rf"(\d{{5}})(?:{_B}?\*{_B}?(\d{{2}}))?", value)
    if match is None:
        return ("", "")
    return (match.group(1), match.group(2) or "")
