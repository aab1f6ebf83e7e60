"""Shared fixtures: a real RabbitMQ (skipped when absent, failed under CI), a moto S3 server, unique names."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pytest

from guichet.testing.helpers import delete_queues, free_port

if TYPE_CHECKING:
    from guichet.wiring import Stack
    from tests.vllm_server import VllmServer

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"

# The tests written before API keys (docs/decisions/0014) build apps and servers with default settings:
# they run with access control off, here and in the processes they start; tests of access set auth="keys".
os.environ.setdefault("GUICHET_AUTH", "off")
# Worker processes started by tests would all bind the metrics port 9100: off unless a test asks for it.
os.environ.setdefault("GUICHET_METRICS_PORT", "0")


def _unavailable(reason: str) -> None:
    # Locally a missing service skips its tests; in CI it must be there, so its absence fails.
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def amqp_url() -> str:
    url = os.environ.get("GUICHET_TEST_AMQP_URL", DEFAULT_AMQP_URL)
    try:
        import pika

        pika.BlockingConnection(pika.URLParameters(url)).close()
    except Exception as exc:
        _unavailable(f"RabbitMQ injoignable à {_redact(url)} : {exc!r}")
    return url


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    # Dummy credentials so boto3 never looks for real ones (and never signs with them).
    saved = {name: os.environ.get(name) for name in _AWS_ENV}
    os.environ.update(_AWS_ENV)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    """The session's real vLLM CPU server (tests/vllm_server.py), started on first use of its base URL."""
    from tests.vllm_server import VllmServer

    server = VllmServer(tmp_path_factory.mktemp("vllm"))
    yield server
    server.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The test that stops the session's vLLM server runs last: another after it would wait ≈ 1 min for a
    # new one. sort is stable: every other test keeps its place.
    items.sort(key=lambda item: item.get_closest_marker("stops_vllm") is not None)


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Iterator[Callable[[str], str]]:
    """unique_name("index") -> "index-<12 hex>": a fresh queue or bucket name for this test only.

    Lower-case letters, digits and "-": valid for RabbitMQ queues and S3 buckets. When the test uses
    RabbitMQ, the queues of these names (and their ".dead" queues) are deleted afterwards.
    """
    names: list[str] = []

    def make(prefix: str = "guichet-test") -> str:
        names.append(f"{prefix}-{uuid.uuid4().hex[:12]}")
        return names[-1]

    yield make
    if names and "amqp_url" in request.fixturenames:
        delete_queues(request.getfixturevalue("amqp_url"), names)


_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


@pytest.fixture
def embedded_stack(tmp_path: Path) -> Iterator[Stack]:
    """The embedded stack in tmp_path, with a fast hashing embedder instead of the bundled model.

    Documents over 100 kB are refused, so that size limits are cheap to test.
    """
    from guichet.ports.brokers.memory import MemoryBroker
    from guichet.ports.indexes.embedded import EmbeddedIndex
    from guichet.settings import Settings
    from guichet.testing.fake_embedder import HashingEmbedder
    from guichet.wiring import Stack

    settings = Settings(data_dir=tmp_path, max_document_bytes=_MAX_TEST_DOCUMENT_BYTES)
    broker = MemoryBroker(settings.broker_path, retry_backoff=0.01)
    embedder = HashingEmbedder()
    index = EmbeddedIndex(settings.index_path, dimension=embedder.dimension)
    stack = Stack(settings, broker=broker, embedder=embedder, index=index)
    yield stack
    stack.close()
    index.close()
    broker.close()


_MAX_TEST_DOCUMENT_BYTES = 100_000
