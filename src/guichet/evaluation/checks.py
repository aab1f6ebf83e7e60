"""Mechanical checks of one answer against what the pipeline retrieved and what the case expects.

Nothing here needs a model: citations must point to retrieved fiches, each cited sentence must share
most of its content words (stemmed, guichet.lexical.analyze) with its sources, URLs / phone numbers /
amounts / cerfa numbers must be found in the cited sources (the output guard's own extractors, run
again on the final text), expected facts and links must be there, and the answer must follow the
expected Situation/Cas branch. A sentence that fails the lexical bar may still pass on meaning when a
similarity function (the embedder) is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from guichet.answer.citations import cited_numbers
from guichet.answer.guard import find_facts, guard_answer, segments
from guichet.answer.guard_claims import SourceClaims
from guichet.answer.guard_facts import normalise_url
from guichet.answer.passage_units import REFERS_BACK
from guichet.answer.prompt import is_not_covered
from guichet.answer.record import AnswerRecord
from guichet.answer.situation import on_path
from guichet.evaluation.cases import EvalCase
from guichet.lexical import analyze, fold

SUPPORT_BAR = 0.6  # share of a cited sentence's content words found in its sources
SEMANTIC_BAR = 0.85  # cosine similarity that rescues a sentence the lexical bar missed
MIN_CLAIM_TERMS = 3  # shorter segments ("Voici les étapes :") are not claims
_MARKERS = re.compile(r"\[[^\[\]]{1,40}\]")
_CASE_LINE = re.compile(r"^\s*Cas « (?P<branch>.+) » :\s*$")
_LIST_OR_TABLE = re.compile(r"^(?:[-•|]|\d{1,2}[.)] )")
UNFINISHED_MIN_WORDS = 8  # shorter lines without a full stop are labels or captions ("Où s'adresser")

Similarity = Callable[[str, Sequence[str]], float]


@dataclass(frozen=True)
class Checks:
    outside_citations: tuple[str, ...] = ()  # sources not retrieved, markers pointing to no source
    unsupported_citations: tuple[str, ...] = ()  # cited sentences their sources do not support
    uncited_claims: tuple[str, ...] = ()
    unsupported_facts: tuple[str, ...] = ()  # "kind: value"
    missing_facts: tuple[str, ...] = ()
    missing_links: tuple[str, ...] = ()
    wrong_branches: tuple[str, ...] = ()  # cases the answer followed instead of the expected one
    branch: str = ""  # "ok", "wrong", "none" (no case of the expected fiche cited), "" (not asked)
    coverage: str = "ok"  # "ok", "answered_out_of_corpus", "said_not_covered"
    duplicated_lines: tuple[str, ...] = ()  # lines that say again what an earlier line said
    orphan_lines: tuple[str, ...] = ()  # extracts that cannot be read alone (orphan_lines below)

    @property
    def ungrounded_claims(self) -> int:
        return len(self.unsupported_citations) + len(self.uncited_claims)

    def counts(self) -> dict[str, int]:
        return {
            "outside_citations": len(self.outside_citations),
            "ungrounded_claims": self.ungrounded_claims,
            "unsupported_citations": len(self.unsupported_citations),
            "uncited_claims": len(self.uncited_claims),
            "unsupported_facts": len(self.unsupported_facts),
            "missing_facts": len(self.missing_facts),
            "missing_links": len(self.missing_links),
            "wrong_branches": len(self.wrong_branches),
            "coverage_errors": int(self.coverage != "ok"),
            "duplicated_lines": len(self.duplicated_lines),
            "orphan_lines": len(self.orphan_lines),
        }


def check_answer(
    case: EvalCase,
    record: AnswerRecord,
    retrieved: Sequence[str],
    source_texts: Mapping[str, Sequence[str]],
    similarity: Similarity | None = None,
) -> Checks:
    """retrieved: fiche ids the pipeline retrieved; source_texts: fiche id -> its passages and links."""
    texts_of = {s.n: list(source_texts.get(s.id, ())) for s in record.sources}
    # A decline asserts nothing: the fiches it names "à consulter" are titles, not claims or facts.
    asserted = "" if said_not_covered(record) else record.answer
    unsupported, uncited = grounding(asserted, texts_of, similarity)
    cited_texts = [t for texts in texts_of.values() for t in texts]
    branch, wrong = branch_check(case, record)
    return Checks(
        outside_citations=outside_citations(record, retrieved),
        unsupported_citations=unsupported,
        uncited_claims=uncited,
        unsupported_facts=tuple(f"{r.kind}: {r.value}" for r in guard_answer(asserted, cited_texts).removed),
        missing_facts=missing_facts(case.expected_facts, record.answer),
        missing_links=missing_links(case.expected_links, record),
        wrong_branches=wrong,
        branch=branch,
        coverage=coverage(case, record),
        duplicated_lines=duplicated_lines(record.answer),
        orphan_lines=orphan_lines(record.answer) if record.mode == "extractive" else (),
    )


def outside_citations(record: AnswerRecord, retrieved: Sequence[str]) -> tuple[str, ...]:
    known = set(retrieved)
    outside = [s.id for s in record.sources if s.id not in known]
    numbers = {s.n for s in record.sources}
    outside += [f"[{n}]" for n in cited_numbers(record.answer) if n not in numbers]
    return tuple(outside)


def claims(answer: str) -> list[tuple[str, list[int]]]:
    """(sentence, cited source numbers) for each claim.

    A sentence without a marker takes those of its line (a bullet cites once, at its end), and a lone
    "[1]" after a sentence belongs to it.
    """
    out: list[tuple[str, list[int]]] = []
    for line in answer.splitlines():
        line_numbers = cited_numbers(line)
        for _, segment in segments(line):
            text = segment.strip()
            if not text or _CASE_LINE.match(text) or is_not_covered(text):
                continue
            numbers = cited_numbers(text)
            if len(analyze(_MARKERS.sub(" ", text))) < MIN_CLAIM_TERMS:
                if numbers and out:
                    out[-1][1].extend(n for n in numbers if n not in out[-1][1])
                continue
            out.append((text, numbers or list(line_numbers)))
    return out


def support(sentence: str, texts: Sequence[str]) -> float:
    """Share of the sentence's content words (stemmed, markers removed) found in texts."""
    terms = set(analyze(_MARKERS.sub(" ", sentence)))
    if not terms:
        return 1.0
    return len(terms & set(analyze(" ".join(texts)))) / len(terms)


def grounding(
    answer: str, texts_of: Mapping[int, Sequence[str]], similarity: Similarity | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(cited sentences without support in their sources, claims citing nothing)."""
    unsupported: list[str] = []
    uncited: list[str] = []
    for sentence, numbers in claims(answer):
        texts = [t for n in numbers for t in texts_of.get(n, ())]
        if not numbers:
            uncited.append(sentence)
        elif texts and SourceClaims(texts).problems(sentence):
            # An inverted rule or a changed delay: word overlap would call it supported.
            unsupported.append(sentence)
        elif support(sentence, texts) < SUPPORT_BAR and not (
            similarity is not None
            and texts
            and similarity(_MARKERS.sub(" ", sentence), texts) >= SEMANTIC_BAR
        ):
            unsupported.append(sentence)
    return tuple(unsupported), tuple(uncited)


def _plain(text: str) -> str:
    return " ".join(fold(text).replace("’", "'").split())


def missing_facts(facts: Sequence[str], answer: str) -> tuple[str, ...]:
    plain = _plain(answer)
    return tuple(f for f in facts if _plain(f) not in plain)


def duplicated_lines(answer: str) -> tuple[str, ...]:
    """Lines of three words or more said twice in one answer (citation markers, bullets, table bars,
    case and accents ignored): two cases or two fiches quoting the same text, in either mode."""
    seen: set[str] = set()
    dups: list[str] = []
    for line in answer.splitlines():
        key = " ".join(_plain(_MARKERS.sub(" ", line)).strip(" -•*|").split())
        if len(key.split()) < MIN_CLAIM_TERMS:
            continue
        if key in seen:
            dups.append(line.strip())
        seen.add(key)
    return tuple(dups)


def orphan_lines(answer: str) -> tuple[str, ...]:
    """Quoted lines an advisor cannot read alone: one opening with a pronoun for what an unquoted
    sentence named ("Elle peut être apportée par la vignette…": not right under a line of the same
    extract, nor under its case heading), or a sentence the list it introduced should end, quoted
    without it ("… le demandeur dispose"). For extracts: a drafted answer may well open a line with
    "Elle" about the line before."""
    raw = answer.splitlines()
    lines = [" ".join(_MARKERS.sub(" ", line).split()) for line in raw]
    orphans = []
    for number, line in enumerate(lines):
        if not line or _LIST_OR_TABLE.match(line) or _CASE_LINE.match(line):
            continue
        above = lines[number - 1] if number else ""
        following = lines[number + 1] if number + 1 < len(lines) else ""
        unfinished = (
            line[-1].isalpha() and len(line.split()) >= UNFINISHED_MIN_WORDS and " : " not in line
            and not _LIST_OR_TABLE.match(following)
        )  # fmt: skip
        # Under its case heading, or under a line of the same extract: a sentence, or the list "Ces
        # aides" names ("Le FSL accorde 2 formes d'aide :" / "- une subvention" / "- ou un prêt").
        same_extract = bool(above) and cited_numbers(raw[number - 1]) == cited_numbers(raw[number])
        referred = _CASE_LINE.match(above) or same_extract
        if unfinished or (REFERS_BACK.match(line) and not referred):
            orphans.append(line)
    return tuple(orphans)


def missing_links(links: Sequence[str], record: AnswerRecord) -> tuple[str, ...]:
    present = {normalise_url(link.url) for link in record.links}
    present |= {normalise_url(f.value) for f in find_facts(record.answer) if f.kind == "url"}
    return tuple(url for url in links if normalise_url(url) not in present)


def branch_check(case: EvalCase, record: AnswerRecord) -> tuple[str, tuple[str, ...]]:
    """("ok" | "wrong" | "none" | "", the cited cases that contradict the expected one)."""
    if not case.expected_branch:
        return "", ()
    expected_numbers = {s.n for s in record.sources if s.id in case.expected_sources}
    followed = [s.branch for s in record.sources if s.n in expected_numbers and s.branch]
    followed += _case_lines(record.answer, expected_numbers)
    wrong = tuple(dict.fromkeys(b for b in followed if not on_path(case.expected_branch, b)))
    if wrong:
        return "wrong", wrong
    return ("ok" if followed else "none"), ()


def _case_lines(answer: str, numbers: set[int]) -> list[str]:
    """The "Cas « … » :" headings of an extractive answer whose sentences cite one of numbers."""
    found: list[str] = []
    current = ""
    for line in answer.splitlines():
        match = _CASE_LINE.match(line)
        if match:
            current = match.group("branch")
        elif current and numbers & set(cited_numbers(line)):
            found.append(current)
    return found


def said_not_covered(record: AnswerRecord) -> bool:
    return not record.covered or not record.sources or is_not_covered(record.answer)


def coverage(case: EvalCase, record: AnswerRecord) -> str:
    silent = said_not_covered(record)
    if case.expect_not_covered:
        return "ok" if silent else "answered_out_of_corpus"
    return "said_not_covered" if silent and case.expected_sources else "ok"
