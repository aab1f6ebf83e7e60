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

Every client exception (WeaviateBaseError: gRPC query/batch/delete errors, a batch whose objects all
failed, connection loss) surfaces as IndexBackendError, the only error the callers of the port catch.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import httpx
import weaviate
from weaviate.classes.config import (
    Configure,
    DataType,
    Property,
    StopwordsPreset,
    Tokenization,
    VectorDistances,
)
from weaviate.classes.data import DataObject
from weaviate.classes.init import Auth
from weaviate.classes.query import Filter, FilterReturn, HybridFusion, MetadataQuery
from weaviate.exceptions import WeaviateBaseError

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


@contextmanager
def _backend(action: str) -> Iterator[None]:
    # The client reports network and server failures as WeaviateBaseError subclasses (REST calls that
    # fail below its own handling leak as httpx errors); callers of the port catch IndexBackendError.
    try:
        yield
    except (WeaviateBaseError, httpx.HTTPError) as exc:
        raise IndexBackendError(f"Weaviate : échec {action} : {exc}") from exc


def _vector_config() -> Any:
    # Cosine pinned rather than left to the server default: search() reports 1 - distance as the
    # cosine similarity, which only holds for the cosine metric.
    return Configure.Vectors.self_provided(
        name=VECTOR_NAME,
        vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE),
    )


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


def _text(p: Mapping[str, Any], name: str) -> str:
    # The client decodes a null property as None and leaves out one the server did not send; our
    # empty strings ("" branch, tombstone content_hash) must come back as "" in both cases.
    return str(p.get(name) or "")


def _chunk_from_object(obj: Any) -> Chunk:
    p = obj.properties
    return Chunk(
        id=str(obj.uuid), doc_key=_text(p, "doc_key"), doc_id=_text(p, "doc_id"),
        ordinal=int(p.get("ordinal") or 0), title=_text(p, "title"), url=_text(p, "url"),
        audience=tuple(p.get("audience") or ()), section=_text(p, "section"), branch=_text(p, "branch"),
        kind=_text(p, "kind"), text=_text(p, "text"), context=_text(p, "context"),
    )  # fmt: skip


def _state_from_properties(p: Mapping[str, Any]) -> DocumentState:
    return DocumentState(
        key=_text(p, "key"), doc_id=_text(p, "doc_id"), content_hash=_text(p, "content_hash"),
        etag=_text(p, "etag"), sequencer=_text(p, "sequencer"), deleted=bool(p.get("deleted")),
        chunk_count=int(p.get("chunk_count") or 0), metadata_json=p.get("metadata_json") or "{}",
    )  # fmt: skip


def _flat(vector: Any) -> Vector:
    return [float(x) for x in vector]


def _filters(filters: SearchFilters | None) -> FilterReturn | None:
    parts: list[FilterReturn] = []
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
        with _backend(f"de la connexion à {url}"):
            self._client = weaviate.connect_to_custom(
                http_host=host, http_port=parsed.port or (443 if secure else 80), http_secure=secure,
                grpc_host=host, grpc_port=grpc_port, grpc_secure=secure,
                auth_credentials=Auth.api_key(api_key) if api_key else None,
            )  # fmt: skip
        try:
            with _backend(f"de la création des collections {' et '.join(self._names)}"):
                self._ensure_collections()
        except IndexBackendError:
            self._client.close()  # connect_to_custom left gRPC and HTTP connections open
            raise
        self._chunks = self._client.collections.get(self._names[0])
        self._states = self._client.collections.get(self._names[1])

    def _ensure_collections(self) -> None:
        chunk_name, state_name = self._names
        # No stopword preset: the English default would drop nothing useful on pre-analyzed French.
        inverted = Configure.inverted_index(stopwords_preset=StopwordsPreset.NONE)
        self._create(chunk_name, properties=_chunk_properties(), inverted_index_config=inverted)
        # The state collection never gets vectors, but a self-provided vector config keeps a server
        # DEFAULT_VECTORIZER_MODULE from vectorizing it.
        self._create(state_name, properties=_state_properties())

    def _create(self, name: str, **config: Any) -> None:
        if self._client.collections.exists(name):
            return
        try:
            self._client.collections.create(name, vector_config=_vector_config(), **config)
        except WeaviateBaseError:
            # The API and the index worker start together: the other one may have just created it.
            if not self._client.collections.exists(name):
                raise

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
        with _backend(f"de l'indexation de {state.key}"):
            self._insert(self._chunks, objects)
            keep = {c.id for c in chunks}
            stale = [i for i in self._chunk_ids(state.key) if i not in keep]
            self._delete_ids(stale)
            self._put_state(state)

    def record_state(self, state: DocumentState) -> None:
        with _backend(f"de l'enregistrement de l'état de {state.key}"):
            self._put_state(state)

    def delete_document(self, key: str, sequencer: str = "") -> int:
        with _backend(f"de la suppression de {key}"):
            removed = self._delete_where(Filter.by_property("doc_key").equal(key))
            previous = self._state(key)
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
        # insert_many reports per-object failures in `errors` (keyed by position in the call), but
        # raises WeaviateInsertManyAllFailedError when every object failed (a one-object state upsert).
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
        # A filtered fetch cannot page past QUERY_MAXIMUM_RESULTS (the cursor API takes no filter): a
        # full page may hide stale chunks that would then never be deleted, so refuse instead.
        if len(response.objects) >= FETCH_LIMIT:
            raise IndexBackendError(
                f"{key} a au moins {FETCH_LIMIT} passages, au-delà de ce que Weaviate liste"
            )
        return [str(o.uuid) for o in response.objects]

    def _delete_ids(self, ids: list[str]) -> None:
        for start in range(0, len(ids), BATCH_SIZE):
            self._delete_where(Filter.by_id().contains_any(ids[start : start + BATCH_SIZE]))

    def _delete_where(self, where: FilterReturn) -> int:
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
        with _backend(f"de la lecture de l'état de {key}"):
            return self._state(key)

    def _state(self, key: str) -> DocumentState | None:
        obj = self._states.query.fetch_object_by_id(state_uuid(key))
        return _state_from_properties(obj.properties) if obj is not None else None

    def reusable_vectors(self, key: str) -> dict[str, Vector]:
        with _backend(f"de la lecture des vecteurs de {key}"):
            response = self._chunks.query.fetch_objects(
                filters=Filter.by_property("doc_key").equal(key),
                limit=FETCH_LIMIT,
                include_vector=[VECTOR_NAME],
                return_properties=["text_hash"],
            )
        # Our vectors are single (not multi-vector): each one is a flat list of floats. An object
        # without its vector is simply not reusable (its text gets embedded again).
        return {
            str(o.properties["text_hash"]): _flat(o.vector[VECTOR_NAME])
            for o in response.objects
            if VECTOR_NAME in o.vector
        }

    def documents(self) -> Iterator[DocumentState]:
        # The iterator pages with the `after` cursor, so it lists every state, past 10,000 too.
        with _backend("de la liste des documents"):
            for obj in self._states.iterator():
                yield _state_from_properties(obj.properties)

    def chunk_count(self) -> int:
        with _backend("du comptage des passages"):
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
        # limit=0 is the protobuf default, which the server reads as "no limit given" (its default).
        if k <= 0:
            return []
        with _backend("de la recherche"):
            if mode == "vector":
                return self._vector_search(vector, k, _filters(filters))
            terms = analyzed_text(query)
            if mode == "lexical":
                return self._lexical_search(terms, k, _filters(filters)) if terms else []
            return self._hybrid_search(terms, vector, k, _filters(filters))

    def _vector_search(self, vector: Vector, k: int, where: FilterReturn | None) -> list[SearchHit]:
        response = self._chunks.query.near_vector(
            near_vector=list(vector), target_vector=VECTOR_NAME, limit=k, filters=where,
            return_metadata=MetadataQuery(distance=True),
        )  # fmt: skip
        # Cosine distance is 1 - cosine similarity: report the similarity, like the embedded index.
        return [
            SearchHit(_chunk_from_object(o), 1.0 - float(o.metadata.distance or 0.0), vector_rank=rank)
            for rank, o in enumerate(response.objects, start=1)
        ]

    def _lexical_search(self, terms: str, k: int, where: FilterReturn | None) -> list[SearchHit]:
        response = self._chunks.query.bm25(
            query=terms, query_properties=["analyzed"], limit=k, filters=where,
            return_metadata=MetadataQuery(score=True),
        )  # fmt: skip
        return [
            SearchHit(_chunk_from_object(o), float(o.metadata.score or 0.0), lexical_rank=rank)
            for rank, o in enumerate(response.objects, start=1)
        ]

    def _hybrid_search(
        self, terms: str, vector: Vector, k: int, where: FilterReturn | None
    ) -> list[SearchHit]:
        # No terms left after analysis: query=None makes the client send alpha=1 (vector only).
        response = self._chunks.query.hybrid(
            query=terms or None, vector=list(vector), target_vector=VECTOR_NAME, alpha=HYBRID_ALPHA,
            query_properties=["analyzed"], fusion_type=HybridFusion.RELATIVE_SCORE, limit=k,
            filters=where, return_metadata=MetadataQuery(score=True),
        )  # fmt: skip
        return [SearchHit(_chunk_from_object(o), float(o.metadata.score or 0.0)) for o in response.objects]

    def ping(self) -> bool:
        # is_ready only probes HTTP; is_live also pings gRPC, which every query and write goes through.
        try:
            return bool(self._client.is_ready()) and bool(self._client.is_live())
        except Exception:  # a health probe answers, it does not raise
            return False

    def drop(self) -> None:
        """Delete both collections (tests and `guichet reindex --from-scratch`)."""
        with _backend("de la suppression des collections"):
            for name in self._names:
                self._client.collections.delete(name)

    def close(self) -> None:
        self._client.close()
