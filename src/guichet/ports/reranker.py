"""Reranker port: the index's best passages for a question, put in a better order.

Implementations: rerankers/features.py (the embedded default: no model, the question's terms in each
fiche's title and in its other retrieved passages, over the fused order), rerankers/http.py (a rerank
endpoint: Hugging Face TEI `POST /rerank`, Albert API `POST /v1/rerank`).

Semantics every implementation honours (tests/contracts/test_reranker_contract.py):
- rerank(query, hits) returns the same hits (each exactly once, nothing added), best first;
- each returned hit keeps its chunk, ranks and cosine (SearchHit.lexical_rank, vector_rank,
  vector_score: the coverage decision reads them); its score is the reranker's, non-increasing;
- no hits in, no hits out (and no call to a remote service);
- a reranker that cannot answer raises RerankerError (French message): the Retriever then keeps the
  index's own order rather than failing the question.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from guichet.ports.records import SearchHit


class RerankerError(Exception):
    pass


class Reranker(Protocol):
    @property
    def name(self) -> str: ...

    def rerank(self, query: str, hits: Sequence[SearchHit]) -> list[SearchHit]: ...

    def close(self) -> None: ...
