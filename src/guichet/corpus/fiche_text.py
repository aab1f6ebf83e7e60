"""Rendering of fiche XML content (paragraphs, lists, tables, inline links) as readable text.

The output is what an advisor reads and what gets embedded, so it favours plain French prose:
lists become "- item" lines, tables one "Header : value ; Header : value" line per row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from xml.etree.ElementTree import Element

from guichet.corpus.fiche_tables import table_rows
from guichet.corpus.model import Link, ServiceType, is_example_id

_SPACES = re.compile(r"\s+")
# Whitespace the XML indentation leaves before closing punctuation ("familial ," -> "familial,").
# ":", ";", "!" and "?" keep their French space before them.
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.)])")
_SPACE_AFTER_PAREN = re.compile(r"\(\s+")

DEFAULT_HOST = "https://www.service-public.fr"
# URL path segment of each audience on service-public (as in the feed's spUrl attributes).
_AUDIENCE_PATHS = {
    "particuliers": "particuliers",
    "professionnels": "professionnels-entreprises",
    "associations": "associations",
}

SERVICE_LABELS: dict[ServiceType, str] = {
    "teleservice": "Téléservice",
    "simulateur": "Simulateur",
    "formulaire": "Formulaire",
    "autre": "Service en ligne",
}


def normalise(text: str) -> str:
    text = _SPACES.sub(" ", text).strip()
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return _SPACE_AFTER_PAREN.sub("(", text)


def fiche_url(host: str, fiche_id: str, audience: str | None) -> str:
    """The fiche's service-public page; "" for a sample fiche (model.is_example_id): it has none."""
    if is_example_id(fiche_id):
        return ""
    path = _AUDIENCE_PATHS.get((audience or "").strip().lower(), "particuliers")
    return f"{host}/{path}/vosdroits/{fiche_id}"


def service_type(raw: str) -> ServiceType:
    """Map the feed's type label to the model's ServiceType ("Formulaire, Cerfa" is a formulaire)."""
    label = raw.strip().lower()
    if label.startswith("téléservice"):
        return "teleservice"
    if label.startswith("simulateur"):
        return "simulateur"
    if label.startswith("formulaire"):
        return "formulaire"
    return "autre"


class TextRenderer:
    """Renders elements of one fiche; collects the inline links it meets on the way.

    host: scheme and host of the fiche's own spUrl, so that links of a 3.4 fiche point to
    service-public.gouv.fr like the fiche itself.
    """

    def __init__(self, host: str = DEFAULT_HOST, audience: str = "particuliers") -> None:
        self.host = host
        self.audience = audience
        self.links: list[Link] = []

    # -- inline content -------------------------------------------------------------------
    def inline(self, elem: Element | None) -> str:
        if elem is None:
            return ""
        return normalise("".join(self._inline_parts(elem)))

    def _inline_parts(self, elem: Element) -> Iterable[str]:
        yield elem.text or ""
        for child in elem:
            yield self._inline_child(child)
            yield child.tail or ""

    def _inline_child(self, child: Element) -> str:
        tag = child.tag
        if tag in ("Condition", "Image", "Illustration"):
            return " "
        text = "".join(self._inline_parts(child))
        if tag == "LienExterne":
            return self._external(child, normalise(text))
        if tag == "LienInterne":
            self._internal(child, normalise(text))
        elif tag == "Paragraphe":
            # Paragraphs inside an inline container (a Titre, a Cellule) are separate sentences.
            return f" {text} "
        return text

    def _external(self, child: Element, text: str) -> str:
        url = (child.get("URL") or "").strip()
        if not url:
            return text
        self.links.append(Link(title=text, url=url))
        return f"{text} ({url})" if text else url

    def _internal(self, child: Element, text: str) -> str:
        target = (child.get("LienPublication") or "").strip()
        if target:
            url = fiche_url(self.host, target, child.get("audience") or self.audience)
            self.links.append(Link(title=text, url=url, target_id=target))
        return target

    def external_link(self, link: Element) -> str:
        """A LienExterne element itself as "title (url)", collected like an inline one."""
        return self._external(link, self.inline(link))

    def target(self, link: Element, title: str) -> str:
        """Where a bare LienInterne ("fiche F1636") or LienExterne (its URL) leads; collected under title."""
        if link.tag == "LienInterne":
            target = self._internal(link, title)
            return f"fiche {target}" if target else ""
        url = (link.get("URL") or "").strip() if link.tag == "LienExterne" else ""
        if url:
            self.links.append(Link(title=title, url=url))
        return url

    def title(self, elem: Element) -> str:
        """The Titre child of elem (which may hold Paragraphe elements), or ""."""
        return self.inline(elem.find("Titre"))

    # -- flow content ---------------------------------------------------------------------
    def flow(self, elem: Element) -> list[str]:
        """Lines for one flow element (Paragraphe, Liste, Tableau, ...); [] for structure."""
        tag = elem.tag
        if tag in ("Titre", "Condition", "Image", "Resume"):
            return []
        if tag == "Paragraphe":
            return _non_empty([self.inline(elem)])
        if tag == "Liste":
            return self.list_lines(elem, depth=0)
        if tag == "Tableau":
            return self.table_lines(elem)
        if tag == "ServiceEnLigne":
            label = SERVICE_LABELS[service_type(elem.get("type") or "")]
            return _non_empty([f"{label} : {self.title(elem)}"])
        if tag in ("OuSAdresser", "QuiPeutMAider"):
            return _non_empty([f"Où s'adresser : {self.title(elem)}"])
        if tag == "Exemple":
            body = " ".join(self.flow_children(elem))
            return _non_empty([f"Exemple : {body}" if body else ""])
        if len(elem):
            return self.flow_children(elem)
        return _non_empty([self.inline(elem)])

    def flow_children(self, elem: Element) -> list[str]:
        return [line for child in elem for line in self.flow(child)]

    def list_lines(self, liste: Element, depth: int) -> list[str]:
        numbered = liste.get("type") == "numero"
        lines: list[str] = []
        for number, item in enumerate(liste.findall("Item"), start=1):
            bullet = f"{number}." if numbered else "-"
            text = " ".join(_non_empty([self.inline(p) for p in item.findall("Paragraphe")]))
            if text:
                lines.append(f"{'  ' * depth}{bullet} {text}")
            for sub in item.findall("Liste"):
                lines.extend(self.list_lines(sub, depth + 1))
        return lines

    def table_lines(self, table: Element) -> list[str]:
        rows = table.findall("Rangée")
        cells = [
            [
                (self.cell(c), _span(c, "fusionHorizontale"), _span(c, "fusionVerticale"))
                for c in row.findall("Cellule")
            ]
            for row in rows
        ]
        header_rows = next((i for i, row in enumerate(rows) if row.get("type") != "header"), len(rows))
        return _non_empty([self.title(table)]) + table_rows(cells, header_rows)

    def cell(self, cell: Element) -> str:
        parts = [self.inline(p) if p.tag == "Paragraphe" else " ".join(self.flow(p)) for p in cell]
        return normalise(" ".join(_non_empty(parts)))


def _span(cell: Element, merge: str) -> int:
    raw = cell.get(merge) or "1"
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100 else 1


def _non_empty(items: Iterable[str]) -> list[str]:
    return [s for s in items if s]
