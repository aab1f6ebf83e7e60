"""The three search modes as Weaviate queries on the chunk collection, answered as SearchHits."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from weaviate.classes.query import Filter, FilterReturn, HybridFusion, MetadataQuery
from weaviate.collections import Collection

from guichet.ports.indexes._weaviate_records import chunk_from_object
from guichet.ports.indexes._weaviate_schema import VECTOR_NAME
from guichet.ports.records import SearchFilters, SearchHit, Vector

HYBRID_ALPHA = 0.5


def where_clause(filters: SearchFilters | None) -> FilterReturn | None:
    parts: list[FilterReturn] = []
    if filters and filters.audience is not None:
        parts.append(Filter.by_property("audience").contains_any([filters.audience]))
    if filters and filters.doc_ids:
        parts.append(Filter.by_property("doc_id").contains_any(list(filters.doc_ids)))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Filter.all_of(parts)


def vector_search(
    chunks: Collection[Any, Any], vector: Vector, k: int, where: FilterReturn | None
) -> list[SearchHit]:
    response = chunks.query.near_vector(
        near_vector=list(vector), target_vector=VECTOR_NAME, limit=k, filters=where,
        return_metadata=MetadataQuery(distance=True),
    )  # fmt: skip
    # Cosine distance is 1 - cosine similarity: report the similarity, like the embedded index.
    return [
        SearchHit(
            chunk_from_object(o),
            1.0 - float(o.metadata.distance or 0.0),
            vector_rank=rank,
            vector_score=1.0 - float(o.metadata.distance or 0.0),
        )
        for rank, o in enumerate(response.objects, start=1)
    ]


def lexical_search(
    chunks: Collection[Any, Any], terms: str, k: int, where: FilterReturn | None
) -> list[SearchHit]:
    """BM25 over `analyzed`; terms must already be analyzed like it (guichet.lexical.analyzed_text)."""
    response = chunks.query.bm25(
        query=terms, query_properties=["analyzed"], limit=k, filters=where,
        return_metadata=MetadataQuery(score=True),
    )  # fmt: skip
    return [
        SearchHit(chunk_from_object(o), float(o.metadata.score or 0.0), lexical_rank=rank)
        for rank, o in enumerate(response.objects, start=1)
    ]


def hybrid_search(
    chunks: Collection[Any, Any], terms: str, vector: Vector, k: int, where: FilterReturn | None
) -> list[SearchHit]:
    # No terms left after analysis: query=None makes the client send alpha=1 (vector only).
    response = chunks.query.hybrid(
        query=terms or None, vector=list(vector), target_vector=VECTOR_NAME, alpha=HYBRID_ALPHA,
        query_properties=["analyzed"], fusion_type=HybridFusion.RELATIVE_SCORE, limit=k,
        filters=where, return_metadata=MetadataQuery(score=True), include_vector=[VECTOR_NAME],
    )  # fmt: skip
    # The fused score is relative to this result list; the cosine, computed here from the returned
    # vectors, is what the embedded index reports too, so both backends feed the same coverage signal.
    query = _unit(vector)
    return [
        SearchHit(
            chunk_from_object(o),
            float(o.metadata.score or 0.0),
            vector_score=_cosine(query, o.vector.get(VECTOR_NAME)) if query is not None else None,
        )
        for o in response.objects
    ]


def _unit(vector: Vector) -> npt.NDArray[np.float64] | None:
    array = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(array)) if array.size else 0.0
    return array / norm if norm > 0 else None


def _cosine(query: npt.NDArray[np.float64], stored: Any) -> float | None:
    unit = _unit(list(stored)) if stored is not None else None
    return float(query @ unit) if unit is not None and unit.shape == query.shape else None
