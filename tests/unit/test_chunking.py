"""Chunking: structure-following chunks, stable ids, bounded size, overlap, fallbacks."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from guichet.corpus.chunking import chunk_document, split_text
from guichet.corpus.fiche import parse_fiche
from guichet.corpus.model import Block, Document
from guichet.ports.records import chunk_uuid

FICHES = Path(__file__).resolve().parents[2].parent / "shared" / "fiches"
needs_corpus = pytest.mark.skipif(not FICHES.is_dir(), reason=f"shared fiches corpus absent ({FICHES})")


def _doc(*blocks: Block, title: str = "Titre", description: str = "") -> Document:
    return Document(id="D1", title=title, source="partner", description=description, blocks=blocks)


def _sentences(n: int, start: int = 0) -> str:
    return " ".join(f"Phrase numéro {i} avec quelques mots." for i in range(start, start + n))


@needs_corpus
def test_whole_corpus_chunks_are_bounded_stable_and_non_empty() -> None:
    for path in sorted(FICHES.glob("xml*/*.xml")):
        key = f"fiches/{path.name}"
        doc = parse_fiche(path.read_bytes())
        chunks = chunk_document(doc, key, max_words=180, overlap_words=30)
        again = chunk_document(parse_fiche(path.read_bytes()), key, max_words=180, overlap_words=30)
        assert chunks, path.name
        assert [c.id for c in chunks] == [c.id for c in again]
        assert [c.ordinal for c in chunks] == list(range(len(chunks)))
        assert all(c.id == chunk_uuid(key, c.ordinal) for c in chunks)
        for chunk in chunks:
            assert chunk.text.strip(), path.name
            assert len(chunk.text.split()) <= 210, (path.name, chunk.ordinal)
            assert doc.title in chunk.context
            if chunk.kind == "branch":
                assert chunk.branch and chunk.branch in chunk.context


@needs_corpus
def test_f21258_branch_chunks() -> None:
    doc = parse_fiche((FICHES / "xml-3.4" / "F21258.xml").read_bytes())
    chunks = chunk_document(doc, "F21258.xml")
    abroad = [c for c in chunks if c.branch == "À l'étranger"]
    assert len(abroad) == 1 and "en espèces" in abroad[0].text
    assert abroad[0].context == "Passeport : comment acheter un timbre fiscal ? — À l'étranger"
    nested = [c for c in chunks if c.branch.startswith("En France > En ligne > 1er cas")]
    assert nested and nested[0].kind == "branch"


@needs_corpus
def test_condition_in_context() -> None:
    doc = parse_fiche((FICHES / "xml" / "F14128.xml").read_bytes())
    tenant = [c for c in chunk_document(doc, "k") if c.branch.startswith("Locataire")]
    assert tenant and all(c.context.endswith("Condition : Vous êtes locataire") for c in tenant)


def test_long_block_is_split_with_overlap() -> None:
    doc = _doc(Block("section", _sentences(60), ("Conditions",)))
    chunks = chunk_document(doc, "k", max_words=50, overlap_words=10)
    assert len(chunks) > 3
    for previous, current in pairwise(chunks):
        tail = previous.text.split()[-10:]
        assert current.text.split()[:10] == tail
    assert all(len(c.text.split()) <= 60 for c in chunks)
    assert all(c.section == "Conditions" for c in chunks)
    # Windows end on sentence boundaries: no sentence is cut between two chunks' bodies.
    assert all(c.text.endswith(".") for c in chunks)


def test_no_overlap_when_disabled() -> None:
    chunks = chunk_document(_doc(Block("section", _sentences(30))), "k", max_words=50, overlap_words=0)
    words = [w for c in chunks for w in c.text.split()]
    assert words == _sentences(30).split()


def test_split_text_splits_overlong_sentence_and_lines() -> None:
    text = "mot " * 120 + "\nligne courte."
    windows = split_text(text.strip(), max_words=50, overlap_words=5)
    assert all(len(w.split()) <= 55 for w in windows)
    assert windows[-1].endswith("ligne courte.")


def test_short_blocks_of_same_path_are_merged_not_across_branches() -> None:
    doc = _doc(
        Block("branch", "Un.", (), ("Salarié",)),
        Block("note", "À noter : deux.", (), ("Salarié",)),
        Block("branch", "Trois.", (), ("Chômeur",)),
        Block("section", "Quatre.", ("Autre",)),
    )
    chunks = chunk_document(doc, "k")
    assert [(c.branch, c.text) for c in chunks] == [
        ("Salarié", "Un.\nÀ noter : deux."),
        ("Chômeur", "Trois."),
        ("", "Quatre."),
    ]
    assert chunks[0].kind == "branch"
    assert chunks[2].section == "Autre" and chunks[2].context == "Titre — Autre"


def test_long_blocks_are_not_merged() -> None:
    doc = _doc(Block("section", _sentences(10)), Block("section", _sentences(10, 10)))
    assert len(chunk_document(doc, "k", max_words=180)) == 2


def test_document_without_text_gets_one_chunk() -> None:
    doc = _doc(title="Étranger", description="Démarches des étrangers en France")
    chunks = chunk_document(doc, "N19804.xml")
    assert len(chunks) == 1
    assert chunks[0].text == "Démarches des étrangers en France" and chunks[0].context == "Étranger"
    assert chunk_document(_doc(title="Seul titre"), "k")[0].text == "Seul titre"


def test_ids_depend_on_key_and_order() -> None:
    doc = _doc(Block("section", _sentences(40)), Block("section", _sentences(40, 40)))
    first = chunk_document(doc, "a.md")
    assert [c.id for c in first] == [c.id for c in chunk_document(doc, "a.md")]
    assert {c.id for c in first}.isdisjoint(c.id for c in chunk_document(doc, "b.md"))
    assert len({c.id for c in first}) == len(first)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        chunk_document(_doc(), "k", max_words=10, overlap_words=10)
