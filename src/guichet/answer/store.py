"""Where answer records and advisors' feedback are durably kept: an object store of their own.

Answers live in their own bucket (or folder): the documents' bucket notifies the index worker of every
write, and answers must never reach the index.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, dataclass, replace

from guichet.answer.record import AnswerRecord
from guichet.ports.store import ObjectNotFound, ObjectStore

ANSWER_ID = re.compile(r"^[0-9a-f]{32}$")


def valid_answer_id(answer_id: str) -> bool:
    return bool(ANSWER_ID.match(answer_id))


@dataclass(frozen=True)
class Feedback:
    answer_id: str
    rating: str  # "up" | "down"
    reasons: tuple[str, ...] = ()
    comment: str = ""
    id: str = ""
    created_at: float = 0.0
    # Pilotage (a rating kept a year outlives its answer record, kept 30 days): the rating site's id,
    # and the answer's creation time and theme, so that `guichet stats rebuild` can still place it.
    site: str = ""
    answer_created_at: float = 0.0
    theme: str = ""


class AnswerRepository:
    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    @property
    def store(self) -> ObjectStore:
        """The answer store itself: API keys (api_keys.py) and the retention purge (retention.py) use it."""
        return self._store

    def put(self, record: AnswerRecord) -> None:
        self._store.put(f"answers/{record.id}.json", record.to_json(), "application/json")

    def get(self, answer_id: str) -> AnswerRecord | None:
        if not valid_answer_id(answer_id):
            return None
        try:
            return AnswerRecord.from_json(self._store.get(f"answers/{answer_id}.json"))
        except ObjectNotFound:
            return None

    def add_feedback(self, feedback: Feedback) -> Feedback:
        stored = replace(feedback, id=uuid.uuid4().hex, created_at=time.time())
        body = json.dumps(asdict(stored), ensure_ascii=False).encode("utf-8")
        self._store.put(f"feedback/{stored.answer_id}/{stored.id}.json", body, "application/json")
        return stored

    def ping(self) -> bool:
        return self._store.ping()
