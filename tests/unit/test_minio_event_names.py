"""MinIO's real event names through the index worker's path (embedded broker → IndexEventHandler): a
forced delete of every version unindexes the document; an upper-case suffix is indexed (issue 14,
defect 8). The notifications are built as MinIO shapes them (indexing/notifications.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from guichet.indexing.handler import IndexEventHandler
from guichet.indexing.indexer import Indexer
from guichet.indexing.notifications import build_bucket_notification
from guichet.ports.broker import dead_letter_queue
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.stores.local import LocalObjectStore
from guichet.testing.fake_embedder import HashingEmbedder

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "guichet" / "samples" / "fiches"
QUEUE = "guichet.index"


class Worker:
    def __init__(self, root: Path) -> None:
        self.store = LocalObjectStore(root / "store")
        embedder = HashingEmbedder()
        self.index = EmbeddedIndex(root / "index", dimension=embedder.dimension)
        self.broker = MemoryBroker(root / "queues", retry_backoff=0.01)
        self.broker.declare(QUEUE)
        self.handler = IndexEventHandler(self.store, Indexer(self.index, embedder), max_document_bytes=10**6)
        self.sequencer = 0

    def announce(self, name: str, key: str) -> None:
        """What MinIO publishes on the index queue after this operation, then the worker's turn."""
        self.sequencer += 1
        head = self.store.head(key)
        body = build_bucket_notification(
            name, "guichet", key, size=head.size if head else 0,
            etag=head.etag if head and "Created" in name else "", sequencer=f"{self.sequencer:016X}",
        )  # fmt: skip
        self.broker.publish(QUEUE, body)
        stop = threading.Event()
        thread = threading.Thread(
            target=self.broker.consume, args=(QUEUE, self.handler), kwargs={"stop": stop}
        )
        thread.start()
        try:
            self.broker.join(QUEUE)
        finally:
            stop.set()
            thread.join()
        assert self.broker.depth(dead_letter_queue(QUEUE)) == 0

    def close(self) -> None:
        self.broker.close()
        self.index.close()


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    worker = Worker(tmp_path)
    yield worker
    worker.close()


def test_a_forced_delete_of_every_version_unindexes_the_document(worker: Worker) -> None:
    key = "fiches/F1.xml"
    worker.store.put(key, sorted(SAMPLES.glob("*.xml"))[0].read_bytes())
    worker.announce("s3:ObjectCreated:Put", key)
    assert worker.index.chunk_count() > 0
    worker.store.delete(key)
    worker.announce("s3:ObjectRemoved:DeleteAllVersions", key)
    state = worker.index.document_state(key)
    assert state is not None and state.deleted
    assert worker.index.chunk_count() == 0, "a force-deleted document stays citable"


def test_an_upper_case_suffix_is_indexed(worker: Worker) -> None:
    key = "partenaires/Guide.MD"
    worker.store.put(key, b"# Guide du partenaire\n\nLes horaires d'ouverture de la permanence.\n")
    worker.announce("s3:ObjectCreated:Put", key)
    state = worker.index.document_state(key)
    assert state is not None and not state.deleted
    assert worker.index.chunk_count() > 0
