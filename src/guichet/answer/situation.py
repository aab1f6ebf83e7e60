"""Choosing, among retrieved passages, the Situation/Cas branch that fits the citizen's situation.

Lexical and cheap: each level of a passage's branch ("Né à l'étranger > Par courrier") is scored by how
many of its analysed terms the situation has (then by the share of the label they cover). Of two
passages of the same fiche that part at some level, the one whose label there scores lower than its
sibling's contradicts the situation. A passage that matches somewhere and contradicts nowhere is moved
up to its fiche's first place; one that contradicts goes last. Everything else keeps the retrieval order.

Only passages among the hits are compared: the caller should retrieve with the situation in the query,
so that the matching case is among them. Lexical matching has blind spots ("né au Maroc" says nothing
of "né à l'étranger"; "nationalité française" shares a stem with "né en France").
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from guichet.lexical import analyze
from guichet.ports.records import Chunk

# Words of branch labels that say nothing about a situation ("Cas général", "Autre situation"); "ans"
# because ages need arithmetic: "30 ans" shares "ans" with "moins de 25 ans" and "25 ans ou plus" alike.
_GENERIC: frozenset[str] = frozenset(analyze("cas général autre autres situation situations vous êtes ans"))
_CONDITION = " — Condition : "


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


def _level_scores(chunk: Chunk, wanted: frozenset[str]) -> tuple[float, ...]:
    levels = branch_levels(chunk)
    scores: list[float] = []
    for depth, label in enumerate(levels):
        terms = _terms(label)
        if depth == len(levels) - 1 and _CONDITION in chunk.context:
            terms = terms | _terms(chunk.context.split(_CONDITION, 1)[1])
        shared = len(terms & wanted)
        # Shared terms first, then the share of the label they cover (< 1, so only a tie-break).
        scores.append(shared + shared / (2 * len(terms)) if terms else 0.0)
    return tuple(scores)


def _contradicted(a: Chunk, a_scores: tuple[float, ...], b: Chunk, b_scores: tuple[float, ...]) -> bool:
    """a and b part at some level of their branch, and there b's label fits the situation better."""
    a_levels, b_levels = branch_levels(a), branch_levels(b)
    for depth in range(min(len(a_levels), len(b_levels))):
        if a_levels[depth] != b_levels[depth]:
            return b_scores[depth] > a_scores[depth]
    return False


def situation_order(chunks: Sequence[Chunk], situation: str) -> list[tuple[int, bool]]:
    """(position in chunks, matches the situation) pairs, in the order the passages should be used."""
    wanted = frozenset(analyze(situation)) - _GENERIC
    if not wanted:
        return [(i, False) for i in range(len(chunks))]
    scores = [_level_scores(c, wanted) for c in chunks]
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
