"""The theme of an answer: the service-public theme (dc:subject) of its top source, read from the index.

The index keeps each document's metadata (subject included) beside its chunks; one map fiche id → theme
is built from it per process and read again when an unknown fiche shows up (a document indexed since),
at most once a minute so that partner documents, which have no theme, cost nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from guichet.answer.record import AnswerRecord
from guichet.ports.index import VectorIndex

log = logging.getLogger(__name__)

RELOAD_AFTER_S = 60.0
MAX_THEME_CHARS = 120


class ThemeLookup:
    def __init__(self, index: VectorIndex, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._index = index
        self._clock = clock
        self._themes: dict[str, str] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def of_record(self, record: AnswerRecord) -> str:
        return self.of_document(record.sources[0].id) if record.sources else ""

    def of_document(self, doc_id: str) -> str:
        with self._lock:
            if doc_id not in self._themes and self._may_reload():
                self._reload()
            return self._themes.get(doc_id, "")

    def _may_reload(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at >= RELOAD_AFTER_S

    def _reload(self) -> None:
        self._loaded_at = self._clock()
        themes: dict[str, str] = {}
        try:
            for state in self._index.documents():
                theme = _subject(state.metadata_json)
                if theme:
                    themes[state.doc_id] = theme
        except Exception:  # the theme is a nicety: an index hiccup must not fail an answer or a rating
            log.warning("themes: index unreadable, answers keep the themes known so far", exc_info=True)
            return
        self._themes = themes


def _subject(metadata_json: str) -> str:
    try:
        raw = json.loads(metadata_json or "{}")
    except ValueError:
        return ""
    subject = raw.get("subject") if isinstance(raw, dict) else None
    return subject.strip()[:MAX_THEME_CHARS] if isinstance(subject, str) else ""
