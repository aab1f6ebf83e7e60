"""The index worker's handler: one MinIO bucket notification in, the index brought up to date.

Permanent failures (a malformed event, an unsupported or unparsable document, an unsafe key, a
document over the size limit) raise Reject: the broker dead-letters them with the reason and the
worker carries on. Anything else (store or index unreachable) propagates: the message is requeued.
"""

from __future__ import annotations

import logging
import time
from typing import NoReturn

from guichet import metrics
from guichet.corpus.errors import DocumentError, IgnoredDocument
from guichet.corpus.loader import SUPPORTED_SUFFIXES
from guichet.indexing.indexer import ConcurrentUpdate, Indexer, IndexResult
from guichet.indexing.notifications import MalformedEvent, ObjectEvent, parse_bucket_notification
from guichet.ports.broker import Reject
from guichet.ports.records import Envelope
from guichet.ports.store import InvalidKey, ObjectNotFound, ObjectStore, check_key

log = logging.getLogger(__name__)

# Writers of one key racing each other is rare; three tries, then the broker's backoff takes over.
CONCURRENT_ATTEMPTS = 3


def is_supported(key: str) -> bool:
    return key.lower().endswith(SUPPORTED_SUFFIXES)


class IndexEventHandler:
    def __init__(self, store: ObjectStore, indexer: Indexer, *, max_document_bytes: int) -> None:
        self._store = store
        self._indexer = indexer
        self._max_bytes = max_document_bytes

    def __call__(self, envelope: Envelope) -> None:
        try:
            events = parse_bucket_notification(envelope.body)
        except MalformedEvent as exc:
            metrics.INDEX_EVENTS.labels(outcome="rejected").inc()
            raise Reject(f"notification illisible : {exc}") from exc
        for event in events:
            result = self.apply(event)
            if result is not None:
                log.info("%s %s: %s", event.event_name, event.key, result.outcome)
                metrics.INDEX_EVENTS.labels(outcome=result.outcome).inc()
                metrics.observe_index_lag(event.event_time, time.time())

    def apply(self, event: ObjectEvent) -> IndexResult | None:
        if event.action == "other":
            return None
        try:
            check_key(event.key)
            if event.action == "removed":
                return self._remove(event)
            return self._index_created(event)
        except InvalidKey as exc:  # from check_key or from a store with stricter keys (a folder's)
            metrics.INDEX_EVENTS.labels(outcome="rejected").inc()
            raise Reject(f"clé refusée : {exc}") from exc

    def _remove(self, event: ObjectEvent) -> IndexResult:
        if self._store.head(event.key) is not None:
            # Written again since this removal (or only an old version was removed): keep what is indexed.
            return IndexResult(event.key, "stale")
        return self._indexer.remove_object(event.key, sequencer=event.sequencer)

    def _index_created(self, event: ObjectEvent) -> IndexResult | None:
        if not is_supported(event.key):
            self._reject(f"format non pris en charge : {event.key}")
        if self._indexer.is_stale(event.key, event.sequencer):
            return IndexResult(event.key, "stale")
        current = self._indexer.skip_if_current(event.key, etag=event.etag, sequencer=event.sequencer)
        if current is not None:
            return current
        if event.size > self._max_bytes:
            self._reject(
                f"{event.key} : document trop volumineux ({event.size} octets, limite {self._max_bytes})"
            )
        for _ in range(CONCURRENT_ATTEMPTS - 1):
            try:
                return self._index_stored(event)
            except ConcurrentUpdate:
                log.info("%s changed while indexing it: starting over from the store", event.key)
        return self._index_stored(event)  # a ConcurrentUpdate now requeues the event (with backoff)

    def _index_stored(self, event: ObjectEvent) -> IndexResult:
        """Index what the store holds now (the truth), labelled with the store's own etag."""
        stored = self._store.head(event.key)
        try:
            data = self._store.get(event.key)
        except ObjectNotFound:
            stored = None
        if stored is None:
            # Removed since the event was sent: the removal event will follow (or already came).
            log.info("object %s is gone, nothing to index", event.key)
            return IndexResult(event.key, "absent")
        if len(data) > self._max_bytes:
            self._reject(
                f"{event.key} : document trop volumineux ({len(data)} octets, limite {self._max_bytes})"
            )
        try:
            return self._indexer.index_object(event.key, data, etag=stored.etag, sequencer=event.sequencer)
        except IgnoredDocument as exc:
            log.info("%s ignored: %s", event.key, exc)
            return IndexResult(event.key, "ignored")
        except DocumentError as exc:
            self._reject(f"{event.key} : {exc}")

    @staticmethod
    def _reject(reason: str) -> NoReturn:
        metrics.INDEX_EVENTS.labels(outcome="rejected").inc()
        raise Reject(reason)
