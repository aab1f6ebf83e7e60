"""Which cases of a fiche exclude each other, and which belong to independent BlocCas.

A fiche may hold several BlocCas: one at its top ("En France" / "À l'étranger", the reader is in one),
and others nested in a section ("Qui est concerné ? > Condition d'âge": "Cas général" / "Décès avant
2009"; "Majorations": "Âge du taux plein atteint" / "non atteint"). An answer follows one case of a
BlocCas, but the case it follows in one BlocCas says nothing of another: the age condition's "Cas
général" applies whichever majoration case is quoted.

A passage carries its case path and its section path, not the identity of its BlocCas. Two cases that
part at some level are alternatives when their labels at that level appear under a common top-level
section of the fiche: a BlocCas at the fiche's top spans its sections, a nested one stays in its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from guichet.answer.situation import on_path
from guichet.ports.records import Chunk


@dataclass(frozen=True)
class CaseLayout:
    """Case path prefix ("En France", "En France > Cas général") -> the top-level sections it appears in."""

    sections: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, chunks: Iterable[Chunk]) -> CaseLayout:
        found: dict[str, set[str]] = {}
        for chunk in chunks:
            top = chunk.section.split(" > ")[0]
            labels = chunk.branch.split(" > ") if chunk.branch else []
            for depth in range(1, len(labels) + 1):
                found.setdefault(" > ".join(labels[:depth]), set()).add(top)
        return cls({prefix: frozenset(tops) for prefix, tops in found.items()})

    def alternatives(self, case: str, branch: str) -> bool:
        """The reader is in one or the other: quoting `branch` under `case` would mix two situations.
        Unknown (a fiche not read whole): alternatives, the cautious answer."""
        if on_path(case, branch):
            return False
        a, b = case.split(" > "), branch.split(" > ")
        depth = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y) + 1
        here = self.sections.get(" > ".join(a[:depth]))
        there = self.sections.get(" > ".join(b[:depth]))
        return not here or not there or bool(here & there)
