"""Repair drift between the object store (the truth) and the index (events can be lost)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from guichet.corpus.errors import DocumentError, IgnoredDocument
from guichet.indexing.handler import is_supported
from guichet.indexing.indexer import ConcurrentUpdate, Indexer
from guichet.ports.index import VectorIndex
from guichet.ports.store import ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    checked: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"checked": self.checked, "outcomes": dict(self.outcomes), "errors": self.errors}


def reconcile(
    store: ObjectStore, index: VectorIndex, indexer: Indexer, *, max_document_bytes: int
) -> ReconcileReport:
    report = ReconcileReport()
    indexed = {s.key: s for s in index.documents() if not s.deleted}
    stored: set[str] = set()
    for obj in store.list():
        if not is_supported(obj.key):
            continue
        stored.add(obj.key)
        report.checked += 1
        state = indexed.get(obj.key)
        if state is not None and state.etag == obj.etag and state.embedder == indexer.embedder_id:
            report.outcomes["in_sync"] += 1
            continue
        if obj.size > max_document_bytes:  # never download it: the worker refuses it too
            report.outcomes["rejected"] += 1
            report.errors[obj.key] = (
                f"document trop volumineux ({obj.size} octets, limite {max_document_bytes})"
            )
            continue
        _reindex(store, indexer, obj.key, obj.etag, report)
    for key in indexed.keys() - stored:
        if store.head(key) is not None:  # stored since the listing (an ingest running beside us)
            report.outcomes["in_sync"] += 1
            continue
        report.outcomes[indexer.remove_object(key).outcome] += 1
    return report


def _reindex(store: ObjectStore, indexer: Indexer, key: str, etag: str, report: ReconcileReport) -> None:
    try:
        result = indexer.index_object(key, store.get(key), etag=etag)
    except ObjectNotFound:
        report.outcomes["absent"] += 1
    except IgnoredDocument:
        report.outcomes["ignored"] += 1
    except ConcurrentUpdate:
        report.outcomes["changed_meanwhile"] += 1  # another writer got there: the next run checks it
    except DocumentError as exc:
        report.outcomes["rejected"] += 1
        report.errors[key] = str(exc)
    else:
        report.outcomes[result.outcome] += 1
