"""Cutting a fiche into addressable Blocks that keep their Chapitre path and Situation/Cas branch.

An advisor's question usually matches one case ("vous êtes à l'étranger"), so each Situation and
each Cas becomes its own block, with the path of branches that leads to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from guichet.corpus.fiche_guided import SECTION_TAGS, sections
from guichet.corpus.fiche_text import TextRenderer
from guichet.corpus.model import Block

# Containers whose children belong to the enclosing flow (no title, no branch of their own).
_TRANSPARENT = frozenset({"Texte", "FragmentConditionne", "Introduction", "ContenuIllustre", "Contenu"})
_NOTE_LABELS = {"ANoter": "À noter", "Attention": "Attention", "ASavoir": "À savoir", "Rappel": "Rappel"}
_STRUCTURE = frozenset({"Chapitre", "SousChapitre", "ListeSituations", "BlocCas", "SousDossier", "SousTheme"})
# Top-level Publication children that carry text; the rest is metadata read elsewhere.
_TOP_TEXT = frozenset({"Texte", "ListeSituations", "SousDossier", "SousTheme", "Fiche", "Dossier"})


@dataclass(frozen=True)
class _Path:
    titles: tuple[str, ...] = ()
    branch: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()

    def with_title(self, title: str) -> _Path:
        return _Path((*self.titles, title) if title else self.titles, self.branch, self.conditions)

    def with_branch(self, title: str, condition: str) -> _Path:
        conditions = (*self.conditions, condition) if condition else self.conditions
        return _Path(self.titles, (*self.branch, title), conditions)


@dataclass
class BlockBuilder:
    """Walks a Publication and accumulates its Blocks in document order.

    labels: questionnaire variable -> readable choice ("T10280" -> "Vous êtes locataire"), used to
    turn a Condition (only variable references in the feed) into text.
    """

    text: TextRenderer
    labels: dict[str, str] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def build(self, root: Element) -> list[Block]:
        for child in root:
            if child.tag == "Introduction":
                self._emit("introduction", self.text.flow_children(child), _Path())
            elif child.tag == "Avertissement":
                lines = [self.text.title(child), *self.text.flow_children(child)]
                self._emit("note", _prefixed("Avertissement", lines), _Path())
            elif child.tag in _TOP_TEXT:
                self._walk_items(_expand(child), _Path())
            elif child.tag in SECTION_TAGS:
                for title, lines in sections(child, self.text):
                    self._emit("section", lines, _Path().with_title(title))
        return self.blocks

    def _walk(self, elem: Element, path: _Path) -> None:
        self._walk_items(_flatten(elem), path)

    def _walk_items(self, items: Iterator[Element], path: _Path) -> None:
        lines: list[str] = []
        for child in items:
            if _is_structure(child):
                self._emit_flow(lines, path)
                lines = []
                self._structure(child, path)
            else:
                lines.extend(self._flow(child))
        self._emit_flow(lines, path)

    def _flow(self, child: Element) -> list[str]:
        if child.tag in ("Fiche", "Dossier"):  # entries of a dossier or theme page
            titre = child.find("Titre")
            return [f"- {self.text.inline(child if titre is None else titre)}"]
        return self.text.flow(child)

    def _structure(self, elem: Element, path: _Path) -> None:
        tag = elem.tag
        if tag in ("Chapitre", "SousChapitre", "SousDossier", "SousTheme", "Dossier"):
            self._walk(elem, path.with_title(self.text.title(elem)))
        elif tag == "ListeSituations":
            for situation in elem.findall("Situation"):
                self._walk(situation, self._branch(situation, path))
        elif tag == "BlocCas":
            for cas in elem.findall("Cas"):
                self._walk(cas, self._branch(cas, path))
        else:
            label = self.text.title(elem) or _NOTE_LABELS[tag]
            self._emit("note", _prefixed(label, self.text.flow_children(elem)), path)

    def _branch(self, elem: Element, path: _Path) -> _Path:
        return path.with_branch(self.text.title(elem), self.condition(elem.find("Condition")))

    def condition(self, cond: Element | None) -> str:
        """Readable form of a Condition; "" when its variables have no questionnaire label."""
        if cond is None:
            return ""
        if cond.tag == "estVrai":
            return self.labels.get(cond.get("var") or "", "")
        parts = [p for p in (self.condition(c) for c in cond) if p]
        return (" et " if cond.tag == "et" else " ou ").join(parts)

    def _emit_flow(self, lines: list[str], path: _Path) -> None:
        self._emit("branch" if path.branch else "section", lines, path)

    def _emit(self, kind: str, lines: list[str], path: _Path) -> None:
        text = "\n".join(line for line in lines if line)
        if text:
            condition = " ; ".join(path.conditions)
            self.blocks.append(Block(kind, text, path.titles, path.branch, condition))


def questionnaire_labels(root: Element, text: TextRenderer) -> dict[str, str]:
    """Variables set by a Questionnaire choice, with the choice's "Vous êtes ..." wording."""
    labels: dict[str, str] = {}
    for choice in root.iter("Choix"):
        label = text.inline(choice.find("IntituleSiSelectionne")) or text.title(choice)
        for assign in choice.iter("affecteVrai"):
            var = assign.get("var")
            if var and label:
                labels.setdefault(var, label)
    return labels


def _flatten(elem: Element) -> Iterator[Element]:
    for child in elem:
        yield from _expand(child)


def _expand(elem: Element) -> Iterator[Element]:
    if elem.tag in _TRANSPARENT:
        yield from _flatten(elem)
    else:
        yield elem


def _is_structure(elem: Element) -> bool:
    """Titled containers and notes; a Dossier only when it lists its fiches (a theme's Dossier)."""
    if elem.tag == "Dossier":
        return elem.find("Fiche") is not None
    return elem.tag in _STRUCTURE or elem.tag in _NOTE_LABELS


def _prefixed(label: str, lines: list[str]) -> list[str]:
    lines = [line for line in lines if line]
    if not lines:
        return []
    return [f"{label} : {lines[0]}", *lines[1:]]
