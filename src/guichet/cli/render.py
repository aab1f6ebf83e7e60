"""The text `guichet ask` prints for an answer record (its JSON form, as the API returns it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

EXTRACTIVE_NOTICE = (
    "Réponse extractive : composée à partir des extraits des fiches, sans modèle de langage. "
    "Vérifiez-la dans les sources citées."
)
LINK_LABELS = {"teleservice": "Téléservice", "simulateur": "Simulateur", "formulaire": "Formulaire"}


def render_record(record: Mapping[str, Any]) -> str:
    if record.get("status") == "failed":
        return _failure(record)
    blocks = [_notice(record), str(record.get("answer") or "").strip()]
    blocks += [
        _section("Sources", [_source(i, s) for i, s in enumerate(_items(record, "sources"), 1)]),
        _section("Questions liées", [_related(q) for q in _items(record, "related_questions")]),
        _section("Liens pratiques", [_link(link) for link in _items(record, "links")]),
        _section("Pour se faire aider", [_helper(h) for h in _items(record, "helpers")]),
    ]
    return "\n\n".join(block for block in blocks if block)


def _failure(record: Mapping[str, Any]) -> str:
    error = record.get("error") or {}
    message = error.get("message") or "La réponse n'a pas pu être produite."
    code = error.get("code")
    return f"Échec : {message}" + (f" ({code})" if code else "")


def _notice(record: Mapping[str, Any]) -> str:
    notice = str(record.get("notice") or "").strip()
    if not notice and record.get("mode") == "extractive":
        notice = EXTRACTIVE_NOTICE
    return f"Note : {notice}" if notice else ""


def _items(record: Mapping[str, Any], name: str) -> Sequence[Mapping[str, Any]]:
    value = record.get(name) or ()
    return [item for item in value if isinstance(item, Mapping)]


def _section(title: str, lines: list[str]) -> str:
    return f"{title} :\n" + "\n".join(lines) if lines else ""


def _source(rank: int, source: Mapping[str, Any]) -> str:
    head = f"  [{source.get('n') or rank}] {source.get('id', '')} — {source.get('title', '')}"
    return f"{head}\n      {source['url']}" if source.get("url") else head


def _related(question: Mapping[str, Any]) -> str:
    return _with_url(f"  - {question.get('question', '')}", question)


def _link(link: Mapping[str, Any]) -> str:
    label = LINK_LABELS.get(str(link.get("type")), str(link.get("type") or "Lien").capitalize())
    cerfa = f" (cerfa {link['cerfa']})" if link.get("cerfa") else ""
    return _with_url(f"  - {label} : {link.get('title', '')}{cerfa}", link)


def _helper(helper: Mapping[str, Any]) -> str:
    kind = f" ({helper['kind']})" if helper.get("kind") else ""
    return _with_url(f"  - {helper.get('title', '')}{kind}", helper)


def _with_url(line: str, item: Mapping[str, Any]) -> str:
    return f"{line} — {item['url']}" if item.get("url") else line
