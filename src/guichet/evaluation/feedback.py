"""`guichet eval --from-feedback`: advisors' thumbs-down turned into cases to review.

Each answer with at least one "down" feedback becomes one case: its question, audience and situation,
expected_sources prefilled with the fiches the answer cited (a reviewer fixes them: the answer was
judged wrong), the reasons and comments gathered under "feedback", and "review": "à vérifier" until a
person has checked it. Feedback on an answer whose record is gone is counted, not exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from guichet.answer.store import AnswerRepository
from guichet.ports.store import ObjectStore

REVIEW_MARK = "à vérifier"
FEEDBACK_PREFIX = "feedback/"


@dataclass
class FeedbackExport:
    cases: list[dict[str, Any]] = field(default_factory=list)
    orphans: int = 0  # thumbs-down whose answer record is missing

    def jsonl(self) -> str:
        return "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in self.cases)


def _downs(store: ObjectStore) -> Iterator[dict[str, Any]]:
    for item in store.list(FEEDBACK_PREFIX):
        try:
            raw = json.loads(store.get(item.key))
        except ValueError:
            continue
        if isinstance(raw, dict) and raw.get("rating") == "down":
            yield raw


def export_feedback(store: ObjectStore) -> FeedbackExport:
    """store: the answers' object store (records under answers/, feedback under feedback/)."""
    answers = AnswerRepository(store)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for feedback in sorted(_downs(store), key=lambda f: float(f.get("created_at") or 0)):
        grouped.setdefault(str(feedback.get("answer_id", "")), []).append(feedback)
    export = FeedbackExport()
    for answer_id, items in grouped.items():
        record = answers.get(answer_id)
        if record is None:
            export.orphans += len(items)
            continue
        case: dict[str, Any] = {"question": record.question, "audience": record.audience}
        if record.situation:
            case["situation"] = record.situation
        case["expected_sources"] = list(dict.fromkeys(s.id for s in record.sources))
        case["review"] = REVIEW_MARK
        case["feedback"] = {
            "answer_id": answer_id,
            "reasons": list(dict.fromkeys(r for f in items for r in f.get("reasons") or [])),
            "comments": [str(f["comment"]) for f in items if f.get("comment")],
            "mode": record.mode,
            "answer": record.answer,
        }
        export.cases.append(case)
    return export
