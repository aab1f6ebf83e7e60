"""Settings → concrete adapters. The only module that knows every implementation."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from guichet import metrics
from guichet.ingestion import ChunkingOptions, Indexer
from guichet.ports.broker import Broker
from guichet.ports.embedder import Embedder
from guichet.ports.index import VectorIndex
from guichet.ports.store import ObjectStore
from guichet.retrieval import Retriever
from guichet.settings import Settings


def build_broker(settings: Settings) -> Broker:
    if settings.broker_url.startswith(("amqp://", "amqps://")):
        from guichet.ports.brokers.rabbitmq import RabbitMQBroker

        return RabbitMQBroker(settings.broker_url, max_deliveries=settings.max_deliveries)
    from guichet.ports.brokers.memory import MemoryBroker

    return MemoryBroker(settings.broker_path, max_deliveries=settings.max_deliveries)


def build_store(settings: Settings, broker: Broker | None = None) -> ObjectStore:
    """In the embedded stack, the local store announces writes on the index queue, as MinIO does."""
    if settings.store_url.startswith("s3://"):
        from guichet.ports.stores.s3 import S3ObjectStore

        return S3ObjectStore(
            urlparse(settings.store_url).netloc,
            endpoint_url=settings.s3_endpoint or None,
            region=settings.s3_region,
        )
    from guichet.ports.stores.local import LocalObjectStore

    notify = None
    if broker is not None:
        queue = settings.index_queue
        broker.declare(queue)

        def notify(body: bytes) -> None:
            broker.publish(queue, body)

    return LocalObjectStore(settings.store_path, notify=notify)


def build_embedder(settings: Settings) -> Embedder:
    if settings.embed_url:
        from guichet.ports.embedders.openai_compat import OpenAICompatEmbedder

        return OpenAICompatEmbedder(
            settings.embed_url,
            model=settings.embed_model,
            api_key=settings.embed_api_key,
            query_prefix=settings.embed_query_prefix,
            passage_prefix=settings.embed_passage_prefix,
            batch_size=settings.embed_batch_size,
        )
    from guichet.ports.embedders.bundled import BundledE5Embedder

    return BundledE5Embedder()


def build_index(settings: Settings, dimension: int) -> VectorIndex:
    if settings.index_url.startswith(("http://", "https://")):
        from guichet.ports.indexes.weaviate import WeaviateIndex

        return WeaviateIndex(
            settings.index_url,
            grpc_port=settings.weaviate_grpc_port,
            api_key=settings.weaviate_api_key,
            collection=settings.index_collection,
            dimension=dimension,
        )
    from guichet.ports.indexes.embedded import EmbeddedIndex

    return EmbeddedIndex(settings.index_path, dimension=dimension)


@dataclass
class Stack:
    """Every client a process needs, created once."""

    settings: Settings
    broker: Broker
    store: ObjectStore
    embedder: Embedder
    index: VectorIndex

    @property
    def indexer(self) -> Indexer:
        options = ChunkingOptions(
            self.settings.chunk_max_words, self.settings.chunk_overlap_words, self.settings.max_document_bytes
        )
        return Indexer(self.index, self.embedder, options, batch_size=self.settings.embed_batch_size)

    @property
    def retriever(self) -> Retriever:
        return Retriever(self.index, self.embedder)

    @property
    def is_embedded(self) -> bool:
        return not self.settings.broker_url

    def close(self) -> None:
        self.index.close()
        self.broker.close()


def build_stack(settings: Settings) -> Stack:
    """Every client of the process, created once; /metrics reads the index size at scrape time."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    broker = build_broker(settings)
    broker.declare(settings.index_queue)
    store = build_store(settings, broker)
    embedder = build_embedder(settings)
    index = build_index(settings, embedder.dimension)
    metrics.track_index_size(index.chunk_count)
    return Stack(settings, broker, store, embedder, index)
