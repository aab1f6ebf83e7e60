"""The analytics consumer: events from the analytics queue into the analytics store.

Run by every answer worker (and `guichet serve`) beside the answer consumers; events flow one way, from
the answer worker and the feedback route through the queue to the store, which no one else writes but
`guichet stats rebuild`. A store outage raises: the broker requeues the event with backoff.
"""

from __future__ import annotations

import logging

from guichet import metrics
from guichet.pilotage.events import parse_event
from guichet.pilotage.store import AnalyticsStore
from guichet.ports.broker import Reject
from guichet.ports.records import Envelope

log = logging.getLogger(__name__)


class AnalyticsHandler:
    def __init__(self, store: AnalyticsStore) -> None:
        self._store = store

    def __call__(self, envelope: Envelope) -> None:
        try:
            event = parse_event(envelope.body)
        except (ValueError, KeyError, TypeError) as exc:
            metrics.ANALYTICS_EVENTS.labels(kind="unknown", outcome="rejected").inc()
            raise Reject(f"événement d'analyse illisible : {exc}") from exc
        new = self._store.record([event])  # AnalyticsError propagates: requeued
        metrics.ANALYTICS_EVENTS.labels(kind=event.kind, outcome="stored" if new else "duplicate").inc()
