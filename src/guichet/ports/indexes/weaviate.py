"""VectorIndex on Weaviate (weaviate-client v4, gRPC), with vectors we compute ourselves.

Two collections: `<collection>` holds one object per chunk (uuid = chunk.id, a deterministic
uuid5) and `<collection>Document` one object per DocumentState (uuid5 of the key).

Weaviate has no French stemmer, so the lexical side does not use its tokenizers on raw text: each
chunk also stores `analyzed`, the output of guichet.text.analyze (folded, stemmed, stopwords
removed) joined by spaces, indexed with WHITESPACE tokenization and no stopword preset; queries are
analyzed the same way and BM25 runs on that property only. Lexical behaviour therefore matches the
embedded index.

replace_document upserts the new chunks first and only then deletes the chunks of the key that are
not in the new set: a search running during the update sees the old or the new version of a chunk,
never an empty document. Weaviate is not transactional, so a crash between the two steps leaves
stale extra chunks, which the next replacement of the same key removes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

import weaviate
from weaviate.classes.config import Configure, DataType, Property, StopwordsPreset, Tokenization
from weaviate.classes.data import DataObject
from weaviate.classes.init import Auth
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery
from weaviate.collections.classes.filters import _Filters

from guichet.ports.index import IndexBackendError
from guichet.records import Chunk, DocumentState, SearchFilters, SearchHit, SearchMode, Vector
from guichet.text import analyzed_text

VECTOR_NAME = "default"
STATE_NAMESPACE = uuid.UUID("0b9d3c1e-7f4a-4c55-8f0e-2a6d9e4b1c37")
BATCH_SIZE = 200
# Weaviate answers at most QUERY_MAXIMUM_RESULTS (10,000 by default) objects per call.
FETCH_LIMIT = 10_000
HYBRID_ALPHA = 0.5

_FIELD_TEXT = ("doc_key", "doc_id", "url", "kind", "text_hash")
_PLAIN_TEXT = ("title", "section", "branch", "text", "context")
_STATE_TEXT = ("key", "doc_id", "content_hash", "etag", "sequencer")


def state_uuid(key: str) -> str:
    return str(uuid.uuid5(STATE_NAMESPACE, key))


def _chunk_properties() -> list[Property]:
    # Identifiers: FIELD tokenization (exact match on the whole value); prose: stored, not searched
    # (searching happens on `analyzed`).
    props = [Property(name=n, data_type=DataType.TEXT, tokenization=Tokenization.FIELD) for n in _FIELD_TEXT]
    props += [Property(name=n, data_type=DataType.TEXT, index_searchable=False) for n in _PLAIN_TEXT]
    return [
        *props,
        Property(name="ordinal", data_type=DataType.INT),
        Property(name="audience", data_type=DataType.TEXT_ARRAY, tokenization=Tokenization.FIELD),
        Property(name="analyzed", data_type=DataType.TEXT, tokenization=Tokenization.WHITESPACE),
    ]


def _state_properties() -> list[Property]:
    props = [Property(name=n, data_type=DataType.TEXT, tokenization=Tokenization.FIELD) for n in _STATE_TEXT]
    return [
        *props,
        Property(name="deleted", data_type=DataType.BOOL),
        Property(name="chunk_count", data_type=DataType.INT),
        Property(
            name="metadata_json", data_type=DataType.TEXT, index_filterable=False, index_searchable=False
        ),
    ]


def _chunk_to_properties(chunk: Chunk) -> dict[str, Any]:
    return {
        "doc_key": chunk.doc_key, "doc_id": chunk.doc_id, "url": chunk.url, "kind": chunk.kind,
        "text_hash": chunk.text_hash, "title": chunk.title, "section": chunk.section,
        "branch": chunk.branch, "text": chunk.text, "context": chunk.context, "ordinal": chunk.ordinal,
        "audience": list(chunk.audience), "analyzed": analyzed_text(chunk.indexed_text),
    }  # fmt: skip


def _chunk_from_object(obj: Any) -> Chunk:
    p = obj.properties
    return Chunk(
        id=str(obj.uuid), doc_key=p["doc_key"], doc_id=p["doc_id"], ordinal=int(p["ordinal"]),
        title=p["title"], url=p["url"], audience=tuple(p.get("audience") or ()), section=p["section"],
        branch=p["branch"], kind=p["kind"], text=p["text"], context=p.get("context") or "",
    )  # fmt: skip


def _state_from_properties(p: Mapping[str, Any]) -> DocumentState:
    return DocumentState(
        key=p["key"], doc_id=p["doc_id"], content_hash=p["content_hash"], etag=p.get("etag") or "",
        sequencer=p.get("sequencer") or "", deleted=bool(p["deleted"]), chunk_count=int(p["chunk_count"]),
        metadata_json=p.get("metadata_json") or "{}",
    )  # fmt: skip


def _flat(vector: Any) -> Vector:
    return [float(x) for x in vector]


def _filters(filters: SearchFilters | None) -> _Filters | None:
    parts: list[_Filters] = []
    if filters and filters.audience is not None:
        parts.append(Filter.by_property("audience").contains_any([filters.audience]))
    if filters and filters.doc_ids:
        parts.append(Filter.by_property("doc_id").contains_any(list(filters.doc_ids)))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Filter.all_of(parts)


class WeaviateIndex:
    def __init__(
        self,
        url: str,
        *,
        grpc_port: int = 50051,
        api_key: str = "",
        collection: str = "GuichetChunk",
        dimension: int,
    ) -> None:
        self.dimension = dimension
        self._names = (collection, f"{collection}Document")
        parsed = urlparse(url)
        secure = parsed.scheme == "https"
        host = parsed.hostname or "localhost"
        try:
            self._client = weaviate.connect_to_custom(
                http_host=host, http_port=parsed.port or (443 if secure else 80), http_secure=secure,
                grpc_host=host, grpc_port=grpc_port, grpc_secure=secure,
                auth_credentials=Auth.api_key(api_key) if api_key else None,
            )  # fmt: skip
            self._ensure_collections()
        except weaviate.exceptions.WeaviateBaseError as exc:
            raise IndexBackendError(f"Weaviate injoignable à {url} : {exc}") from exc
        self._chunks = self._client.collections.get(self._names[0])
        self._states = self._client.collections.get(self._names[1])

    def _ensure_collections(self) -> None:
        chunk_name, state_name = self._names
        # No stopword preset: the English default would drop nothing useful on pre-analyzed French.
        inverted = Configure.inverted_index(stopwords_preset=StopwordsPreset.NONE)
        if not self._client.collections.exists(chunk_name):
            self._client.collections.create(
                chunk_name,
                properties=_chunk_properties(),
                vector_config=Configure.Vectors.self_provided(name=VECTOR_NAME),
                inverted_index_config=inverted,
            )
        if not self._client.collections.exists(state_name):
            self._client.collections.create(
                state_name,
                properties=_state_properties(),
                vector_config=Configure.Vectors.self_provided(name=VECTOR_NAME),
            )

    # -- writes ----------------------------------------------------------------------------------

    def replace_document(
        self, state: DocumentState, chunks: Sequence[Chunk], vectors: Sequence[Vector]
    ) -> None:
        if len(chunks) != len(vectors):
            raise IndexBackendError(f"{len(chunks)} passages mais {len(vectors)} vecteurs pour {state.key}")
        if any(len(v) != self.dimension for v in vectors):
            raise IndexBackendError(f"vecteur de longueur différente de {self.dimension} pour {state.key}")
        objects = [
            DataObject(properties=_chunk_to_properties(c), uuid=c.id, vector={VECTOR_NAME: list(v)})
            for c, v in zip(chunks, vectors, strict=True)
        ]
        self._insert(self._chunks, objects)
        keep = {c.id for c in chunks}
        stale = [i for i in self._chunk_ids(state.key) if i not in keep]
        self._delete_ids(stale)
        self._put_state(state)

    def record_state(self, state: DocumentState) -> None:
        self._put_state(state)

    def delete_document(self, key: str, sequencer: str = "") -> int:
        removed = self._delete_where(Filter.by_property("doc_key").equal(key))
        previous = self.document_state(key)
        self._put_state(
            DocumentState(
                key=key,
                doc_id=previous.doc_id if previous else "",
                content_hash="",
                sequencer=sequencer,
                deleted=True,
                metadata_json=previous.metadata_json if previous else "{}",
            )
        )
        return removed

    def _put_state(self, state: DocumentState) -> None:
        props = {
            "key": state.key, "doc_id": state.doc_id, "content_hash": state.content_hash, "etag": state.etag,
            "sequencer": state.sequencer, "deleted": state.deleted, "chunk_count": state.chunk_count,
            "metadata_json": state.metadata_json,
        }  # fmt: skip
        # A batch insert with an existing uuid replaces the object: an upsert in one call.
        self._insert(self._states, [DataObject(properties=props, uuid=state_uuid(state.key))])

    @staticmethod
    def _insert(collection: Any, objects: list[DataObject[Any, Any]]) -> None:
        for start in range(0, len(objects), BATCH_SIZE):
            result = collection.data.insert_many(objects[start : start + BATCH_SIZE])
            if result.has_errors:
                failed = "; ".join(
                    f"{objects[start + i].uuid}: {err.message}" for i, err in sorted(result.errors.items())
                )
                raise IndexBackendError(f"Weaviate a refusé {len(result.errors)} objets : {failed}")

    def _chunk_ids(self, key: str) -> list[str]:
        response = self._chunks.query.fetch_objects(
            filters=Filter.by_property("doc_key").equal(key), limit=FETCH_LIMIT, return_properties=["doc_key"]
        )
        return [str(o.uuid) for o in response.objects]

    def _delete_ids(self, ids: list[str]) -> None:
        for start in range(0, len(ids), BATCH_SIZE):
            self._delete_where(Filter.by_id().contains_any(ids[start : start + BATCH_SIZE]))

    def _delete_where(self, where: _Filters) -> int:
        # Weaviate deletes at most QUERY_MAXIMUM_RESULTS objects per call: loop until none match.
        removed = 0
        while True:
            result = self._chunks.data.delete_many(where=where)
            if result.failed:
                raise IndexBackendError(f"Weaviate n'a pas pu supprimer {result.failed} passages")
            removed += result.successful
            if result.matches == 0 or result.successful == 0:
                return removed

    # -- reads -----------------------------------------------------------------------------------

    def document_state(self, key: str) -> DocumentState | None:
        obj = self._states.query.fetch_object_by_id(state_uuid(key))
        return _state_from_properties(obj.properties) if obj is not None else None

    def reusable_vectors(self, key: str) -> dict[str, Vector]:
        response = self._chunks.query.fetch_objects(
            filters=Filter.by_property("doc_key").equal(key),
            limit=FETCH_LIMIT,
            include_vector=True,
            return_properties=["text_hash"],
        )
        # Our vectors are single (not multi-vector): each one is a flat list of floats.
        return {str(o.properties["text_hash"]): _flat(o.vector[VECTOR_NAME]) for o in response.objects}

    def documents(self) -> Iterator[DocumentState]:
        for obj in self._states.iterator():
            yield _state_from_properties(obj.properties)

    def chunk_count(self) -> int:
        return int(self._chunks.aggregate.over_all(total_count=True).total_count or 0)

    def search(
        self,
        query: str,
        vector: Vector,
        *,
        k: int = 10,
        filters: SearchFilters | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[SearchHit]:
        where = _filters(filters)
        if mode == "vector":
            response = self._chunks.query.near_vector(
                near_vector=list(vector), target_vector=VECTOR_NAME, limit=k, filters=where,
                return_metadata=MetadataQuery(distance=True),
            )  # fmt: skip
            # Cosine distance is 1 - cosine similarity: report the similarity, like the embedded index.
            return [
                SearchHit(_chunk_from_object(o), 1.0 - float(o.metadata.distance or 0.0), vector_rank=rank)
                for rank, o in enumerate(response.objects, start=1)
            ]
        terms = analyzed_text(query)
        if mode == "lexical":
            if not terms:
                return []
            response = self._chunks.query.bm25(
                query=terms, query_properties=["analyzed"], limit=k, filters=where,
                return_metadata=MetadataQuery(score=True),
            )  # fmt: skip
            return [
                SearchHit(_chunk_from_object(o), float(o.metadata.score or 0.0), lexical_rank=rank)
                for rank, o in enumerate(response.objects, start=1)
            ]
        response = self._chunks.query.hybrid(
            query=terms or None, vector=list(vector), target_vector=VECTOR_NAME, alpha=HYBRID_ALPHA,
            query_properties=["analyzed"], fusion_type=HybridFusion.RELATIVE_SCORE, limit=k,
            filters=where, return_metadata=MetadataQuery(score=True),
        )  # fmt: skip
        return [SearchHit(_chunk_from_object(o), float(o.metadata.score or 0.0)) for o in response.objects]

    def ping(self) -> bool:
        try:
            return bool(self._client.is_ready())
        except Exception:  # a health probe answers, it does not raise
            return False

    def drop(self) -> None:
        """Delete both collections (tests and `guichet reindex --from-scratch`)."""
        for name in self._names:
            self._client.collections.delete(name)

    def close(self) -> None:
        self._client.close()
