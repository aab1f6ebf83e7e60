"""Reading a question set: every documented field, and errors that name the line and the problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guichet.evaluation.cases import CaseFileError, load_cases, parse_case


def write(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", "utf-8")
    return path


def test_a_full_case_is_read_with_its_defaults(tmp_path: Path) -> None:
    full = {
        "question": " Combien coûte un passeport ? ",
        "audience": "professionnels",
        "situation": "Majeur",
        "expected_sources": ["F34752"],
        "expected_facts": ["86 €"],
        "expected_links": ["https://timbres.impots.gouv.fr"],
        "expected_branch": "Majeur",
        "difficulty": 2,
        "theme": "papiers",
    }
    first, second = load_cases(write(tmp_path, full, "", {"question": "Q ?", "expected_sources": []}))
    assert first.question == "Combien coûte un passeport ?" and first.audience == "professionnels"
    assert first.expected_sources == ("F34752",) and first.expected_facts == ("86 €",)
    assert first.difficulty == 2 and first.expected_branch == "Majeur" and first.line == 1
    assert second.audience == "particuliers" and second.difficulty is None and second.line == 3


def test_the_older_sets_difficulty_names_are_accepted() -> None:
    assert parse_case('{"question": "q", "expected_sources": [], "difficulty": "difficile"}').difficulty == 3


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "JSON invalide"),
        ("[1]", "objet JSON"),
        ('{"question": "q", "expected_source": ["F1"]}', "expected_source"),
        ('{"question": "", "expected_sources": []}', "question"),
        ('{"question": "q"}', "expected_sources"),
        ('{"question": "q", "expected_sources": "F1"}', "liste"),
        ('{"question": "q", "expected_sources": [], "audience": "tous"}', "public"),
        ('{"question": "q", "expected_sources": [], "difficulty": 4}', "difficulty"),
        ('{"question": "q", "expected_sources": ["F1"], "expect_not_covered": true}', "hors corpus"),
        ('{"question": "q", "expected_sources": [], "expect_not_covered": "oui"}', "true ou false"),
        ('{"question": 3, "expected_sources": []}', "chaîne"),
    ],
)
def test_an_invalid_line_is_reported_with_its_number(tmp_path: Path, line: str, reason: str) -> None:
    good = {"question": "q", "expected_sources": []}
    with pytest.raises(CaseFileError) as error:
        load_cases(write(tmp_path, good, line))
    assert "cases.jsonl:2" in str(error.value) and reason in str(error.value)


def test_every_bad_line_is_listed_at_once(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError) as error:
        load_cases(write(tmp_path, "{", '{"question": "q"}'))
    assert "cases.jsonl:1" in str(error.value) and "cases.jsonl:2" in str(error.value)


def test_an_empty_or_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError, match="aucun cas"):
        load_cases(write(tmp_path, ""))
    with pytest.raises(CaseFileError, match="lecture impossible"):
        load_cases(tmp_path / "absent.jsonl")
