"""Output guard: no URL, phone number, amount or cerfa number reaches an advisor unless a source has it.

SPEC.md: "every URL, phone number or amount in answer must come from the cited sources". A model that
invents a phone number sends a citizen to a wrong (or paying) line, so the guard is conservative: what
looks like a fact and is not found, normalised, in the allowed texts is replaced by REMOVED_MARKER.
Removing a right fact costs some wording; letting a wrong one through costs the citizen.

The text is guarded segment by segment (segments end after a line break or a sentence end), and no fact
ever spans two segments. That is what lets StreamGuard release text while the model is still writing:
it holds back only the unfinished segment, and what it releases is exactly what guard_answer would give
for the full text, whatever the chunking of the stream.

guard_claims adds what facts cannot show: a duration ("15 jours") no source gives is removed like an
amount, and a sentence that states a source's rule with the other polarity ("n'est pas obligatoire"
against "est obligatoire") is removed whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from guichet.answer.guard_claims import SourceClaims, durations
from guichet.answer.guard_facts import (
    BLANKS,
    Fact,
    FactKind,
    amount_value,
    cerfa_key,
    find_in_segment,
    normalise_phone,
    normalise_url,
)
from guichet.answer.record import GuardRemoval

REMOVED_MARKER = "[information retirée]"

# A segment ends after a newline, or after the blank that follows a sentence end; "Tél. 3939" is no end.
_CUT = re.compile(r"\n|(?<=[.!?…])[ \t\u00a0]")
_ABBREVIATIONS = frozenset({"tél", "tel", "n", "no", "num", "art", "cf", "ex", "m", "mme", "st", "av"})
# On the allowed side a long digit run counts as a phone number, however it is grouped, in case a source
# writes one in a way the patterns miss. Short runs do not: "3 960 €" or "15 jours" must not back
# "appelez le 3960" or "le 15"; amounts and cerfa numbers are blanked before looking for runs.
_DIGIT_RUN = re.compile(rf"\+?\d(?:[{BLANKS}.\-]?\d)*")
_MIN_RUN_DIGITS = 6
_CERFA_IN_URL = re.compile(r"(?i)cerfa_?(\d{5})")


@dataclass(frozen=True)
class GuardResult:
    text: str
    removed: tuple[GuardRemoval, ...]


def cut_points(text: str) -> list[int]:
    """Where segments end (exclusive indexes); decided only by what precedes each point."""
    points: list[int] = []
    for match in _CUT.finditer(text):
        if match.group() != "\n" and _word_before(text, match.start() - 1).lower() in _ABBREVIATIONS:
            continue
        points.append(match.end())
    return points


def _word_before(text: str, dot: int) -> str:
    start = dot
    while start > 0 and text[start - 1].isalpha():
        start -= 1
    return text[start:dot]


def segments(text: str) -> list[tuple[int, str]]:
    """(offset, segment) pairs covering text."""
    out: list[tuple[int, str]] = []
    start = 0
    for point in cut_points(text):
        out.append((start, text[start:point]))
        start = point
    if start < len(text):
        out.append((start, text[start:]))
    return out


def find_facts(text: str) -> list[Fact]:
    """Every URL (and e-mail address), phone number, euro amount and cerfa number of text, in order."""
    facts: list[Fact] = []
    for offset, segment in segments(text):
        facts.extend(f.shifted(offset) for f in find_in_segment(segment))
    return facts


class AllowedFacts:
    """The normalised facts of the allowed texts (the sources the model was given)."""

    def __init__(self, texts: Iterable[str], *, claims_from: Iterable[str] | None = None) -> None:
        self.urls: set[str] = set()
        self.hosts: set[str] = set()
        self.phones: set[str] = set()
        self.amounts: set[Decimal] = set()
        self.cerfas: set[tuple[str, str]] = set()
        texts = list(texts)
        for text in texts:
            self._add(text)
        # Durations and polarity are checked against every text the model was given (claims_from): a
        # delay cited to the wrong extract is a citation slip, not an invented fact; URLs, phone
        # numbers and amounts must come from the cited sources themselves (SPEC.md).
        self.claims = SourceClaims(texts if claims_from is None else list(claims_from))

    def _add(self, text: str) -> None:
        facts = find_facts(text)
        for fact in facts:
            if fact.kind == "url":
                url = normalise_url(fact.value)
                self.urls.add(url)
                self.hosts.add(url.split("/", 1)[0])
            elif fact.kind == "phone":
                self.phones.add(normalise_phone(fact.value))
            elif fact.kind == "amount":
                value = amount_value(fact.value)
                if value is not None:
                    self.amounts.add(value)
            else:
                self.cerfas.add(cerfa_key(fact.value))
        self.phones.update(_long_digit_runs(text, facts))
        self.cerfas.update((m.group(1), "") for m in _CERFA_IN_URL.finditer(text))

    def permits(self, fact: Fact) -> bool:
        if fact.kind == "url":
            url = normalise_url(fact.value)
            # A bare site name ("ants.gouv.fr") is fine when a source links to that site.
            return url in self.urls or ("/" not in url and "@" not in url and url in self.hosts)
        if fact.kind == "phone":
            return normalise_phone(fact.value) in self.phones
        if fact.kind == "amount":
            value = amount_value(fact.value)
            return value is not None and value in self.amounts
        number, version = cerfa_key(fact.value)
        # "cerfa n°12345" is backed by "12345*01"; a version the sources do not give is not.
        return (number, version) in self.cerfas or (
            not version and any(known == number for known, _ in self.cerfas)
        )


def _long_digit_runs(text: str, facts: Sequence[Fact]) -> set[str]:
    blanked = list(text)
    for fact in facts:
        if fact.kind in ("amount", "cerfa"):
            blanked[fact.start : fact.end] = "|" * (fact.end - fact.start)
    runs = (normalise_phone(m.group()) for m in _DIGIT_RUN.finditer("".join(blanked).replace("(0)", "")))
    return {run for run in runs if len(run) >= _MIN_RUN_DIGITS}


def _guard_segment(segment: str, allowed: AllowedFacts) -> tuple[str, list[GuardRemoval]]:
    if allowed.claims.contradicts(segment):
        # The whole statement is inverted: no part of it can stay. Its line break (if any) stays.
        body = segment.rstrip()
        return REMOVED_MARKER + segment[len(body) :], [GuardRemoval("polarity", body.strip())]
    removed: list[GuardRemoval] = []
    parts: list[str] = []
    last = 0
    for kind, value, start, end in _unbacked(segment, allowed):
        parts.append(segment[last:start])
        parts.append(REMOVED_MARKER)
        last = end
        removed.append(GuardRemoval(kind, value))
    parts.append(segment[last:])
    return "".join(parts), removed


def _unbacked(segment: str, allowed: AllowedFacts) -> list[tuple[FactKind, str, int, int]]:
    """(kind, value, start, end) of the facts and durations of segment no allowed text backs, in order."""
    found: list[tuple[FactKind, str, int, int]] = [
        (f.kind, f.value, f.start, f.end) for f in find_in_segment(segment) if not allowed.permits(f)
    ]
    taken = [(f.start, f.end) for f in find_in_segment(segment)]
    position = 0
    for written, value in durations(segment):
        start = segment.find(written, position)
        position = start + len(written)
        overlaps = any(a < position and start < b for a, b in taken)
        if value not in allowed.claims.durations and not overlaps:
            found.append(("duration", written, start, position))
    return sorted(found, key=lambda item: item[2])


def guard_answer(text: str, allowed: Sequence[str] | AllowedFacts) -> GuardResult:
    """text with every fact absent from the allowed texts replaced by REMOVED_MARKER."""
    facts = allowed if isinstance(allowed, AllowedFacts) else AllowedFacts(allowed)
    out: list[str] = []
    removed: list[GuardRemoval] = []
    for _, segment in segments(text):
        guarded, gone = _guard_segment(segment, facts)
        out.append(guarded)
        removed.extend(gone)
    return GuardResult("".join(out), tuple(removed))


class StreamGuard:
    """Guards a streamed answer: releases text only once no unverified fact can be in it.

    Everything feed() and finish() return, concatenated, equals guard_answer(full text).text.
    """

    def __init__(self, allowed: Sequence[str] | AllowedFacts) -> None:
        self._allowed = allowed if isinstance(allowed, AllowedFacts) else AllowedFacts(allowed)
        self._pending = ""
        self._removed: list[GuardRemoval] = []

    @property
    def removed(self) -> tuple[GuardRemoval, ...]:
        return tuple(self._removed)

    def feed(self, delta: str) -> str:
        self._pending += delta
        points = cut_points(self._pending)
        if not points:
            return ""
        ready, self._pending = self._pending[: points[-1]], self._pending[points[-1] :]
        return self._release(ready)

    def finish(self) -> str:
        ready, self._pending = self._pending, ""
        return self._release(ready)

    def _release(self, text: str) -> str:
        result = guard_answer(text, self._allowed)
        self._removed.extend(result.removed)
        return result.text
