"""`guichet worker index` as deployed: its own process, RabbitMQ, an S3 endpoint, MinIO-shaped events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from guichet.indexing.notifications import build_bucket_notification
from guichet.ports.brokers.rabbitmq import RabbitMQBroker
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.stores.s3 import S3ObjectStore
from guichet.testing.helpers import wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.s3]


def test_worker_process_indexes_events_and_stops_on_sigterm(
    amqp_url: str, moto_s3: str, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    queue, bucket = unique_name("index"), unique_name("docs")
    store = S3ObjectStore(bucket, endpoint_url=moto_s3, create_bucket=True)
    broker = RabbitMQBroker(amqp_url)
    broker.declare(queue)
    env = {
        **os.environ,
        "GUICHET_DATA_DIR": str(tmp_path / "data"),
        "GUICHET_BROKER_URL": amqp_url,
        "GUICHET_STORE_URL": f"s3://{bucket}",
        "GUICHET_S3_ENDPOINT": moto_s3,
        "GUICHET_INDEX_QUEUE": queue,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "guichet", "worker", "index"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        key = "partenaires/aide juridictionnelle.md"
        stored = store.put(key, b"# Aide juridictionnelle\n\nElle prend en charge les frais d'avocat.")
        body = build_bucket_notification(
            "s3:ObjectCreated:Put",
            bucket,
            key,
            size=stored.size,
            etag=stored.etag,
            sequencer="0000000000000001",
        )
        broker.publish(queue, body)
        index = EmbeddedIndex(tmp_path / "data" / "index", dimension=384)
        wait_for(lambda: index.document_state(key) is not None)
        state = index.document_state(key)
        assert state is not None and state.chunk_count == 1 and state.etag == stored.etag
        index.close()
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=30)
        broker.close()
    assert code == 0, worker.stderr.read() if worker.stderr else ""
    assert broker_depth(amqp_url, queue) == 0


def broker_depth(url: str, queue: str) -> int:
    broker = RabbitMQBroker(url)
    try:
        return broker.depth(queue)
    finally:
        broker.close()
