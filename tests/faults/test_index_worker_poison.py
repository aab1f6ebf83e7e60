"""`guichet worker index`, in its own process, fed what an object store can carry: malformed XML, a file
over the size limit, a zip bomb, a PDF deflate bomb, an XML entity bomb, a key escaping with "../" and a
notification that is not JSON. Each is dead-lettered with its reason; the worker lives on and indexes
the next good document. (tests/integration/test_index_worker.py covers some of these with the handler in
a thread; here it is the deployed process, its memory and its exit code.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from guichet.indexing.notifications import build_bucket_notification
from guichet.ports.broker import REASON_HEADER, dead_letter_queue
from guichet.ports.brokers.rabbitmq import RabbitMQBroker
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.stores.s3 import S3ObjectStore
from guichet.process.serve import sample_corpus_dir
from guichet.testing.helpers import wait_for
from tests.faults.ledger import IndexFaultRow, record_row
from tests.faults.poison import BILLION_LAUGHS, pdf_bomb, zip_bomb
from tests.faults.rabbitmq_node import PrivateRabbitMQ

pytestmark = [pytest.mark.faults, pytest.mark.s3]

MAX_DOCUMENT_BYTES = 1_000_000
MAX_DELIVERIES = 3
# key -> (bytes stored, or None for an event with no object behind it; what its reason must say)
POISON: dict[str, tuple[bytes | None, str]] = {
    "partenaires/cassé.xml": ("<Publication><dc:title>pas fermé".encode(), "XML invalide"),
    "partenaires/énorme.txt": (b"Texte. " * 200_000, "trop volumineux"),
    "partenaires/bombe.zip": (zip_bomb(100_000_000), "format non pris en charge"),
    "partenaires/bombe.pdf": (pdf_bomb(100_000_000), "PDF illisible"),
    "partenaires/rires.xml": (BILLION_LAUGHS, "XML refusé"),
    "partenaires/../../etc/passwd.xml": (None, "clé refusée"),
}
NOT_JSON = b'{"EventName": "s3:ObjectCreated:Put", "Records": [pas du json'


@dataclass
class IndexWorker:
    process: subprocess.Popen[bytes]
    broker: RabbitMQBroker
    store: S3ObjectStore
    queue: str
    index_path: Path
    sequence: Iterator[int]

    def notify(self, key: str, data: bytes | None, *, size: int | None = None) -> None:
        stored = self.store.put(key, data) if data is not None else None
        body = build_bucket_notification(
            "s3:ObjectCreated:Put",
            self.store.bucket,
            key,
            size=size if size is not None else (stored.size if stored else 10),
            etag=stored.etag if stored else "0",
            sequencer=f"{next(self.sequence):016X}",
        )
        self.broker.publish(self.queue, body)

    def dead_reasons(self) -> dict[str, str]:
        reasons = {}
        while (envelope := self.broker.get(dead_letter_queue(self.queue))) is not None:
            reasons[envelope.message_id] = envelope.headers.get(REASON_HEADER, "")
        return reasons


@pytest.fixture
def index_worker(
    private_rabbitmq: PrivateRabbitMQ, moto_s3: str, unique_name: Callable[[str], str], tmp_path: Path
) -> Iterator[IndexWorker]:
    queue = unique_name("index")
    store = S3ObjectStore(unique_name("docs"), endpoint_url=moto_s3, create_bucket=True)
    broker = RabbitMQBroker(private_rabbitmq.url, max_deliveries=MAX_DELIVERIES)
    broker.declare(queue)  # as the worker declares it: the same arguments
    env = {
        **os.environ,
        "GUICHET_DATA_DIR": str(tmp_path / "data"),
        "GUICHET_BROKER_URL": private_rabbitmq.url,
        "GUICHET_STORE_URL": f"s3://{store.bucket}",
        "GUICHET_S3_ENDPOINT": moto_s3,
        "GUICHET_INDEX_QUEUE": queue,
        "GUICHET_MAX_DOCUMENT_BYTES": str(MAX_DOCUMENT_BYTES),
        "GUICHET_MAX_DELIVERIES": str(MAX_DELIVERIES),
        "GUICHET_RETRY_BACKOFF": "0.05",
        "GUICHET_METRICS_PORT": "0",
    }
    log = (tmp_path / "index-worker.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "guichet", "worker", "index"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    worker = IndexWorker(process, broker, store, queue, tmp_path / "data" / "index", iter(range(1, 1000)))
    try:
        yield worker
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            process.kill()
            broker.close()


def test_poisoned_documents_and_events_are_dead_lettered_and_the_worker_lives_on(
    index_worker: IndexWorker,
) -> None:
    row = IndexFaultRow("worker d'indexation empoisonné (7 documents ou événements)")
    for key, (data, _) in POISON.items():
        index_worker.notify(key, data)
    index_worker.broker.publish(index_worker.queue, NOT_JSON, message_id="pas-du-json")
    row.events = len(POISON) + 1
    dead = dead_letter_queue(index_worker.queue)
    wait_for(lambda: index_worker.broker.depth(dead) >= row.events, timeout=120)
    reasons = list(index_worker.dead_reasons().values())
    row.dead_lettered, row.with_reason = len(reasons), sum(bool(r) for r in reasons)

    good = "service-public/F1341.xml"
    index_worker.notify(good, (sample_corpus_dir() / "F1341.xml").read_bytes())
    index = EmbeddedIndex(index_worker.index_path, dimension=384)
    try:
        wait_for(lambda: index.document_state(good) is not None, timeout=120)
        state = index.document_state(good)
        row.indexed = int(state is not None and state.chunk_count > 0)
    finally:
        index.close()
    row.worker_alive = index_worker.process.poll() is None
    row.lost = row.events + 1 - row.dead_lettered - row.indexed
    record_row(row)

    for key, (_, expected) in POISON.items():
        assert any(expected in r and key.rsplit("/", 1)[-1] in r for r in reasons), (key, reasons)
    assert any("notification illisible" in r for r in reasons), reasons
    assert row.dead_lettered == row.with_reason == row.events
    assert row.indexed == 1 and row.lost == 0 and row.worker_alive
