"""VectorIndex on Weaviate (weaviate-client v4, gRPC), with vectors we compute ourselves.

Two collections: `<collection>` holds one object per chunk (uuid = chunk.id, a deterministic
uuid5) and `<collection>Document` one object per DocumentState (uuid5 of the key).

Weaviate has no French stemmer, so the lexical side does not use its tokenizers on raw text: each
chunk also stores `analyzed`, the output of guichet.lexical.analyze (folded, stemmed, stopwords
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

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlparse

import httpx
import weaviate
from weaviate.classes.data import DataObject
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.classes.query import Filter
from weaviate.exceptions import WeaviateBaseError

from guichet.lexical import analyze, query_terms
from guichet.ports.index import IndexBackendError
from guichet.ports.indexes import _weaviate_writes as writes
from guichet.ports.indexes._weaviate_records import (
    STATE_NAMESPACE,
    chunk_from_object,
    chunk_to_properties,
    flat,
    state_from_properties,
    state_to_properties,
    state_uuid,
)
from guichet.ports.indexes._weaviate_schema import VECTOR_NAME, ensure_collections
from guichet.ports.indexes._weaviate_search import (
    hybrid_search,
    lexical_search,
    phrase_mentioned,
    vector_search,
    where_clause,
)
from guichet.ports.indexes._weaviate_writes import BATCH_SIZE, FETCH_LIMIT
from guichet.ports.records import Chunk, DocumentState, SearchFilters, SearchHit, SearchMode, Vector

__all__ = [
    "BATCH_SIZE",
    "FETCH_LIMIT",
    "STATE_NAMESPACE",
    "VECTOR_NAME",
    "WeaviateIndex",
    "state_uuid",
]

# Their names before the split into _weaviate_* modules, which the adapter tests still use.
_chunk_to_properties = chunk_to_properties
_state_from_properties = state_from_properties


@contextmanager
def _backend(action: str) -> Iterator[None]:
    # The client reports network and server failures as WeaviateBaseError subclasses (REST calls that
    # fail below its own handling leak as httpx errors); callers of the port catch IndexBackendError.
    try:
        yield
    except (WeaviateBaseError, httpx.HTTPError) as exc:
        raise IndexBackendError(f"Weaviate : échec {action} : {exc}") from exc


class WeaviateIndex:
    def __init__(
        self,
        url: str,
        *,
        grpc_port: int = 50051,
        grpc_host: str = "",
        api_key: str = "",
        collection: str = "GuichetChunk",
        dimension: int,
        query_timeout: float = 5.0,
        insert_timeout: float = 90.0,
    ) -> None:
        self.dimension = dimension
        self._names = (collection, f"{collection}Document")
        parsed = urlparse(url)
        secure = parsed.scheme == "https"
        host = parsed.hostname or "localhost"
        with _backend(f"de la connexion à {url}"):
            self._client = weaviate.connect_to_custom(
                http_host=host, http_port=parsed.port or (443 if secure else 80), http_secure=secure,
                grpc_host=grpc_host or host, grpc_port=grpc_port, grpc_secure=secure,
                auth_credentials=Auth.api_key(api_key) if api_key else None,
                # The client's default query timeout is 30 s: an answer would wait that long on a stuck
                # Weaviate before its retrieval fails and is retried.
                additional_config=AdditionalConfig(
                    timeout=Timeout(query=query_timeout, insert=insert_timeout)
                ),
            )  # fmt: skip
        try:
            with _backend(f"de la création des collections {' et '.join(self._names)}"):
                ensure_collections(self._client, *self._names)
        except IndexBackendError:
            self._client.close()  # connect_to_custom left gRPC and HTTP connections open
            raise
        self._chunks = self._client.collections.get(self._names[0])
        self._states = self._client.collections.get(self._names[1])

    # -- writes ----------------------------------------------------------------------------------

    def replace_document(
        self, state: DocumentState, chunks: Sequence[Chunk], vectors: Sequence[Vector]
    ) -> None:
        if len(chunks) != len(vectors):
            raise IndexBackendError(f"{len(chunks)} passages mais {len(vectors)} vecteurs pour {state.key}")
        if any(len(v) != self.dimension for v in vectors):
            raise IndexBackendError(f"vecteur de longueur différente de {self.dimension} pour {state.key}")
        objects = [
            DataObject(properties=chunk_to_properties(c), uuid=c.id, vector={VECTOR_NAME: list(v)})
            for c, v in zip(chunks, vectors, strict=True)
        ]
        with _backend(f"de l'indexation de {state.key}"):
            writes.insert(self._chunks, objects)
            keep = {c.id for c in chunks}
            stale = [i for i in writes.chunk_ids(self._chunks, state.key) if i not in keep]
            writes.delete_ids(self._chunks, stale)
            self._put_state(state)

    def record_state(self, state: DocumentState) -> None:
        with _backend(f"de l'enregistrement de l'état de {state.key}"):
            self._put_state(state)

    def delete_document(self, key: str, sequencer: str = "") -> int:
        with _backend(f"de la suppression de {key}"):
            removed = writes.delete_where(self._chunks, Filter.by_property("doc_key").equal(key))
            previous = self._state(key)
            self._put_state(
                DocumentState(
                    key=key,
                    doc_id=previous.doc_id if previous else "",
                    content_hash="",
                    sequencer=sequencer,
                    deleted=True,
                    metadata_json=previous.metadata_json if previous else "{}",
                    embedder=previous.embedder if previous else "",
                )
            )
        return removed

    def _put_state(self, state: DocumentState) -> None:
        # A batch insert with an existing uuid replaces the object: an upsert in one call.
        props = state_to_properties(state)
        writes.insert(self._states, [DataObject(properties=props, uuid=state_uuid(state.key))])

    # -- reads -----------------------------------------------------------------------------------

    def document_state(self, key: str) -> DocumentState | None:
        with _backend(f"de la lecture de l'état de {key}"):
            return self._state(key)

    def _state(self, key: str) -> DocumentState | None:
        obj = self._states.query.fetch_object_by_id(state_uuid(key))
        return state_from_properties(obj.properties) if obj is not None else None

    def reusable_vectors(self, key: str) -> dict[str, Vector]:
        with _backend(f"de la lecture des vecteurs de {key}"):
            response = self._chunks.query.fetch_objects(
                filters=Filter.by_property("doc_key").equal(key),
                limit=FETCH_LIMIT,
                include_vector=[VECTOR_NAME],
                return_properties=["text_hash"],
            )
        # An object without its vector is simply not reusable (its text gets embedded again).
        return {
            str(o.properties["text_hash"]): flat(o.vector[VECTOR_NAME])
            for o in response.objects
            if VECTOR_NAME in o.vector
        }

    def document_chunks(self, key: str) -> list[tuple[Chunk, Vector]]:
        with _backend(f"de la lecture des passages de {key}"):
            response = self._chunks.query.fetch_objects(
                filters=Filter.by_property("doc_key").equal(key),
                limit=FETCH_LIMIT,
                include_vector=[VECTOR_NAME],
            )
        pairs = [(chunk_from_object(o), flat(o.vector[VECTOR_NAME])) for o in response.objects]
        return sorted(pairs, key=lambda pair: pair[0].ordinal)

    def documents(self) -> Iterator[DocumentState]:
        # The iterator pages with the `after` cursor, so it lists every state, past 10,000 too.
        with _backend("de la liste des documents"):
            for obj in self._states.iterator():
                yield state_from_properties(obj.properties)

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
            where = where_clause(filters)
            if mode == "vector":
                return vector_search(self._chunks, vector, k, where)
            terms = " ".join(query_terms(query))
            if mode == "lexical":
                return lexical_search(self._chunks, terms, k, where) if terms else []
            return hybrid_search(self._chunks, terms, vector, k, where)

    def mentions(self, phrase: str) -> bool:
        terms = analyze(phrase)
        if not terms:
            return False
        with _backend("de la recherche"):
            return phrase_mentioned(self._chunks, terms)

    # -- lifecycle -------------------------------------------------------------------------------

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
