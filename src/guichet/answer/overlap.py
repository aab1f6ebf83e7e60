"""Passages that open on the end of the passage before: the chunker's overlap (corpus/chunking.py).

A long block is cut into windows, each opening on one line that repeats the last words of the window
before, so that a sentence cut from its antecedent still reads when embedded. Quoted, that line is a
fragment: "7 850 € ; Moins de 1,5 UC : 98 € ; …" is the end of a table row whose first cells are in the
passage before. Whether a passage opens so is read from the passage before it: it ends on those words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from guichet.ports.records import Chunk

if TYPE_CHECKING:
    from guichet.answer.evidence import Extract


def with_continuations(extracts: list[Extract], passages: Callable[[str], list[Chunk]]) -> list[Extract]:
    """extracts, those whose first line repeats the passage before marked `continues`; passages(key):
    all the passages of a fiche (evidence.py reads each fiche once)."""
    keys = dict.fromkeys(e.chunk.doc_key for e in extracts if _may_continue(e.chunk))
    before = {(key, chunk.ordinal + 1): chunk for key in keys for chunk in passages(key)}
    return [
        replace(e, continues=True)
        if continues(e.chunk, before.get((e.chunk.doc_key, e.chunk.ordinal)))
        else e
        for e in extracts
    ]


def continues(chunk: Chunk, previous: Chunk | None) -> bool:
    """chunk's first line is the last words of previous, the passage before it in the same block."""
    if previous is None or not _may_continue(chunk):
        return False
    if (previous.section, previous.branch) != (chunk.section, chunk.branch):
        return False
    first = chunk.text.split("\n", 1)[0].split()
    return _ends_with(previous.text.split(), first)


def _may_continue(chunk: Chunk) -> bool:
    return chunk.ordinal > 0 and "\n" in chunk.text


def _ends_with(words: Sequence[str], tail: Sequence[str]) -> bool:
    return bool(tail) and len(words) >= len(tail) and list(words[-len(tail) :]) == list(tail)
