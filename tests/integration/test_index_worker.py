"""The index worker on the production parts: real RabbitMQ, an S3 endpoint (moto server), MinIO events.

MinIO itself cannot run here, so the test plays its part: after each write to the bucket it publishes
the bucket notification MinIO would send (same JSON shape) on the index queue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from guichet.indexing.handler import IndexEventHandler
from guichet.indexing.indexer import Indexer
from guichet.indexing.notifications import build_bucket_notification
from guichet.ports.broker import REASON_HEADER, dead_letter_queue
from guichet.ports.brokers.rabbitmq import RabbitMQBroker
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.records import SearchFilters
from guichet.ports.stores.s3 import S3ObjectStore
from guichet.process.consumers import consume_in_thread
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.testing.helpers import wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.s3]

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "guichet" / "samples" / "fiches"


@dataclass
class Pipeline:
    broker: RabbitMQBroker
    store: S3ObjectStore
    index: EmbeddedIndex
    queue: str
    bucket: str
    sequence: Callable[[], str]

    def upload(self, key: str, data: bytes) -> None:
        stored = self.store.put(key, data)
        body = build_bucket_notification(
            "s3:ObjectCreated:Put",
            self.bucket,
            key,
            size=stored.size,
            etag=stored.etag,
            sequencer=self.sequence(),
        )
        self.broker.publish(self.queue, body)

    def remove(self, key: str) -> None:
        self.store.delete(key)
        body = build_bucket_notification(
            "s3:ObjectRemoved:Delete", self.bucket, key, sequencer=self.sequence()
        )
        self.broker.publish(self.queue, body)

    def doc_ids(self, query: str) -> set[str]:
        vector = HashingEmbedder().embed_query(query)
        return {h.chunk.doc_key for h in self.index.search(query, vector, k=20, filters=SearchFilters())}


@pytest.fixture
def pipeline(
    amqp_url: str, moto_s3: str, unique_name: Callable[[str], str], tmp_path: Path
) -> Iterator[Pipeline]:
    queue, bucket = unique_name("index"), unique_name("docs")
    broker = RabbitMQBroker(amqp_url, max_deliveries=3)
    broker.declare(queue)
    store = S3ObjectStore(bucket, endpoint_url=moto_s3, create_bucket=True)
    embedder = HashingEmbedder()
    index = EmbeddedIndex(tmp_path / "index", dimension=embedder.dimension)
    handler = IndexEventHandler(store, Indexer(index, embedder), max_document_bytes=200_000)
    stop = threading.Event()
    worker = consume_in_thread(broker, queue, handler, stop)
    counter = iter(range(1, 10_000))
    yield Pipeline(
        broker, store, index, queue, bucket, lambda: f"{1_700_000_000_000_000_000 + next(counter):016X}"
    )
    stop.set()
    worker.join(timeout=10)
    assert not worker.alive and worker.error is None, "the worker did not stop cleanly"
    broker.close()
    index.close()


def sample(name: str) -> bytes:
    return next(SAMPLES.glob(name)).read_bytes()


def test_upload_overwrite_delete(pipeline: Pipeline) -> None:
    fiche = sorted(SAMPLES.glob("*.xml"))[0]
    key = f"fiches/{fiche.name.replace('.xml', '')} copie.xml"  # a space: MinIO encodes it as "+"
    pipeline.upload(key, fiche.read_bytes())
    wait_for(lambda: (s := pipeline.index.document_state(key)) is not None and not s.deleted)
    first = pipeline.index.document_state(key)
    assert first is not None and first.chunk_count > 0

    replacement = b"Nouvelle version : la demande de logement social se fait en ligne."
    pipeline.upload(key.replace(".xml", ".txt"), replacement)
    pipeline.upload(key, sorted(SAMPLES.glob("*.xml"))[1].read_bytes())
    wait_for(
        lambda: (s := pipeline.index.document_state(key)) is not None and s.content_hash != first.content_hash
    )
    wait_for(lambda: key.replace(".xml", ".txt") in pipeline.doc_ids("logement social en ligne"))
    second = pipeline.index.document_state(key)
    assert second is not None and second.doc_id != first.doc_id
    chunks_of_key = {
        h.chunk.doc_id
        for h in pipeline.index.search(
            "la le de", HashingEmbedder().embed_query("demande"), k=500, mode="vector"
        )
        if h.chunk.doc_key == key
    }
    assert chunks_of_key == {second.doc_id}, "chunks of the overwritten version are still indexed"

    pipeline.remove(key)
    wait_for(lambda: (s := pipeline.index.document_state(key)) is not None and s.deleted)
    assert key not in pipeline.doc_ids("demande")


def test_poisoned_document_is_dead_lettered_and_worker_keeps_running(pipeline: Pipeline) -> None:
    pipeline.upload("cassé.xml", "<Publication><dc:title>pas fermé".encode())
    pipeline.upload("virus.exe", b"MZ\x90\x00")
    dead = dead_letter_queue(pipeline.queue)
    wait_for(lambda: pipeline.broker.depth(dead) >= 2)
    reasons = []
    while (envelope := pipeline.broker.get(dead)) is not None:
        reasons.append(envelope.headers.get(REASON_HEADER, ""))
    assert sorted(reasons) == [
        "cassé.xml : XML invalide : unbound prefix: line 1, column 13",
        "format non pris en charge : virus.exe",
    ], reasons

    fiche = sorted(SAMPLES.glob("*.xml"))[2]
    pipeline.upload("après.xml", fiche.read_bytes())
    wait_for(lambda: pipeline.index.document_state("après.xml") is not None)


def test_malformed_notification_is_dead_lettered(pipeline: Pipeline) -> None:
    pipeline.broker.publish(pipeline.queue, b'{"not": "a bucket notification"}')
    wait_for(lambda: pipeline.broker.depth(dead_letter_queue(pipeline.queue)) >= 1)
    envelope = pipeline.broker.get(dead_letter_queue(pipeline.queue))
    assert envelope is not None and "notification" in envelope.headers.get(REASON_HEADER, "")


def test_stale_and_tag_events_do_not_reindex(pipeline: Pipeline) -> None:
    fiches = sorted(SAMPLES.glob("*.xml"))
    key = "ordre.xml"
    pipeline.upload(key, fiches[0].read_bytes())
    wait_for(lambda: pipeline.index.document_state(key) is not None)
    state = pipeline.index.document_state(key)
    assert state is not None

    changed = pipeline.store.put(key, fiches[1].read_bytes())  # new content, but only a tagging event
    tagging = build_bucket_notification(
        "s3:ObjectCreated:PutTagging", pipeline.bucket, key, etag=changed.etag, sequencer=pipeline.sequence()
    )
    pipeline.broker.publish(pipeline.queue, tagging)
    older = f"{int(state.sequencer, 16) - 5:016X}"
    removal = build_bucket_notification("s3:ObjectRemoved:Delete", pipeline.bucket, key, sequencer=older)
    pipeline.broker.publish(pipeline.queue, removal)  # stale: the object is still there, and it is older

    marker = "marqueur.txt"
    pipeline.upload(marker, b"fin de la file")
    wait_for(lambda: pipeline.index.document_state(marker) is not None)
    after = pipeline.index.document_state(key)
    assert after is not None and not after.deleted
    assert after.content_hash == state.content_hash and after.sequencer == state.sequencer
