"""The index an evaluation runs on, when it is not the stack's own: a fixed subset of the fiches.

Embedding every one of the 403 real fiches (≈ 7,000 passages) takes about 20 minutes on 2 cores, too
long for every build. The gate indexes the fiches its cases expect plus a fixed, seeded draw of
distractors, so that retrieval still has to find the right fiche among unrelated ones; the report
states that subset. `make eval` indexes them all.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from guichet.corpus.chunking import chunk_document
from guichet.corpus.loader import parse_document
from guichet.evaluation.cases import EvalCase
from guichet.evaluation.embed_cache import CachingEmbedder
from guichet.indexing.bulk_ingest import ingest_into
from guichet.ports.index import VectorIndex
from guichet.settings import Settings
from guichet.wiring import Stack, build_embedder

CORPUS_FILE = "eval-corpus.json"  # in the data folder: what was indexed, read back by the report
SEED = 7
# The gate's budget: about 1,500 passages embed in 3 to 4 minutes on 2 cores (≈ 7 passages/s).
GATE_EXPECTED_PASSAGES = 1000
GATE_TOTAL_PASSAGES = 1500


@dataclass(frozen=True)
class CorpusInfo:
    description: str
    fiches: int = 0
    passages: int = 0
    embedded: int = 0  # passages embedded by this preparation (the rest came from the cache)
    ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def read(cls, data_dir: Path) -> CorpusInfo | None:
        try:
            raw = json.loads((data_dir / CORPUS_FILE).read_text(encoding="utf-8"))
            return cls(**{**raw, "ids": tuple(raw.get("ids", ()))})
        except (OSError, ValueError, TypeError):
            return None


def choose_fiches(fiches_dir: Path, expected: Iterable[str], total: int | None) -> list[Path]:
    """The expected fiches, then distractors drawn with a fixed seed, up to total (None: all of them)."""
    every = sorted(fiches_dir.glob("*.xml"))
    wanted = set(expected)
    chosen = [p for p in every if p.stem in wanted]
    others = [p for p in every if p.stem not in wanted]
    random.Random(SEED).shuffle(others)
    if total is None:
        return chosen + others
    return chosen + others[: max(0, total - len(chosen))]


def passage_counts(paths: Sequence[Path], settings: Settings) -> dict[str, int]:
    """Fiche id -> passages it will be cut into (parsing and chunking are fast; embedding is not)."""
    counts = {}
    for path in paths:
        doc = parse_document(
            f"service-public/{path.name}", path.read_bytes(), max_bytes=settings.max_document_bytes
        )
        chunks = chunk_document(
            doc, path.name, max_words=settings.chunk_max_words, overlap_words=settings.chunk_overlap_words
        )
        counts[path.stem] = len(chunks)
    return counts


@dataclass(frozen=True)
class GateSubset:
    paths: list[Path]
    cases: list[EvalCase]  # those whose expected fiches are all indexed
    passages: int
    description: str


def gate_subset(
    fiches_dir: Path,
    cases: Sequence[EvalCase],
    settings: Settings,
    *,
    expected_budget: int = GATE_EXPECTED_PASSAGES,
    total_budget: int = GATE_TOTAL_PASSAGES,
) -> GateSubset:
    """The gate's index within a passage budget: the cases with the lightest expected fiches first (so
    that as many cases as possible fit), then seeded distractors up to total_budget."""
    every = sorted(fiches_dir.glob("*.xml"))
    counts = passage_counts(every, settings)
    cost = {c.key: sum(counts.get(f, 0) for f in c.expected_sources) for c in cases}
    expected: set[str] = set()
    kept: list[EvalCase] = []
    total = 0
    for case in sorted(cases, key=lambda c: (cost[c.key], c.line)):
        new = set(case.expected_sources) - expected
        extra = sum(counts.get(f, 0) for f in new)
        if all(f in counts for f in case.expected_sources) and total + extra <= expected_budget:
            expected |= new
            total += extra
            kept.append(case)
    wanted = {f for c in cases for f in c.expected_sources}
    others = [p for p in every if p.stem not in wanted]
    random.Random(SEED).shuffle(others)
    distractors = []
    for path in others:
        if total + counts[path.stem] <= total_budget:
            distractors.append(path)
            total += counts[path.stem]
    paths = [p for p in every if p.stem in expected] + distractors
    description = (
        f"sous-ensemble du contrôle : {len(expected)} fiches attendues par {len(kept)} cas sur {len(cases)}"
        f" (les plus légères d'abord), {len(distractors)} fiches de distraction (graine {SEED})"
    )
    return GateSubset(paths, sorted(kept, key=lambda c: c.line), total, description)


def indexed_fiche_ids(index: VectorIndex) -> set[str]:
    """The fiche (document) ids an index holds: what a case's expected sources are checked against."""
    return {state.doc_id for state in index.documents() if not state.deleted}


def index_fiches(settings: Settings, paths: list[Path], cache_path: Path, *, description: str) -> CorpusInfo:
    """Index paths into the settings' stack, embeddings through the cache; writes CORPUS_FILE."""
    embedder = CachingEmbedder(build_embedder(settings), cache_path)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(settings, embedder=embedder, announce_writes=False)
    try:
        report = ingest_into(stack, paths, progress=False)
        if report.errors:
            raise RuntimeError(f"indexation incomplète : {report.errors}")
        info = CorpusInfo(
            description=description,
            fiches=len(paths),
            passages=stack.index.chunk_count(),
            embedded=embedder.misses,
            ids=tuple(p.stem for p in paths),
        )
    finally:
        stack.close()
        embedder.close()
    (settings.data_dir / CORPUS_FILE).write_text(json.dumps(info.to_json(), ensure_ascii=False), "utf-8")
    return info
