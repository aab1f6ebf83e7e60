"""`guichet ingest`'s work: files, folders and zip dumps into the store, then into the index."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from guichet.corpus.errors import DocumentError, IgnoredDocument
from guichet.indexing.handler import CONCURRENT_ATTEMPTS
from guichet.indexing.indexer import ConcurrentUpdate, IndexResult
from guichet.indexing.sources import SourceError, SourceFile, iter_sources
from guichet.ports.store import InvalidKey, KeyConflict, check_key
from guichet.wiring import Stack

# The indexer's outcomes (English identifiers, kept in --json) as the summary line says them.
OUTCOME_LABELS = {
    "indexed": "indexés",
    "unchanged": "inchangés",
    "rejected": "refusés",
    "ignored": "ignorés",
    "stale": "périmés",
    "removed": "retirés",
    "absent": "absents",
}


@dataclass
class IngestReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    chunks: int = 0
    embedded: int = 0
    errors: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """In French, like every CLI line: "29 documents (29 indexés) ; 164 passages, 164 vectorisés"."""
        parts = ", ".join(
            f"{n} {OUTCOME_LABELS.get(outcome, outcome)}" for outcome, n in sorted(self.outcomes.items())
        )
        total = sum(self.outcomes.values())
        return f"{total} documents ({parts}) ; {self.chunks} passages, {self.embedded} vectorisés"

    def to_json(self) -> dict[str, object]:
        return {
            "documents": sum(self.outcomes.values()),
            "outcomes": dict(self.outcomes),
            "chunks": self.chunks,
            "embedded": self.embedded,
            "errors": self.errors,
        }


def ingest_into(
    stack: Stack,
    paths: list[Path],
    *,
    prefix: str = "",
    progress: bool = True,
    stop: threading.Event | None = None,
) -> IngestReport:
    """Store each changed document and index it inline; one bad file never stops the run."""
    report = IngestReport()
    limit = stack.settings.max_document_bytes
    sources = list(iter_sources(paths, prefix))
    for source in tqdm(sources, desc="Indexation", unit="doc", disable=not progress or None):
        if stop is not None and stop.is_set():
            break
        try:
            result = _ingest_one(stack, source, limit)
        except IgnoredDocument:
            report.outcomes["ignored"] += 1
            continue
        except (DocumentError, SourceError, InvalidKey, KeyConflict, ConcurrentUpdate) as exc:
            report.errors[source.key] = str(exc)
            report.outcomes["rejected"] += 1
            continue
        report.outcomes[result.outcome] += 1
        report.chunks += result.chunks
        report.embedded += result.embedded
    return report


def _ingest_one(stack: Stack, source: SourceFile, limit: int) -> IndexResult:
    """Store first (the truth), then index inline: a crash in between leaves work for reconcile."""
    data = source.read(limit)
    key = check_key(source.key_for(data))
    etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
    current = stack.store.head(key)
    if current is None or current.etag != etag:
        stack.store.put(key, data)
    for _ in range(CONCURRENT_ATTEMPTS - 1):
        try:
            return stack.indexer.index_object(key, data, etag=etag)
        except ConcurrentUpdate:
            # Someone wrote this key meanwhile (an upload, the worker): index what the store holds now.
            data, etag = _stored_version(stack, key)
    return stack.indexer.index_object(key, data, etag=etag)


def _stored_version(stack: Stack, key: str) -> tuple[bytes, str]:
    stored = stack.store.head(key)
    data = stack.store.get(key)
    return data, stored.etag if stored else hashlib.md5(data, usedforsecurity=False).hexdigest()
