"""An on-disk cache of embeddings keyed by model and text, for evaluation runs.

Embedding is the slow part of an evaluation on 2 cores (about 6 passages/s with the bundled model):
the gate rebuilds its index in a fresh folder each run, and a fiche changes rarely, so vectors are
kept in one SQLite file per user (~/.cache/guichet/embeddings.sqlite3) keyed by
sha256(model name, passage|query, text). A different model or text is a different key: a stale vector
can never be served. The product's own indexes do not use it (they reuse vectors per document already).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import platformdirs

from guichet.ports.embedder import Embedder
from guichet.ports.records import Vector


def default_cache_path() -> Path:
    return Path(platformdirs.user_cache_dir("guichet", appauthor=False)) / "embeddings.sqlite3"


class CachingEmbedder:
    """Wraps an embedder; same name and dimension, so indexes built through it are interchangeable."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self._inner = inner
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        keys = [self._key("passage", t) for t in texts]
        found = self._get(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            fresh = self._inner.embed_passages([texts[i] for i in missing])
            self._put([(keys[i], v) for i, v in zip(missing, fresh, strict=True)])
            found.update((keys[i], v) for i, v in zip(missing, fresh, strict=True))
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        return [found[key] for key in keys]

    def missing_passages(self, texts: Sequence[str]) -> list[str]:
        """The texts whose passage vector is not in the cache yet, in their order."""
        keys = [self._key("passage", t) for t in texts]
        found = self._known(keys)
        return [t for t, key in zip(texts, keys, strict=True) if key not in found]

    def embed_query(self, text: str) -> Vector:
        key = self._key("query", text)
        found = self._get([key])
        if key in found:
            self.hits += 1
            return found[key]
        self.misses += 1
        vector = self._inner.embed_query(text)
        self._put([(key, vector)])
        return vector

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _key(self, kind: str, text: str) -> str:
        return hashlib.sha256(f"{self._inner.name}\0{kind}\0{text}".encode()).hexdigest()

    def _get(self, keys: Sequence[str]) -> dict[str, Vector]:
        found: dict[str, Vector] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = list(keys[start : start + 500])
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part)
                for key, blob in rows:
                    found[str(key)] = np.frombuffer(blob, dtype=np.float32).tolist()
        return found

    def _known(self, keys: Sequence[str]) -> set[str]:
        known: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), 500):
                part = list(keys[start : start + 500])
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(f"SELECT key FROM vectors WHERE key IN ({marks})", part)
                known.update(str(key) for (key,) in rows)
        return known

    def _put(self, items: Sequence[tuple[str, Vector]]) -> None:
        rows = [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items]
        with self._lock, self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
