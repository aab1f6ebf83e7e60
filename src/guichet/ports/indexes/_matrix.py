"""In-memory float32 matrix of the embedded index's vectors, for brute-force cosine search.

Rows are keyed by the SQLite rowid of the chunk. Chunk rows are never updated in place (a
replacement deletes and inserts, and rowids are AUTOINCREMENT so never reused), which lets a
refresh be incremental: drop the rowids that disappeared, append the rows above the last one seen.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

FloatMatrix = npt.NDArray[np.float32]
Row = tuple[int, str, str, bytes]  # rowid, doc_id, delimited audience, float32 vector blob


def audience_field(audience: Sequence[str]) -> str:
    """Audiences stored as "|a|b|" so that one LIKE '%|a|%' (or a substring test) filters them."""
    return "|" + "|".join(audience) + "|" if audience else ""


def normalise(vector: npt.ArrayLike) -> npt.NDArray[np.float32]:
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


class VectorMatrix:
    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.rowids = np.empty(0, dtype=np.int64)
        self.vectors: FloatMatrix = np.empty((0, dimension), dtype=np.float32)
        self.doc_ids = np.empty(0, dtype=object)
        self.audiences = np.empty(0, dtype=object)
        self._audience_masks: dict[str, npt.NDArray[np.bool_]] = {}

    @property
    def max_rowid(self) -> int:
        return int(self.rowids[-1]) if len(self.rowids) else 0

    def refresh(self, live_rowids: Iterable[int], new_rows: Sequence[Row]) -> None:
        """Keep only `live_rowids`, then append `new_rows` (all above max_rowid, ascending)."""
        live = np.fromiter(live_rowids, dtype=np.int64)
        keep = np.isin(self.rowids, live, assume_unique=True)
        if not keep.all():
            self.rowids, self.vectors = self.rowids[keep], self.vectors[keep]
            self.doc_ids, self.audiences = self.doc_ids[keep], self.audiences[keep]
        if new_rows:
            self._append(new_rows)
        self._audience_masks.clear()

    def _append(self, rows: Sequence[Row]) -> None:
        blob = b"".join(row[3] for row in rows)
        block = np.frombuffer(blob, dtype=np.float32).reshape(len(rows), self.dimension)
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        block = (block / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        self.rowids = np.concatenate([self.rowids, np.fromiter((r[0] for r in rows), dtype=np.int64)])
        self.vectors = np.concatenate([self.vectors, block])
        self.doc_ids = np.concatenate([self.doc_ids, np.array([r[1] for r in rows], dtype=object)])
        self.audiences = np.concatenate([self.audiences, np.array([r[2] for r in rows], dtype=object)])

    def _mask(self, audience: str | None, doc_ids: Sequence[str]) -> npt.NDArray[np.bool_] | None:
        mask: npt.NDArray[np.bool_] | None = None
        if audience is not None:
            mask = self._audience_masks.get(audience)
            if mask is None:
                needle = f"|{audience}|"
                found = (needle in a for a in self.audiences)
                mask = np.fromiter(found, dtype=bool, count=len(self.audiences))
                self._audience_masks[audience] = mask
        if doc_ids:
            by_doc = np.isin(self.doc_ids, np.array(list(doc_ids), dtype=object))
            mask = by_doc if mask is None else mask & by_doc
        return mask

    def top(
        self, query: npt.ArrayLike, n: int, *, audience: str | None = None, doc_ids: Sequence[str] = ()
    ) -> list[tuple[int, float]]:
        """The n best (rowid, cosine) pairs, best first, among rows passing the filters."""
        if not len(self.rowids) or n <= 0:
            return []
        single_threaded_blas()
        scores = self.vectors @ normalise(query)
        mask = self._mask(audience, doc_ids)
        if mask is not None:
            candidates = np.flatnonzero(mask)
            scores = scores[candidates]
        else:
            candidates = np.arange(len(scores))
        part = np.argpartition(-scores, n - 1)[:n] if len(scores) > n else np.arange(len(scores))
        order = part[np.argsort(-scores[part], kind="stable")]
        return [(int(self.rowids[candidates[i]]), float(scores[i])) for i in order]


@functools.cache
def single_threaded_blas() -> None:
    """One BLAS thread for the whole process, set once.

    A 50,000 × 384 matrix-vector product is memory-bound: one thread does it in ~4 ms. With OpenBLAS's
    own pool, it fought the bundled embedder's OpenMP threads for the 2 cores of a small machine, and
    query-embedding + vector search went from p95 26 ms to 119 ms (benchmarks/retrieval_latency.py).
    """
    threadpool_limits(limits=1, user_api="blas")
