"""`guichet stats rebuild`: the analytics store filled again from the answer store (records, feedback).

For a store created after answers were already given, or events lost while the broker was down. Event
ids are the answers' and the feedback's own: what the store already holds is skipped, so a rebuild can
run while the consumers run. A rating whose answer record was purged still counts, placed by the site,
date and theme kept in the feedback.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from typing import TypeVar

from guichet.answer.record import AnswerRecord
from guichet.answer.store import Feedback
from guichet.pilotage.events import Event, answer_event, rating_event
from guichet.pilotage.store import AnalyticsStore
from guichet.pilotage.themes import ThemeLookup
from guichet.ports.store import ObjectNotFound, ObjectStore

BATCH = 500
T = TypeVar("T")


@dataclass
class RebuildReport:
    answers: int = 0
    ratings: int = 0
    new: int = 0
    unreadable: int = 0

    def summary(self) -> str:
        return (
            f"{self.answers} réponse(s) et {self.ratings} avis lus, {self.new} nouveau(x) dans le magasin "
            f"d'analyse, {self.unreadable} illisible(s)"
        )


class _Batches:
    def __init__(self, analytics: AnalyticsStore, report: RebuildReport) -> None:
        self._analytics, self._report = analytics, report
        self._events: list[Event] = []

    def add(self, event: Event) -> None:
        self._events.append(event)
        if len(self._events) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self._events:
            self._report.new += self._analytics.record(self._events)
            self._events = []


def rebuild(store: ObjectStore, analytics: AnalyticsStore, themes: ThemeLookup) -> RebuildReport:
    report = RebuildReport()
    batches = _Batches(analytics, report)
    records: dict[str, AnswerRecord] = {}
    for record in _read(store, "answers/", AnswerRecord.from_json, report):
        if record.final:
            records[record.id] = record
            batches.add(answer_event(record, themes.of_record(record)))
            report.answers += 1
    for feedback in _read(store, "feedback/", _feedback, report):
        batches.add(rating_event(_placed(feedback, records.get(feedback.answer_id), themes)))
        report.ratings += 1
    batches.flush()
    return report


def _read(store: ObjectStore, prefix: str, parse: Callable[[bytes], T], report: RebuildReport) -> Iterator[T]:
    for obj in store.list(prefix):
        try:
            yield parse(store.get(obj.key))
        except ObjectNotFound:
            continue  # purged meanwhile
        except (ValueError, KeyError, TypeError):
            report.unreadable += 1


def _feedback(body: bytes) -> Feedback:
    raw = json.loads(body)
    known = {f.name for f in fields(Feedback)}
    values = {k: v for k, v in raw.items() if k in known}
    values["reasons"] = tuple(values.get("reasons", ()))
    return Feedback(**values)


def _placed(feedback: Feedback, record: AnswerRecord | None, themes: ThemeLookup) -> Feedback:
    """Feedback written before pilotage lacks the answer's site, date and theme: the record gives them."""
    if record is None:
        return feedback
    return replace(
        feedback,
        site=record.site or feedback.site,
        answer_created_at=record.created_at,
        theme=feedback.theme or themes.of_record(record),
    )
