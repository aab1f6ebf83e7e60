"""The configuration of the adapter's two Weaviate collections (chunks, document states)."""

from __future__ import annotations

from typing import Any

from weaviate import WeaviateClient
from weaviate.classes.config import (
    Configure,
    DataType,
    Property,
    StopwordsPreset,
    Tokenization,
    VectorDistances,
)
from weaviate.exceptions import WeaviateBaseError

VECTOR_NAME = "default"

_FIELD_TEXT = ("doc_key", "doc_id", "url", "kind", "text_hash")
_PLAIN_TEXT = ("title", "section", "branch", "text", "context")
_STATE_TEXT = ("key", "doc_id", "content_hash", "etag", "sequencer", "embedder")


def vector_config() -> Any:
    # Cosine pinned rather than left to the server default: search() reports 1 - distance as the
    # cosine similarity, which only holds for the cosine metric.
    return Configure.Vectors.self_provided(
        name=VECTOR_NAME,
        vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE),
    )


def chunk_properties() -> list[Property]:
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


def state_properties() -> list[Property]:
    props = [Property(name=n, data_type=DataType.TEXT, tokenization=Tokenization.FIELD) for n in _STATE_TEXT]
    return [
        *props,
        Property(name="deleted", data_type=DataType.BOOL),
        Property(name="chunk_count", data_type=DataType.INT),
        Property(
            name="metadata_json", data_type=DataType.TEXT, index_filterable=False, index_searchable=False
        ),
    ]


def ensure_collections(client: WeaviateClient, chunk_name: str, state_name: str) -> None:
    # No stopword preset: the English default would drop nothing useful on pre-analyzed French.
    inverted = Configure.inverted_index(stopwords_preset=StopwordsPreset.NONE)
    _create(client, chunk_name, properties=chunk_properties(), inverted_index_config=inverted)
    # The state collection never gets vectors, but a self-provided vector config keeps a server
    # DEFAULT_VECTORIZER_MODULE from vectorizing it.
    _create(client, state_name, properties=state_properties())


def _create(client: WeaviateClient, name: str, **config: Any) -> None:
    if client.collections.exists(name):
        return
    try:
        client.collections.create(name, vector_config=vector_config(), **config)
    except WeaviateBaseError:
        # The API and the index worker start together: the other one may have just created it.
        if not client.collections.exists(name):
            raise
