"""The index an evaluation runs on, when it is not the stack's own, and what the report says of it.

Embedding every one of the 403 real fiches (≈ 7,000 passages) takes about 20 minutes on 2 cores: a
subset holds the fiches the cases expect plus a fixed, seeded draw of distractors, so that retrieval
still has to find the right fiche among unrelated ones. The CI gate's sample of the national dump is
drawn in dump_sample.py; `make eval` runs on the whole dump.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from guichet.corpus.chunking import chunk_document
from guichet.corpus.loader import parse_document
from guichet.evaluation.embed_cache import CachingEmbedder
from guichet.indexing.bulk_ingest import ingest_into
from guichet.ports.index import VectorIndex
from guichet.settings import Settings
from guichet.wiring import Stack, build_embedder, build_stack

CORPUS_FILE = "eval-corpus.json"  # in the data folder: what was indexed, read back by the report
SEED = 7


@dataclass(frozen=True)
class CorpusInfo:
    description: str
    fiches: int = 0
    passages: int = 0
    embedded: int = 0  # passages embedded by this preparation (the rest came from the cache)
    ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def write(self, data_dir: Path) -> None:
        (data_dir / CORPUS_FILE).write_text(json.dumps(self.to_json(), ensure_ascii=False), "utf-8")

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
    info.write(settings.data_dir)
    return info


def write_corpus_info(settings: Settings, description: str) -> CorpusInfo:
    """Describe an index loaded otherwise (a snapshot) for the reports: counts, not the ids."""
    stack = build_stack(settings, announce_writes=False)
    try:
        info = CorpusInfo(description, sum(1 for _ in stack.index.documents()), stack.index.chunk_count())
    finally:
        stack.close()
    info.write(settings.data_dir)
    return info
