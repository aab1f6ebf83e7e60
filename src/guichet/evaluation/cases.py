"""The question set: one JSON object a line (SPEC.md `guichet eval`), read with errors that name the line.

A case: {"question", "audience"?, "situation"?, "expected_sources": ["F1234", …], "expected_facts"?,
"expected_links"?, "expected_branch"?, "expect_not_covered"?, "difficulty"? (1|2|3, or "facile" |
"moyen" | "difficile" as in the older sets), "theme"?, "review"?, "feedback"?}. Unknown keys are errors:
a misspelt "expected_source" would otherwise silently test nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from guichet.corpus.model import AUDIENCES

DIFFICULTY_NAMES = {"facile": 1, "moyen": 2, "difficile": 3}
_LISTS = ("expected_sources", "expected_facts", "expected_links")
_STRINGS = ("question", "audience", "situation", "expected_branch", "theme", "review")
_KNOWN = {*_LISTS, *_STRINGS, "expect_not_covered", "difficulty", "feedback"}
MAX_ERRORS = 20
T = TypeVar("T")


class CaseFileError(Exception):
    """The question set cannot be used; the message lists every problem with its line (French)."""


@dataclass(frozen=True)
class EvalCase:
    line: int
    question: str
    audience: str = "particuliers"
    situation: str = ""
    expected_sources: tuple[str, ...] = ()
    expected_facts: tuple[str, ...] = ()
    expected_links: tuple[str, ...] = ()
    expected_branch: str = ""
    expect_not_covered: bool = False
    difficulty: int | None = None
    theme: str = ""

    @property
    def key(self) -> str:
        """What identifies a case across two runs (compare.py): its question, audience and situation."""
        return f"{self.question}\n{self.audience}\n{self.situation}"


def split_of(case: EvalCase) -> str:
    """ "dev" or "heldout" (about one case in three), fixed by the question's text: thresholds are tuned
    on dev and reported on heldout, and a case never changes side when others are added."""
    digest = hashlib.sha256(case.question.encode("utf-8")).digest()
    return "heldout" if digest[0] % 3 == 0 else "dev"


def load_cases(path: Path) -> list[EvalCase]:
    return read_cases(path, parse_case, "jeu de questions invalide")


def read_cases(path: Path, parse: Callable[[str, int], T], invalid: str) -> list[T]:
    """One case a non-blank line, parsed by parse(raw, line); CaseFileError lists every bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(f"{path} : lecture impossible ({exc})") from exc
    cases: list[T] = []
    errors: list[str] = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            cases.append(parse(raw, number))
        except ValueError as exc:
            errors.append(f"{path.name}:{number} : {exc}")
    if errors:
        shown = errors[:MAX_ERRORS] + (
            [f"… et {len(errors) - MAX_ERRORS} autres"] if len(errors) > MAX_ERRORS else []
        )
        raise CaseFileError(f"{invalid} :\n" + "\n".join(shown))
    if not cases:
        raise CaseFileError(f"{path} : aucun cas (une question JSON par ligne)")
    return cases


def parse_case(raw: str, line: int = 0) -> EvalCase:
    """One case from one line; ValueError with a French reason."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"JSON invalide ({exc.msg}, colonne {exc.colno})") from exc
    if not isinstance(data, dict):
        raise ValueError("chaque ligne doit être un objet JSON")
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise ValueError(f"clé(s) inconnue(s) : {', '.join(unknown)}")
    for key in _STRINGS:
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"« {key} » doit être une chaîne")
    lists = {key: _strings(data, key) for key in _LISTS}
    question = str(data.get("question", "")).strip()
    if not question:
        raise ValueError("« question » manquante ou vide")
    if "expected_sources" not in data:
        raise ValueError("« expected_sources » manquant (une liste, vide pour une question hors corpus)")
    audience = str(data.get("audience") or "particuliers")
    if audience not in AUDIENCES:
        raise ValueError(f"public « {audience} » inconnu ({', '.join(AUDIENCES)})")
    not_covered = data.get("expect_not_covered", False)
    if not isinstance(not_covered, bool):
        raise ValueError("« expect_not_covered » doit valoir true ou false")
    if not_covered and lists["expected_sources"]:
        raise ValueError("une question hors corpus (expect_not_covered) n'attend aucune source")
    return EvalCase(
        line=line,
        question=question,
        audience=audience,
        situation=str(data.get("situation", "")).strip(),
        expected_sources=lists["expected_sources"],
        expected_facts=lists["expected_facts"],
        expected_links=lists["expected_links"],
        expected_branch=str(data.get("expected_branch", "")).strip(),
        expect_not_covered=not_covered,
        difficulty=_difficulty(data.get("difficulty")),
        theme=str(data.get("theme", "")),
    )


def _strings(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"« {key} » doit être une liste de chaînes non vides")
    return tuple(v.strip() for v in value)


def _difficulty(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value in DIFFICULTY_NAMES:
        return DIFFICULTY_NAMES[value]
    if isinstance(value, int) and not isinstance(value, bool) and value in (1, 2, 3):
        return value
    raise ValueError("« difficulty » doit valoir 1, 2 ou 3 (ou facile, moyen, difficile)")


def relative_to_index(cases: Sequence[EvalCase], indexed: set[str]) -> tuple[list[EvalCase], int]:
    """The cases as this index can answer them, and how many changed side.

    A case none of whose expected fiches is indexed cannot be answered from this index: the right
    answer says "not covered". One question set thus serves the 403-fiche slice and the national dump
    (Crit'Air is out of the slice, in the dump) without two truths to keep in step.
    """
    out: list[EvalCase] = []
    for case in cases:
        if case.expected_sources and not indexed & set(case.expected_sources):
            case = replace(
                case, expected_sources=(), expected_facts=(), expected_links=(), expected_branch="",
                expect_not_covered=True,
            )  # fmt: skip
        out.append(case)
    return out, sum(a is not b for a, b in zip(cases, out, strict=True))
