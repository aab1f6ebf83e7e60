"""Retrieval: a question in, the best passages out (hybrid by default)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from guichet import metrics
from guichet.ports.embedder import Embedder
from guichet.ports.index import VectorIndex
from guichet.ports.records import SearchFilters, SearchHit, SearchMode


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
    def __init__(self, index: VectorIndex, embedder: Embedder) -> None:
        self._index = index
        self._embedder = embedder

    @property
    def embedder_name(self) -> str:
        return self._embedder.name

    def search(
        self, query: str, *, audience: str | None = None, k: int = 5, mode: SearchMode = "hybrid"
    ) -> list[SearchHit]:
        started = time.perf_counter()
        vector = [] if mode == "lexical" else self._embedder.embed_query(query)
        hits = self._index.search(query, vector, k=k, filters=SearchFilters(audience=audience), mode=mode)
        metrics.SEARCH_SECONDS.labels(mode=mode).observe(time.perf_counter() - started)
        return hits

    def passages(
        self, query: str, *, audience: str | None = None, k: int = 5, mode: SearchMode = "hybrid"
    ) -> list[Passage]:
        return [Passage.from_hit(h) for h in self.search(query, audience=audience, k=k, mode=mode)]
