"""Batched inserts and deletes on a Weaviate collection, failures raised as IndexBackendError.

Weaviate caps how many objects one call lists or deletes (QUERY_MAXIMUM_RESULTS), so these work in
batches or loops.
"""

from __future__ import annotations

from typing import Any

from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter, FilterReturn
from weaviate.collections import Collection

from guichet.ports.index import IndexBackendError

BATCH_SIZE = 200
# Weaviate answers at most QUERY_MAXIMUM_RESULTS (10,000 by default) objects per call.
FETCH_LIMIT = 10_000


def insert(collection: Collection[Any, Any], objects: list[DataObject[Any, Any]]) -> None:
    # insert_many reports per-object failures in `errors` (keyed by position in the call), but
    # raises WeaviateInsertManyAllFailedError when every object failed (a one-object state upsert).
    for start in range(0, len(objects), BATCH_SIZE):
        result = collection.data.insert_many(objects[start : start + BATCH_SIZE])
        if result.has_errors:
            failed = "; ".join(
                f"{objects[start + i].uuid}: {err.message}" for i, err in sorted(result.errors.items())
            )
            raise IndexBackendError(f"Weaviate a refusé {len(result.errors)} objets : {failed}")


def chunk_ids(chunks: Collection[Any, Any], key: str) -> list[str]:
    """The uuids of every chunk of key."""
    response = chunks.query.fetch_objects(
        filters=Filter.by_property("doc_key").equal(key), limit=FETCH_LIMIT, return_properties=["doc_key"]
    )
    # A filtered fetch cannot page past QUERY_MAXIMUM_RESULTS (the cursor API takes no filter): a
    # full page may hide stale chunks that would then never be deleted, so refuse instead.
    if len(response.objects) >= FETCH_LIMIT:
        raise IndexBackendError(f"{key} a au moins {FETCH_LIMIT} passages, au-delà de ce que Weaviate liste")
    return [str(o.uuid) for o in response.objects]


def delete_ids(chunks: Collection[Any, Any], ids: list[str]) -> None:
    for start in range(0, len(ids), BATCH_SIZE):
        delete_where(chunks, Filter.by_id().contains_any(ids[start : start + BATCH_SIZE]))


def delete_where(chunks: Collection[Any, Any], where: FilterReturn) -> int:
    # Weaviate deletes at most QUERY_MAXIMUM_RESULTS objects per call: loop until none match.
    removed = 0
    while True:
        result = chunks.data.delete_many(where=where)
        if result.failed:
            raise IndexBackendError(f"Weaviate n'a pas pu supprimer {result.failed} passages")
        removed += result.successful
        if result.matches == 0 or result.successful == 0:
            return removed
