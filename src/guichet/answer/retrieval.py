"""Retrieval: a question in, the best passages out (hybrid by default), reranked when a reranker is set.

The reranker (ports/reranker.py) reorders the index's first `rerank_depth` passages; deeper ones keep
the index's order after them. A reranker that fails costs the question its reranking, not its answer:
the index's order is kept, the failure logged and counted.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from guichet import metrics
from guichet.ports.embedder import Embedder
from guichet.ports.index import VectorIndex
from guichet.ports.records import SearchFilters, SearchHit, SearchMode
from guichet.ports.reranker import Reranker, RerankerError

log = logging.getLogger(__name__)

# How many of the index's passages the reranker reorders: the pipeline reads 12, the evaluation 50.
RERANK_DEPTH = 40


@dataclass(frozen=True)
class Passage:
    """A search hit as users see it (SPEC.md: guichet search --json)."""

    id: str
    title: str
    url: str
    branch: str
    section: str
    score: float
    text: str
    key: str

    @classmethod
    def from_hit(cls, hit: SearchHit) -> Passage:
        c = hit.chunk
        return cls(c.doc_id, c.title, c.url, c.branch, c.section, round(hit.score, 6), c.text, c.doc_key)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "branch": self.branch,
            "section": self.section,
            "score": self.score,
            "text": self.text,
            "key": self.key,
        }


class Retriever:
    def __init__(
        self,
        index: VectorIndex,
        embedder: Embedder,
        reranker: Reranker | None = None,
        *,
        rerank_depth: int = RERANK_DEPTH,
    ) -> None:
        self._index = index
        self._embedder = embedder
        self._reranker = reranker
        self._rerank_depth = rerank_depth

    @property
    def embedder_name(self) -> str:
        return self._embedder.name

    def search(
        self, query: str, *, audience: str | None = None, k: int = 5, mode: SearchMode = "hybrid"
    ) -> list[SearchHit]:
        started = time.perf_counter()
        vector = [] if mode == "lexical" else self._embedder.embed_query(query)
        depth = max(k, self._rerank_depth) if self._reranker is not None else k
        hits = self._index.search(query, vector, k=depth, filters=SearchFilters(audience=audience), mode=mode)
        hits = self._rerank(query, hits)[:k]
        metrics.SEARCH_SECONDS.labels(mode=mode).observe(time.perf_counter() - started)
        return hits

    def _rerank(self, query: str, hits: list[SearchHit]) -> list[SearchHit]:
        if self._reranker is None or not hits:
            return hits
        head, tail = hits[: self._rerank_depth], hits[self._rerank_depth :]
        try:
            return [*self._reranker.rerank(query, head), *tail]
        except RerankerError as exc:
            log.warning("rerank impossible, ordre de l'index conservé : %s", exc)
            metrics.RERANK_FAILURES.inc()
            return hits

    def passages(
        self, query: str, *, audience: str | None = None, k: int = 5, mode: SearchMode = "hybrid"
    ) -> list[Passage]:
        return [Passage.from_hit(h) for h in self.search(query, audience=audience, k=k, mode=mode)]
