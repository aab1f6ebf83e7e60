"""A passage's text (corpus/fiche_text.py's rendering) read back as sentences, lists and tables.

fiche_text renders a list as "- item" (or "1. item") lines and a table as its caption then one
"Header : value ; Header : value" line per row. The extractive composer quotes these units verbatim and
keeps a list or a table whole, so it reads them back here. Inline links "text (https://…)" become
"[text](https://…)": the page shows a link instead of a raw URL glued to the next word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

UnitKind = Literal["sentence", "item", "row", "caption"]

SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[A-ZÀ-ÖØ-Þ0-9«(\"-])")
# A sentence opening with these refers back to what the sentence before it names ("Elle peut être
# apportée par la vignette"): quoted alone, it does not say what it is about. "Il faut", "Il est
# possible" are impersonal: not listed.
REFERS_BACK = re.compile(r"(?:Elles?|Ils|Celui-ci|Celle-ci|Ceux-ci|Celles-ci|Cette|Ces|Cela|Ceci)\b")
_ITEM = re.compile(r"^(?P<indent>\s*)(?P<bullet>[-•]|\d{1,2}[.)])\s+(?P<text>.+)$")
# A header may stack two header rows ("Durée en début de carrière – Si vous êtes né entre janvier et…").
_CELL = re.compile(r"^(?P<header>[^:;]{1,160}?) : (?P<value>.+)$")
# The link's own text is not marked in the rendering: the last words (four at most) carry the link.
_LINKED = re.compile(r"(?P<text>(?:[^\s()\[\]]+ ){0,3}[^\s()\[\]]+) \((?P<url>https?://[^\s()]+)\)")
_BARE_URL = re.compile(r"(?<![(\[])\bhttps?://[^\s()<>\]]+[^\s()<>\].,;:!?]")


@dataclass(frozen=True)
class Unit:
    kind: UnitKind
    text: str
    line: int  # the source line it comes from: sentences of one line form one paragraph
    group: int = -1  # list or table it belongs to (-1: none)
    bullet: str = "-"  # an item's: "-" or its number ("2.")
    depth: int = 0
    cells: tuple[tuple[str, str], ...] = ()  # a row's (header, value) pairs


def linkify(text: str) -> str:
    """ "Légifrance (https://…)" -> "[Légifrance](https://…)"; a bare URL -> "[host](url)"."""
    text = _LINKED.sub(lambda m: f"[{m.group('text').strip()}]({m.group('url')})", text)
    return _BARE_URL.sub(lambda m: f"[{_host(m.group(0))}]({m.group(0)})", text)


def _host(url: str) -> str:
    host = url.split("://", 1)[1].split("/", 1)[0]
    return host.removeprefix("www.")


def _row_cells(line: str) -> tuple[tuple[str, str], ...]:
    parts = [p.strip() for p in line.split(" ; ")]
    cells = []
    for part in parts:
        match = _CELL.match(part)
        if match is None:
            return ()
        cells.append((match.group("header").strip(), match.group("value").strip()))
    return tuple(cells)


def read_units(text: str) -> list[Unit]:
    """The units of a passage in order."""
    lines = [line.rstrip() for line in text.split("\n")]
    rows = [_row_cells(line) if " ; " in line else () for line in lines]
    units: list[Unit] = []
    group = 0
    previous_kind = ""
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            previous_kind = ""
            continue
        item = _ITEM.match(line)
        if item is not None:
            if previous_kind != "item":
                group += 1
            units.append(
                Unit("item", item.group("text").strip(), number, group,
                     bullet=_bullet(item.group("bullet")), depth=len(item.group("indent")) // 2)
            )  # fmt: skip
            previous_kind = "item"
        elif rows[number] and _is_table_row(rows, number):
            if previous_kind != "row":
                group += 1
                caption = units[-1] if units else None
                if caption is not None and caption.line == number - 1 and _is_caption(caption.text):
                    units[-1] = Unit("caption", caption.text, caption.line, group)
            units.append(Unit("row", stripped, number, group, cells=rows[number]))
            previous_kind = "row"
        else:
            units.extend(
                Unit("sentence", s.strip(), number) for s in SENTENCE_END.split(stripped) if s.strip()
            )
            previous_kind = "sentence"
    return units


def _bullet(raw: str) -> str:
    return f"{raw[:-1]}." if raw[0].isdigit() else "-"


def _is_table_row(rows: list[tuple[tuple[str, str], ...]], number: int) -> bool:
    """A row line with a neighbour of the same headers: one "A : b ; C : d" line alone is a sentence."""
    headers = [h for h, _ in rows[number]]
    neighbours = [rows[i] for i in (number - 1, number + 1) if 0 <= i < len(rows)]
    return len(headers) >= 2 and any([h for h, _ in n] == headers for n in neighbours if n)


def _is_caption(text: str) -> bool:
    return len(text.split()) <= 16 and not text.endswith((".", ":", "!", "?"))
