"""An answer without a language model: verbatim sentences of the best extracts, each with its [n].

Used when no model is configured or the model is unavailable. Nothing is reworded, so nothing can be
invented; the advisor is told (EXTRACTIVE_NOTICE) that the answer is a selection of extracts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from guichet.answer.evidence import Extract
from guichet.answer.prompt import NOT_COVERED
from guichet.lexical import analyze

EXTRACTIVE_NOTICE = (
    "Réponse composée d'extraits, sans rédaction automatique : les phrases ci-dessous sont citées "
    "telles quelles depuis les fiches ; vérifiez qu'elles correspondent à la situation de l'usager."
)
MAX_SENTENCES = 8
SENTENCES_PER_EXTRACT = 4
RELATIVE_BAR = 0.75  # share of the closest passage's question terms another passage must have

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[A-ZÀ-ÖØ-Þ0-9«(\"-])")
# Words of any question: they say nothing about which passage answers it.
_QUESTION_WORDS: frozenset[str] = frozenset(
    analyze(
        "comment quel quelle quels quelles quand combien pourquoi où faire fait dois doit doivent peut "
        "peux puis veut veux voudrais faut savoir besoin usager personne demande question"
    )
)


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip().lstrip("-•").strip()
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if len(s.strip()) > 2)
    return out


def _best_sentences(extract: Extract, wanted: frozenset[str]) -> list[tuple[int, str]]:
    """(position, sentence) of the extract's sentences sharing terms with the question, best first."""
    scored = []
    for position, sentence in enumerate(_sentences(extract.chunk.text)):
        overlap = len(frozenset(analyze(sentence)) & wanted)
        if overlap:
            scored.append((-overlap, position, sentence))
    return [(position, sentence) for _, position, sentence in sorted(scored)[:SENTENCES_PER_EXTRACT]]


def _overlap(extract: Extract, wanted: frozenset[str]) -> int:
    """Question terms found in the passage or its titles."""
    return len(frozenset(analyze(extract.chunk.indexed_text)) & wanted)


def _relevant(extracts: Sequence[Extract], wanted: frozenset[str]) -> list[Extract]:
    """Passages sharing two question terms (or all of them), and nearly as many as the closest one.

    The relative bar keeps "carte Vitale" out of an answer about a "carte d'identité périmée".
    """
    overlaps = [_overlap(e, wanted) for e in extracts]
    bar = max(min(2, len(wanted)), RELATIVE_BAR * max(overlaps, default=0))
    return [e for e, overlap in zip(extracts, overlaps, strict=True) if overlap >= bar]


def compose_extractive(
    question: str, situation: str, extracts: Sequence[Extract], *, max_extracts: int = 3
) -> str:
    wanted = frozenset(analyze(f"{question} {situation}")) - _QUESTION_WORDS
    if not wanted:
        return NOT_COVERED
    lines: list[str] = []
    budget = MAX_SENTENCES
    case = ""
    for extract in _relevant(extracts, wanted)[:max_extracts]:
        if budget <= 0:
            break
        chosen = sorted(_best_sentences(extract, wanted)[:budget])
        if not chosen:  # the titles match, not one sentence: the passage's opening says what it is about
            chosen = list(enumerate(_sentences(extract.chunk.text)[:1]))
        budget -= len(chosen)
        if extract.branch and extract.branch != case:
            lines.append(f"Cas « {extract.branch} » :")
        case = extract.branch
        lines.extend(f"- {sentence} [{extract.n}]" for _, sentence in chosen)
    return "\n".join(lines) if lines else NOT_COVERED


# -- Not covered (issue 15; kept apart from the composer above, which issue 18 rewrites) ---------------

NOT_COVERED_LEAD = (
    "Les fiches indexées ne permettent pas de répondre à cette question : aucune réponse n'est "
    "proposée, pour ne pas risquer une information erronée."
)


def not_covered_answer(titles: Sequence[str]) -> str:
    """What the advisor reads when the sources do not answer: said plainly, nothing cited, the closest
    fiches named "à consulter" (their links are in the record's `consult`, not in the text)."""
    if not titles:
        return NOT_COVERED_LEAD
    listed = "\n".join(f"- {title}" for title in titles)
    return f"{NOT_COVERED_LEAD}\nÀ consulter, au cas où elles aideraient :\n{listed}"
