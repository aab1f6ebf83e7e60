"""Analytics events: what the pilotage store learns of each final answer and each rating.

Small frozen JSON records with an id and a timestamp, and nothing personal: no question, situation,
comment nor key; a site id, never an advisor. Reasons are mapped to the page's closed set (anything typed
by hand becomes "autre"), so free text never leaves the answer store. The answer event's id is the
answer's id, the rating event's id the feedback's: a redelivered event is recognised by it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

from guichet.answer.record import AnswerRecord
from guichet.answer.store import Feedback
from guichet.metrics import reason_label

Kind = Literal["answer", "rating"]


@dataclass(frozen=True)
class AnswerEvent:
    id: str
    at: float  # when the question was asked: the month it counts in
    site: str
    audience: str
    theme: str  # of the top source ("" when none, or not a service-public fiche)
    status: str  # done | failed
    mode: str  # generated | extractive | "" (failed)
    covered: bool | None  # None: the record predates `covered`
    first_token_s: float
    total_s: float
    kind: Kind = "answer"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class RatingEvent:
    id: str
    at: float  # when the rating was given
    answer_id: str
    answer_at: float  # when the rated answer was asked: the month the rating counts in
    site: str
    theme: str
    rating: str  # up | down
    reasons: tuple[str, ...] = ()
    kind: Kind = "rating"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode("utf-8")


Event = AnswerEvent | RatingEvent


def answer_event(record: AnswerRecord, theme: str) -> AnswerEvent:
    covered = getattr(record, "covered", None)  # added by another change; older records lack it
    return AnswerEvent(
        id=record.id,
        at=record.created_at,
        site=record.site,
        audience=record.audience,
        theme=theme,
        status=record.status,
        mode=record.mode or "",
        covered=covered if isinstance(covered, bool) else None,
        first_token_s=record.timings.first_token_s,
        total_s=record.timings.total_s,
    )


def rating_event(feedback: Feedback) -> RatingEvent:
    reasons = tuple(dict.fromkeys(reason_label(r) for r in feedback.reasons))
    return RatingEvent(
        id=feedback.id,
        at=feedback.created_at,
        answer_id=feedback.answer_id,
        answer_at=feedback.answer_created_at or feedback.created_at,
        site=feedback.site,
        theme=feedback.theme,
        rating=feedback.rating,
        reasons=reasons,
    )


def parse_event(body: bytes) -> Event:
    """Raises ValueError (or KeyError/TypeError) on a body that is not an analytics event."""
    raw: Any = json.loads(body)
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    if raw.get("kind") == "answer":
        covered = raw.get("covered")
        return AnswerEvent(
            id=_id(raw["id"]), at=float(raw["at"]), site=str(raw.get("site", "")),
            audience=str(raw.get("audience", "")), theme=str(raw.get("theme", "")),
            status=str(raw["status"]), mode=str(raw.get("mode", "")),
            covered=covered if isinstance(covered, bool) else None,
            first_token_s=float(raw.get("first_token_s", 0.0)), total_s=float(raw.get("total_s", 0.0)),
        )  # fmt: skip
    if raw.get("kind") == "rating":
        rating = str(raw["rating"])
        if rating not in ("up", "down"):
            raise ValueError(f"unknown rating {rating[:10]!r}")
        return RatingEvent(
            id=_id(raw["id"]), at=float(raw["at"]), answer_id=_id(raw["answer_id"]),
            answer_at=float(raw.get("answer_at") or raw["at"]), site=str(raw.get("site", "")),
            theme=str(raw.get("theme", "")), rating=rating,
            reasons=tuple(reason_label(str(r)) for r in raw.get("reasons", [])),
        )  # fmt: skip
    raise ValueError("unknown event kind")


def _id(value: object) -> str:
    text = str(value)
    if not text or len(text) > 64:
        raise ValueError("bad event id")
    return text
