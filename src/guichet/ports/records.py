"""Small frozen records that cross module, process or network boundaries."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Literal

Vector = list[float]
SearchMode = Literal["hybrid", "lexical", "vector"]

# Fixed namespace so that chunk ids are the same on every machine (Weaviate uuid5 ids).
CHUNK_NAMESPACE = uuid.UUID("6f1c6a52-4b1e-4f0e-9a0e-3c5d2b7e9a11")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_uuid(doc_key: str, ordinal: int) -> str:
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{doc_key}#{ordinal}"))


@dataclass(frozen=True)
class Chunk:
    """One retrievable passage of a document.

    id: uuid5 of (doc_key, ordinal), stable across re-ingestion of the same document.
    text: the passage itself; context: the title path and branch, prepended when embedding
    and indexing lexically so that "Conditions" chunks of two fiches stay distinguishable.
    """

    id: str
    doc_key: str
    doc_id: str
    ordinal: int
    title: str
    url: str
    audience: tuple[str, ...]
    section: str
    branch: str
    kind: str
    text: str
    context: str = ""

    @property
    def indexed_text(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text

    @property
    def text_hash(self) -> str:
        return text_hash(self.indexed_text)


@dataclass(frozen=True)
class DocumentState:
    """What the index knows of one object-store key: enough to skip or order events.

    sequencer: the MinIO/S3 event sequencer (hex) of the last applied event, "" if unknown.
    deleted: a tombstone, so that a late ObjectCreated older than a removal is ignored.
    embedder: the identity of the embedder that produced the document's vectors, "" if unknown
    (written before it was recorded): vectors of another embedder must not be reused.
    """

    key: str
    doc_id: str
    content_hash: str
    etag: str = ""
    sequencer: str = ""
    deleted: bool = False
    chunk_count: int = 0
    metadata_json: str = "{}"
    embedder: str = ""


@dataclass(frozen=True)
class SearchFilters:
    audience: str | None = None
    doc_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchHit:
    chunk: Chunk
    score: float
    lexical_rank: int | None = None
    vector_rank: int | None = None
    # The cosine similarity of the query and the chunk, when the backend computed it (it is
    # comparable across questions, unlike a fused score): the answer's coverage decision reads it.
    vector_score: float | None = None


@dataclass(frozen=True)
class Envelope:
    """Metadata of a broker message, as seen by a handler."""

    body: bytes
    message_id: str
    redelivered: bool = False
    delivery_count: int = 0
    headers: dict[str, str] = field(default_factory=dict)
