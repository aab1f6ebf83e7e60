"""Questions the advisor may ask next, from what the retrieved fiches point to.

Candidates: the QuestionReponse and VoirAussi entries of the extracts' fiches, and the extracts' own
question-réponse fiches (their title is a question). They are ranked by lexical closeness to the
question (the French analyser of text.py: cheap, no embedding), with a small bonus for candidates of
the best-ranked fiches, and deduplicated by id and by wording.

Fiches the answer already cites are left out (`exclude`): the advisor sees them as sources already, and
a related question is worth its place only if it opens something new. A retrieved question-réponse
fiche the answer did not cite is, on the contrary, a good candidate: it was close to the question.
The question itself is left out too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from guichet.answer.evidence import Extract
from guichet.answer.record import RelatedQuestionRef
from guichet.lexical import analyze, fold

FICHE_BONUS = 0.15  # weight of the fiche's retrieval rank against lexical similarity (0..1)


@dataclass(frozen=True)
class _Candidate:
    ref: RelatedQuestionRef
    doc_rank: int
    order: int
    is_link: bool = False  # a VoirAussi title, not worded as a question


def _wording(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", fold(text)))


def _candidates(extracts: Sequence[Extract]) -> list[_Candidate]:
    out: list[_Candidate] = []
    ranks: dict[str, int] = {}
    for extract in sorted(extracts, key=lambda e: e.n):
        if extract.doc_id in ranks:
            continue
        rank = ranks[extract.doc_id] = len(ranks)
        doc = extract.document
        if doc.is_question:
            out.append(
                _Candidate(RelatedQuestionRef(extract.doc_id, extract.title, extract.url), rank, len(out))
            )
        for q in doc.questions:
            out.append(_Candidate(RelatedQuestionRef(q.id or q.url, q.question, q.url), rank, len(out)))
        for link in doc.see_also:
            ref = RelatedQuestionRef(link.target_id or link.url, link.title, link.url)
            out.append(_Candidate(ref, rank, len(out), is_link=True))
    return out


def _similarity(question: frozenset[str], text: str) -> float:
    terms = frozenset(analyze(text))
    if not question or not terms:
        return 0.0
    return len(question & terms) / math.sqrt(len(question) * len(terms))


def related_questions(
    question: str, extracts: Sequence[Extract], *, limit: int = 5, exclude: Collection[str] = ()
) -> tuple[RelatedQuestionRef, ...]:
    asked = frozenset(analyze(question))
    # One candidate per id: a fiche both listed as a question and as "voir aussi" keeps its question.
    by_id: dict[str, _Candidate] = {}
    for c in _candidates(extracts):
        if not c.ref.id or not c.ref.question.strip() or c.ref.id in exclude:
            continue
        known = by_id.get(c.ref.id)
        if known is None or (known.is_link and not c.is_link):
            by_id[c.ref.id] = c
    scored: list[tuple[float, int, _Candidate]] = []
    for c in by_id.values():
        score = _similarity(asked, c.ref.question) + FICHE_BONUS / (1 + c.doc_rank)
        scored.append((-score, c.order, c))
    out: list[RelatedQuestionRef] = []
    seen_wordings = {_wording(question)}
    for _, _, c in sorted(scored, key=lambda s: (s[0], s[1])):
        wording = _wording(c.ref.question)
        if wording in seen_wordings:
            continue
        seen_wordings.add(wording)
        out.append(c.ref)
        if len(out) >= limit:
            break
    return tuple(out)
