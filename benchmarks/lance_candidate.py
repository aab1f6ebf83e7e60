"""Candidate B for ADR 0002: LanceDB (native FTS with French stemming + flat vector search + RRF).

Benchmark-only code: lancedb is the optional "bench" extra, never a runtime dependency.
It exposes the same small surface the benchmark drives on EmbeddedIndex.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.rerankers import RRFReranker

from guichet.ports.records import Chunk

FTS_OPTIONS: dict[str, Any] = {
    "language": "French", "stem": True, "ascii_folding": True, "remove_stop_words": True, "lower_case": True,
}  # fmt: skip


def _table(chunks: Sequence[Chunk], vectors: np.ndarray) -> pa.Table:
    return pa.table(
        {
            "id": [c.id for c in chunks],
            "doc_key": [c.doc_key for c in chunks],
            "doc_id": [c.doc_id for c in chunks],
            "audience": ["|" + "|".join(c.audience) + "|" for c in chunks],
            "text": [c.indexed_text for c in chunks],
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(np.asarray(vectors, dtype=np.float32).ravel()), vectors.shape[1]
            ),
        }
    )


class LanceCandidate:
    def __init__(self, path: Path) -> None:
        self.db = lancedb.connect(str(path))
        self.table: Any = None
        self._rrf = RRFReranker(K=60)

    def build(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self.table = self.db.create_table("chunks", data=_table(chunks, vectors), mode="overwrite")
        self.rebuild_fts()

    def rebuild_fts(self) -> float:
        started = time.perf_counter()
        self.table.create_fts_index("text", replace=True, **FTS_OPTIONS)
        return time.perf_counter() - started

    def optimize(self) -> float:
        started = time.perf_counter()
        self.table.optimize()
        return time.perf_counter() - started

    def replace(self, key: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        # Two commits (delete, then add): a reader can see the document missing in between.
        self.table.delete(f"doc_key = '{key}'")
        self.table.add(_table(chunks, vectors))

    def search(
        self, query: str, vector: np.ndarray, k: int, mode: str, audience: str | None = None
    ) -> list[str]:
        where = f"audience LIKE '%|{audience}|%'" if audience else None
        if mode == "lexical":
            builder = self.table.search(query, query_type="fts", fts_columns="text")
        elif mode == "vector":
            builder = self.table.search(np.asarray(vector, dtype=np.float32)).distance_type("cosine")
        else:
            builder = (
                self.table.search(query_type="hybrid", fts_columns="text")
                .vector(np.asarray(vector, dtype=np.float32))
                .text(query)
                .distance_type("cosine")
                .rerank(self._rrf)
            )
        if where:
            builder = builder.where(where, prefilter=True)
        rows = builder.limit(k).select(["doc_id"]).to_arrow()
        return [str(d) for d in rows.column("doc_id").to_pylist()]

    def disk_bytes(self, path: Path) -> int:
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
