"""Vector index port: hybrid (lexical + vector) retrieval over chunks, plus per-document state.

Implementations: indexes/embedded.py (a persistent local index, the default),
indexes/weaviate.py (Weaviate through weaviate-client v4, self-provided vectors).

Semantics every implementation honours (tests/contracts/test_index_contract.py):
- replace_document(state, chunks, vectors) makes the index hold exactly `chunks` for state.key
  (chunks of an older version of the document disappear) and records `state`.
- delete_document(key, sequencer) removes every chunk of the key and leaves a tombstone state
  (deleted=True) carrying the sequencer; it returns the number of chunks removed.
- record_state(state) updates the recorded state of a key (etag, sequencer) without touching chunks.
- document_state(key) returns the last recorded state (tombstones included) or None.
- reusable_vectors(key) maps text_hash -> vector for the chunks currently indexed for key, so that
  unchanged text is never embedded twice.
- document_chunks(key) lists the chunks currently indexed for key with their vectors, in ordinal
  order (index snapshots: `guichet index export`).
- search(): mode "lexical" uses only the French-aware full-text score, "vector" only the cosine
  similarity, "hybrid" fuses both rankings by reciprocal-rank fusion (fusion.py), the same way in every
  backend, and reports both ranks and the cosine (SearchHit.vector_score) of each hit; filters
  restrict by audience (a chunk matches when its audience tuple contains it) and doc ids.
  Results are ordered by decreasing score, at most k.
- documents() lists every recorded state (for reconciliation).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from guichet.ports.records import Chunk, DocumentState, SearchFilters, SearchHit, SearchMode, Vector


class IndexBackendError(Exception):
    pass


class VectorIndex(Protocol):
    def replace_document(
        self, state: DocumentState, chunks: Sequence[Chunk], vectors: Sequence[Vector]
    ) -> None: ...

    def delete_document(self, key: str, sequencer: str = "") -> int: ...

    def record_state(self, state: DocumentState) -> None: ...

    def document_state(self, key: str) -> DocumentState | None: ...

    def reusable_vectors(self, key: str) -> dict[str, Vector]: ...

    def document_chunks(self, key: str) -> list[tuple[Chunk, Vector]]: ...

    def search(
        self,
        query: str,
        vector: Vector,
        *,
        k: int = 10,
        filters: SearchFilters | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[SearchHit]: ...

    def mentions(self, phrase: str) -> bool:
        """Whether some passage, of any audience, holds the analysed terms of `phrase` in a row."""
        ...

    def documents(self) -> Iterator[DocumentState]: ...

    def chunk_count(self) -> int: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...
