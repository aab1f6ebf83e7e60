"""A deterministic, model-free embedder for tests and large benchmarks, never for production.

Each analyzed term (guichet.lexical.analyze) is hashed to a coordinate and a sign (the "hashing
trick"), so texts sharing stemmed words get close vectors and a test can reason about similarity
without loading a model.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

from guichet.lexical import analyze
from guichet.ports.records import Vector


class HashingEmbedder:
    def __init__(self, dimension: int = 64) -> None:
        self._dimension = dimension

    @property
    def name(self) -> str:
        return f"hashing-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> Vector:
        return self._embed(text)

    def _embed(self, text: str) -> Vector:
        vector = [0.0] * self._dimension
        for term in analyze(text):
            # blake2b rather than hash(): str hashes are salted per process (PYTHONHASHSEED).
            digest = int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "big")
            vector[digest % self._dimension] += 1.0 if (digest >> 32) & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0:
            # An empty text still gets a unit vector, so cosine stays defined everywhere.
            vector[0], norm = 1.0, 1.0
        return [x / norm for x in vector]
