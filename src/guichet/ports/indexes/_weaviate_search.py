"""The three search modes as Weaviate queries on the chunk collection, answered as SearchHits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from weaviate.classes.query import Filter, FilterReturn, MetadataQuery
from weaviate.collections import Collection

from guichet.lexical import contains_phrase
from guichet.ports.indexes._weaviate_records import chunk_from_object
from guichet.ports.indexes._weaviate_schema import VECTOR_NAME
from guichet.ports.indexes.fusion import candidate_depth, reciprocal_rank_fusion
from guichet.ports.records import SearchFilters, SearchHit, Vector


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


# Passages read to find a phrase's terms in a row. BM25 has no phrase query: the passages holding every
# term are read, a page at a time, up to PHRASE_SCAN; terms found together in more passages than that
# without the phrase are taken as a phrase the corpus knows (the rule declines only unknown names).
PHRASE_SCAN = 500
PHRASE_PAGE = 100


def phrase_mentioned(chunks: Collection[Any, Any], terms: Sequence[str]) -> bool:
    holding_all = Filter.by_property("analyzed").contains_all(list(dict.fromkeys(terms)))
    for offset in range(0, PHRASE_SCAN, PHRASE_PAGE):
        response = chunks.query.fetch_objects(
            filters=holding_all, limit=PHRASE_PAGE, offset=offset, return_properties=["analyzed"]
        )
        texts = [str(o.properties["analyzed"]).split() for o in response.objects]
        if any(contains_phrase(text, terms) for text in texts):
            return True
        if len(texts) < PHRASE_PAGE:
            return False
    return True


def hybrid_search(
    chunks: Collection[Any, Any], terms: str, vector: Vector, k: int, where: FilterReturn | None
) -> list[SearchHit]:
    """The embedded index's fusion, computed here: both rankings read to the same depth, fused by RRF.

    Weaviate's own hybrid query fuses by relative score and reports neither rank; fusing client-side
    makes production ranking the one the evaluation measures on the embedded index, and gives the
    coverage decision the same signals (ranks, cosine) on both backends. Two queries instead of one.
    """
    depth = candidate_depth(k)
    lexical = lexical_search(chunks, terms, depth, where) if terms else []
    dense = vector_search(chunks, vector, depth, where)
    by_id = {h.chunk.id: h for h in (*lexical, *dense)}
    cosine = {h.chunk.id: h.vector_score for h in dense}
    fused = reciprocal_rank_fusion([h.chunk.id for h in lexical], [h.chunk.id for h in dense])
    return [
        SearchHit(by_id[key].chunk, score, lex, vec, vector_score=cosine.get(key))
        for key, score, lex, vec in fused[:k]
    ]
