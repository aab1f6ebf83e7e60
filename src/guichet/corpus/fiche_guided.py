"""Guided searches and commented external links, each rendered as one titled section.

A "Recherche guidée" is a decision tree: every Problematique (a first choice) holds Branche
elements, nested to any depth, whose leaves point to the fiche that answers the case. A "Fiche avec
liens externes" is a list of LienExterneCommente: an optional comment, an external link, its source.
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree.ElementTree import Element

from guichet.corpus.fiche_text import TextRenderer

# Top-level Publication children rendered here.
SECTION_TAGS = frozenset({"Problematiques", "LienExterneCommente"})
_LINKS = ("LienInterne", "LienExterne")


def sections(elem: Element, text: TextRenderer) -> Iterator[tuple[str, list[str]]]:
    """(title, lines) of each section of a Problematiques or LienExterneCommente element."""
    if elem.tag == "Problematiques":
        for problem in elem.findall("Problematique"):
            yield text.title(problem), _problem_lines(problem, text)
    elif elem.tag == "LienExterneCommente":
        yield _commented_link(elem, text)


def _problem_lines(problem: Element, text: TextRenderer) -> list[str]:
    """Help text, the Problematique's own link if it is a leaf, then its branches as a nested list."""
    lines = _help(problem, text, "")
    if any(child.tag in _LINKS for child in problem):
        lines.append(_entry(problem, text))
    return lines + _branches(problem, text, 0)


def _branches(elem: Element, text: TextRenderer, depth: int) -> list[str]:
    lines: list[str] = []
    for branch in elem.findall("Branche"):
        lines.append("  " * depth + _entry(branch, text))
        lines.extend(_help(branch, text, "  " * (depth + 1)))
        lines.extend(_branches(branch, text, depth + 1))
    return lines


def _entry(elem: Element, text: TextRenderer) -> str:
    """The line of one choice, "- <title> (<targets>)": the fiches or URLs it leads to."""
    title = text.title(elem)
    targets = [text.target(child, title) for child in elem if child.tag in _LINKS]
    joined = ", ".join(t for t in targets if t)
    return f"- {title} ({joined})" if joined else f"- {title}"


def _help(elem: Element, text: TextRenderer, indent: str) -> list[str]:
    """The Aide text shown under a choice ("Il doit s'agir d'un passeport français")."""
    return [indent + line for aide in elem.findall("Aide") for line in text.flow_children(aide)]


def _commented_link(elem: Element, text: TextRenderer) -> tuple[str, list[str]]:
    link = elem.find("LienExterne")
    lines = [line for comment in elem.findall("Commentaire") for line in text.flow_children(comment)]
    if link is not None:
        lines.append(f"Lien : {text.external_link(link)}")
    source = text.inline(elem.find("Source"))
    if source:
        lines.append(f"Source : {source}")
    return text.inline(link), lines
