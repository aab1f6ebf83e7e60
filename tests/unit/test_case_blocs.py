"""Cases that exclude each other, and cases of independent BlocCas of one fiche (answer/case_blocs.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from guichet.answer.case_blocs import CaseLayout
from guichet.answer.evidence import gather_evidence
from guichet.answer.extractive import compose_extractive
from guichet.corpus.chunking import chunk_document
from guichet.corpus.fiche import parse_fiche
from guichet.ports.records import Chunk, SearchHit
from tests.unit.test_extractive_composer import real_extracts
from tests.unit.worker_on_fiches import FICHES, fiche_stack, have_fiches

AGE = "Cas général"  # F13104, "Qui est concerné ? > Condition d'âge": "Vous devez avoir au moins 55 ans."
BEFORE_2009 = "Époux(se) ou ex-époux(se) décédé(e) avant 2009"  # the same BlocCas
MAJORATION = "Âge du taux plein non atteint"  # F13104, "Majorations": another BlocCas
QUESTION = "Âge pour toucher la pension de réversion, et sa majoration ?"


def chunks(fiche_id: str) -> list[Chunk]:
    if not have_fiches([fiche_id]):
        pytest.skip(f"{fiche_id} absent (../shared/fiches)")
    return chunk_document(
        parse_fiche((FICHES / f"{fiche_id}.xml").read_bytes()), f"service-public/{fiche_id}.xml"
    )


def test_cases_of_a_blocs_at_the_top_of_the_fiche_exclude_each_other() -> None:
    layout = CaseLayout.of(chunks("F1759"))
    assert layout.alternatives("En France", "À l'étranger")
    assert layout.alternatives("En France > Cas général", "En France > En Guyane")  # "Pièces", "Coût"
    assert not layout.alternatives("En France > Cas général", "En France")  # on its path


def test_cases_of_blocs_nested_in_two_sections_do_not() -> None:
    layout = CaseLayout.of(chunks("F1759"))
    assert not layout.alternatives(
        "En France > Cas général > Vous avez un passeport valide", "En France > Si le vol a eu lieu en France"
    )
    f13104 = CaseLayout.of(chunks("F13104"))
    assert not f13104.alternatives(MAJORATION, AGE)
    assert f13104.alternatives(AGE, BEFORE_2009)


def test_a_fiche_not_read_whole_keeps_one_case() -> None:
    assert CaseLayout().alternatives(MAJORATION, AGE)
    assert not CaseLayout().alternatives(AGE, "")


def test_the_age_condition_is_quoted_beside_the_majoration_case() -> None:
    extracts = real_extracts("F13104", [26, 4])  # "Majorations > Âge du taux plein non atteint" first
    assert "55 ans" not in compose_extractive(QUESTION, "", extracts), "one case per fiche, not read whole"
    layout = CaseLayout.of(chunks("F13104"))
    read_whole = [replace(e, document=replace(e.document, cases=layout)) for e in extracts]
    assert "Vous devez avoir au moins 55 ans. [2]" in compose_extractive(QUESTION, "", read_whole)


def test_evidence_reads_the_layout_of_a_fiche_whose_extracts_part(tmp_path: Path) -> None:
    if not have_fiches(["F13104", "F1759"]):
        pytest.skip("F13104/F1759 absent (../shared/fiches)")
    stack = fiche_stack(tmp_path, ["F13104", "F1759"])
    try:
        stored = {c.ordinal: c for c, _ in stack.index.document_chunks("service-public/F13104.xml")}
        vol = [c for c, _ in stack.index.document_chunks("service-public/F1759.xml")][2]  # one case only
        hits = [SearchHit(stored[26], 1.0), SearchHit(stored[4], 0.9), SearchHit(vol, 0.8)]
        extracts = gather_evidence(hits, stack.index, limit=4)
    finally:
        stack.close()
    assert [e.document.cases.alternatives(MAJORATION, AGE) for e in extracts[:2]] == [False, False]
    assert extracts[2].document.cases == CaseLayout(), "a fiche with one case among its extracts is not read"
