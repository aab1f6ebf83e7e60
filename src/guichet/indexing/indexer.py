"""Parse → chunk → embed → upsert, for one object of the store.

The indexer is the only writer of the index. It is idempotent: an object whose bytes did not change
costs no parsing and no embedding, and chunks whose text did not change reuse their stored vectors.
Events may arrive late or twice: an event older (by sequencer) than what the index holds is ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Literal

from guichet import metrics
from guichet.corpus.chunking import chunk_document
from guichet.corpus.loader import parse_document
from guichet.corpus.model import Document
from guichet.indexing.notifications import sequencer_is_newer
from guichet.ports.embedder import Embedder
from guichet.ports.index import VectorIndex
from guichet.ports.records import Chunk, DocumentState, Vector

log = logging.getLogger(__name__)

Outcome = Literal["indexed", "unchanged", "stale", "removed", "absent", "ignored"]


class ConcurrentUpdate(Exception):
    """The key's state changed between reading it and writing the new version: start over."""

    def __init__(self, key: str) -> None:
        super().__init__(f"mise à jour concurrente de {key!r}")
        self.key = key


@dataclass(frozen=True)
class IndexResult:
    key: str
    outcome: Outcome
    doc_id: str = ""
    chunks: int = 0
    embedded: int = 0


@dataclass(frozen=True)
class ChunkingOptions:
    max_words: int = 180
    overlap_words: int = 30
    max_document_bytes: int = 20 * 1024 * 1024


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def document_metadata(doc: Document) -> str:
    """What readers need of a document besides its chunks: links, questions, contacts, references."""
    meta = asdict(doc)
    meta.pop("blocks", None)
    return json.dumps(meta, ensure_ascii=False, sort_keys=True)


class Indexer:
    def __init__(
        self,
        index: VectorIndex,
        embedder: Embedder,
        options: ChunkingOptions | None = None,
        *,
        batch_size: int = 16,
    ) -> None:
        self._index = index
        self._embedder = embedder
        self._options = options or ChunkingOptions()
        self._batch_size = batch_size

    @property
    def embedder_id(self) -> str:
        """Vectors of two embedders never mix: a document embedded by another one is embedded again."""
        return self._embedder.name

    def is_stale(self, key: str, sequencer: str) -> bool:
        """An event is stale when the index already applied a newer one for this key."""
        return _older_than(self._index.document_state(key), sequencer)

    def skip_if_current(self, key: str, *, etag: str, sequencer: str = "") -> IndexResult | None:
        """The index already holds this version (same etag): record the event's sequencer, skip the rest.

        Recording it matters: a removal older than this event, arriving late, must then be seen as stale.
        """
        state = self._index.document_state(key)
        if state is None or state.deleted or not etag or state.etag != etag:
            return None
        if state.embedder != self.embedder_id:
            return None
        self._record_unchanged(state, etag, sequencer)
        return IndexResult(key, "unchanged", state.doc_id, state.chunk_count)

    def index_object(self, key: str, data: bytes, *, etag: str = "", sequencer: str = "") -> IndexResult:
        """Index one object's bytes; raises corpus.errors.DocumentError when it cannot be parsed."""
        previous = self._index.document_state(key)
        if _older_than(previous, sequencer):
            return IndexResult(key, "stale")
        digest = content_hash(data)
        same_embedder = previous is not None and previous.embedder == self.embedder_id
        if (
            previous is not None
            and not previous.deleted
            and previous.content_hash == digest
            and same_embedder
        ):
            self._record_unchanged(previous, etag, sequencer)
            return IndexResult(key, "unchanged", previous.doc_id, previous.chunk_count)
        doc = parse_document(key, data, max_bytes=self._options.max_document_bytes)
        chunks = chunk_document(
            doc, key, max_words=self._options.max_words, overlap_words=self._options.overlap_words
        )
        vectors, embedded = self._vectors_for(key, chunks, reuse=same_embedder)
        state = DocumentState(
            key=key,
            doc_id=doc.id,
            content_hash=digest,
            etag=etag,
            sequencer=self._newest(previous, sequencer),
            chunk_count=len(chunks),
            metadata_json=document_metadata(doc),
            embedder=self.embedder_id,
        )
        if self._index.document_state(key) != previous:
            # Another writer (the worker, an ingest, a reconcile) changed this key while we embedded:
            # our bytes may be older than theirs. The caller starts over from the store.
            raise ConcurrentUpdate(key)
        self._index.replace_document(state, chunks, vectors)
        log.debug("indexed %s (%s): %d chunks, %d embedded", key, doc.id, len(chunks), embedded)
        return IndexResult(key, "indexed", doc.id, len(chunks), embedded)

    def remove_object(self, key: str, *, sequencer: str = "") -> IndexResult:
        previous = self._index.document_state(key)
        if _older_than(previous, sequencer):
            return IndexResult(key, "stale")
        removed = self._index.delete_document(key, self._newest(previous, sequencer))
        outcome: Outcome = "removed" if previous is not None and not previous.deleted else "absent"
        log.debug("removed %s: %d chunks", key, removed)
        return IndexResult(key, outcome, previous.doc_id if previous else "", removed)

    def _record_unchanged(self, previous: DocumentState, etag: str, sequencer: str) -> None:
        """Keep the newest sequencer and etag so that later stale events are still recognised."""
        newest = self._newest(previous, sequencer)
        if newest == previous.sequencer and (not etag or etag == previous.etag):
            return
        self._index.record_state(replace(previous, sequencer=newest, etag=etag or previous.etag))

    def _vectors_for(self, key: str, chunks: Sequence[Chunk], *, reuse: bool) -> tuple[list[Vector], int]:
        reusable = self._index.reusable_vectors(key) if reuse else {}
        missing = [c for c in chunks if c.text_hash not in reusable]
        fresh: dict[str, Vector] = {}
        for start in range(0, len(missing), self._batch_size):
            batch = missing[start : start + self._batch_size]
            for chunk, vector in zip(
                batch, self._embedder.embed_passages([c.indexed_text for c in batch]), strict=True
            ):
                fresh[chunk.text_hash] = vector
        metrics.EMBEDDED_PASSAGES.inc(len(missing))
        vectors = [reusable.get(c.text_hash) or fresh[c.text_hash] for c in chunks]
        return vectors, len(missing)

    @staticmethod
    def _newest(previous: DocumentState | None, sequencer: str) -> str:
        if previous is None or not previous.sequencer:
            return sequencer
        if sequencer and sequencer_is_newer(sequencer, previous.sequencer):
            return sequencer
        return previous.sequencer


def _older_than(state: DocumentState | None, sequencer: str) -> bool:
    """The event (sequencer) is older than what the index applied; no sequencer means authoritative."""
    if state is None or not sequencer or not state.sequencer:
        return False
    return not sequencer_is_newer(sequencer, state.sequencer)
