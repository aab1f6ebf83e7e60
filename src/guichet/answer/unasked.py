"""Cases nobody asked about: the steps of a case path that the question and situation do not name.

Without a situation, an answer quoting another fiche's exception ("Ancien combattant" beside the age of
the Aspa, "Les héritiers ne conservent pas le véhicule" for a sale) reads as the rule. Both modes read
the same steps, each at its own grain:
- the extractive composer (extractive.py) follows one case per fiche: a fiche after the first whose
  case has such a step, and that the situation does not decide, is quoted for its common text only; in
  the first fiche, each such step costs a line when the case to follow is picked;
- the model's prompt (pipeline.py, without_unasked_cases) keeps every passage of the first retrieved
  fiche, whose cases are labelled for the model, and drops the others' passages in such a case.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import replace

from guichet.answer.evidence import Extract
from guichet.lexical import QUESTION_WORDS, analyze, query_terms

# Without a situation, the case most people are in: the general case, in France; not the exceptions.
GENERAL_CASE = re.compile(r"(?i)\b(?:cas g[ée]n[ée]ral|en france|france m[ée]tropolitaine)\b")
_PERIOD = re.compile(r"\b(?:19|20)\d\d\b")
# A rule for a past period ("Avant novembre 2019", "Jusqu'au 31 décembre 2019"): when the question and
# situation name no year, the reader is under the rule in force, and this one is an exception. The year
# follows the word closely ("Avant 62 ans si né après 1960" is an age) and is over.
_PAST_PERIOD = re.compile(
    r"(?i)^\s*(?:avant|jusqu['’](?:au|à|en))\s+(?:le\s+)?(?:\d{1,2}(?:er)?\s+)?(?:[^\W\d]+\s+)?"
    r"(?P<year>(?:19|20)\d\d)\b"
)


def wanted_terms(question: str, situation: str) -> frozenset[str]:
    """The question's and situation's terms, with the fiches' own words ("voiture" -> "véhicule")."""
    return frozenset(query_terms(f"{question} {situation}")) - QUESTION_WORDS


def unasked_steps(branch: str, wanted: frozenset[str]) -> list[str]:
    """The steps of a case path that are not the general case, name no year and that the question does
    not name. A year ("2019", "Né en 1960") says when a rule applies or to whom by age: the question
    often implies it without its words, so it is no exception. Except a past period ("Avant novembre
    2019") when the question and situation name no year at all."""
    steps = branch.split(" > ") if branch else []
    dated = any(_PERIOD.fullmatch(term) for term in wanted)
    return [
        s for s in steps
        if not GENERAL_CASE.search(s) and not _period(s, dated) and not frozenset(analyze(s)) & wanted
    ]  # fmt: skip


def _period(step: str, dated: bool) -> bool:
    return bool(_PERIOD.search(step)) and (dated or not _past(step))


def _past(step: str) -> bool:
    match = _PAST_PERIOD.search(step)
    return match is not None and int(match.group("year")) < dt.date.today().year


def without_unasked_cases(extracts: Sequence[Extract], wanted: frozenset[str]) -> list[Extract]:
    """extracts less those of a case nobody asked about in a fiche after the first (the situation's
    own cases stay), numbered again from 1."""
    first = extracts[0].doc_id if extracts else ""
    kept = [
        e for e in extracts
        if e.doc_id == first or e.in_decided_case or not unasked_steps(e.branch, wanted)
    ]  # fmt: skip
    return [replace(e, n=n) for n, e in enumerate(kept, 1)]
