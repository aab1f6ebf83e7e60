"""From the model's [n] markers (n = extract number) to the answer's sources (n = source number).

Several extracts of one fiche become one source. Sources are numbered in the order the answer first
cites them, and every marker is rewritten accordingly as "[1]" or "[1][2]"; a marker that points to no
extract is dropped, with the blank before it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from guichet.answer.evidence import Extract
from guichet.answer.record import SourceRef

EXCERPT_CHARS = 500
MAX_RANGE = 20  # "[1-3]" is a range; "[2019-2025]" is not a list of citations

_LIST = r"\d{1,3}(?:\s*(?:[,;]|-|–|à|et)\s*\d{1,3})*"
_MARKER = rf"\[\s*(?:(?:extraits?|sources?)\s*)?{_LIST}\s*\]"
_RUN = re.compile(rf"(?i)[ \t\u00a0]*{_MARKER}(?:[ \t\u00a0]*{_MARKER})*")
_ONE = re.compile(rf"(?i){_MARKER}")
_ITEM = re.compile(r"(?i)(\d{1,3})(?:\s*(?:-|–|à)\s*(\d{1,3}))?")


def _numbers(marker: str) -> list[int]:
    out: list[int] = []
    for match in _ITEM.finditer(marker):
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if first <= last <= first + MAX_RANGE:
            out.extend(range(first, last + 1))
        else:
            out.extend((first, last))
    return out


def cited_numbers(text: str) -> list[int]:
    """Extract numbers cited in text, in order of first citation, each once."""
    seen: dict[int, None] = {}
    for marker in _ONE.finditer(text):
        for n in _numbers(marker.group()):
            seen.setdefault(n, None)
    return list(seen)


def cite_sources(text: str, extracts: Sequence[Extract]) -> tuple[str, tuple[SourceRef, ...]]:
    by_n = {e.n: e for e in extracts}
    source_of: dict[str, int] = {}  # fiche id -> source number
    cited: dict[str, list[Extract]] = {}

    def rewrite(run: re.Match[str]) -> str:
        numbers: list[int] = []
        for n in _numbers(run.group()):
            extract = by_n.get(n)
            if extract is None:
                continue
            doc = extract.doc_id
            source_of.setdefault(doc, len(source_of) + 1)
            passages = cited.setdefault(doc, [])
            if extract not in passages:
                passages.append(extract)
            if source_of[doc] not in numbers:
                numbers.append(source_of[doc])
        if not numbers:
            return ""
        blank = run.group()[: len(run.group()) - len(run.group().lstrip(" \t\u00a0"))]
        return blank + "".join(f"[{n}]" for n in numbers)

    rewritten = _RUN.sub(rewrite, text)
    sources = tuple(_source(source_of[doc], passages) for doc, passages in cited.items())
    return rewritten, tuple(sorted(sources, key=lambda s: s.n))


def _source(n: int, passages: list[Extract]) -> SourceRef:
    first = passages[0]
    excerpt = " […] ".join(" ".join(p.text.split()) for p in passages)  # without a repeated fragment
    return SourceRef(
        n, first.doc_id, first.title, first.url, trim(excerpt, EXCERPT_CHARS), first.branch,
        updated=first.document.updated,
    )  # fmt: skip


def trim(text: str, limit: int) -> str:
    """text cut to at most limit characters on a word boundary, with "…" when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "…"
