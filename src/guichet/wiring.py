"""Settings → concrete adapters. The only module that knows every implementation."""

from __future__ import annotations

import threading
from collections.abc import Callable
from urllib.parse import urlparse

from guichet import metrics
from guichet.answer.retrieval import Retriever
from guichet.answer.store import AnswerRepository
from guichet.indexing.indexer import ChunkingOptions, Indexer
from guichet.ports.answer_stream import AnswerStream
from guichet.ports.broker import Broker
from guichet.ports.embedder import Embedder
from guichet.ports.index import VectorIndex
from guichet.ports.llm import ChatModel
from guichet.ports.store import ObjectStore
from guichet.settings import Settings


def build_broker(settings: Settings) -> Broker:
    if settings.broker_url.startswith(("amqp://", "amqps://")):
        from guichet.ports.brokers.rabbitmq import RabbitMQBroker

        return RabbitMQBroker(
            settings.broker_url,
            max_deliveries=settings.max_deliveries,
            retry_backoff=settings.retry_backoff,
            max_retry_backoff=settings.max_retry_backoff,
            blocked_timeout=settings.broker_blocked_timeout,
        )
    from guichet.ports.brokers.memory import MemoryBroker

    return MemoryBroker(
        settings.broker_path,
        max_deliveries=settings.max_deliveries,
        retry_backoff=settings.retry_backoff,
        max_retry_backoff=settings.max_retry_backoff,
    )


def build_store(settings: Settings, notify: Callable[[bytes], None] | None = None) -> ObjectStore:
    """notify: for the local store, called with a MinIO-shaped event after each write (S3: MinIO does it)."""
    if settings.store_url.startswith("s3://"):
        from guichet.ports.stores.s3 import S3ObjectStore

        return S3ObjectStore(
            urlparse(settings.store_url).netloc,
            endpoint_url=settings.s3_endpoint or None,
            region=settings.s3_region,
            access_key=settings.s3_access_key or None,
            secret_key=settings.s3_secret_key or None,
            connect_timeout=settings.s3_connect_timeout,
            read_timeout=settings.s3_read_timeout,
        )
    from guichet.ports.stores.local import LocalObjectStore

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
            dimension=settings.embed_dimension,
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
            query_timeout=settings.weaviate_query_timeout,
            insert_timeout=settings.weaviate_insert_timeout,
        )
    from guichet.ports.indexes.embedded import EmbeddedIndex

    return EmbeddedIndex(settings.index_path, dimension=dimension)


def build_answer_store(settings: Settings) -> ObjectStore:
    """Answers have a bucket (or folder) of their own, which never announces its writes."""
    if settings.answers_url.startswith("s3://"):
        return build_store(settings.model_copy(update={"store_url": settings.answers_url}))
    from guichet.ports.stores.local import LocalObjectStore

    return LocalObjectStore(settings.answers_path)


def build_answer_stream(settings: Settings) -> AnswerStream:
    if settings.broker_url.startswith(("amqp://", "amqps://")):
        from guichet.ports.answer_streams.rabbitmq import RabbitMQAnswerStream

        return RabbitMQAnswerStream(
            settings.broker_url,
            shards=settings.answer_stream_shards,
            prefix=settings.answer_stream_prefix,
            retention=settings.answer_stream_retention,
        )
    from guichet.ports.answer_streams.local import LocalAnswerStream

    return LocalAnswerStream(
        settings.data_dir / "answer-events.sqlite3", retention=settings.answer_stream_retention
    )


def build_chat_model(settings: Settings) -> ChatModel | None:
    """None when no LLM is configured: answers are then extractive."""
    if not settings.llm_url:
        return None
    from guichet.ports.llms.openai_compat import OpenAICompatChatModel

    return OpenAICompatChatModel(
        settings.llm_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout,
        max_duration=settings.llm_max_duration,
    )


class Stack:
    """Every client a process needs, each created once, on first use: a search needs no broker.

    Clients may be given (tests, tools); those created here are closed by close().
    announce_writes: in the embedded stack, writes to the local store publish MinIO-shaped events on
    the index queue, as MinIO does in production. `guichet ingest` indexes inline and turns it off.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        broker: Broker | None = None,
        store: ObjectStore | None = None,
        embedder: Embedder | None = None,
        index: VectorIndex | None = None,
        answers: ObjectStore | None = None,
        answer_stream: AnswerStream | None = None,
        chat_model: ChatModel | None = None,
        announce_writes: bool = True,
    ) -> None:
        self.settings = settings
        self.announce_writes = announce_writes
        self._broker, self._store, self._embedder, self._index = broker, store, embedder, index
        self._answer_store, self._answer_stream = answers, answer_stream
        self._answers: AnswerRepository | None = None
        self._chat_model: ChatModel | None = chat_model
        self._chat_model_built = chat_model is not None
        if broker is not None:
            self._declare_queues(broker)
        self._owned: list[Callable[[], None]] = []
        self._lock = threading.RLock()

    @property
    def broker(self) -> Broker:
        with self._lock:
            if self._broker is None:
                broker = build_broker(self.settings)
                self._owned.append(broker.close)
                self._declare_queues(broker)
                self._broker = broker
            return self._broker

    @property
    def store(self) -> ObjectStore:
        with self._lock:
            if self._store is None:
                self._store = build_store(self.settings, self._announcer())
            return self._store

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = build_embedder(self.settings)
            return self._embedder

    @property
    def index(self) -> VectorIndex:
        with self._lock:
            if self._index is None:
                index = build_index(self.settings, self.embedder.dimension)
                self._owned.append(index.close)
                metrics.track_index_size(index.chunk_count)
                self._index = index
            return self._index

    @property
    def answers(self) -> AnswerRepository:
        with self._lock:
            if self._answers is None:
                store = self._answer_store or build_answer_store(self.settings)
                self._answers = AnswerRepository(store)
            return self._answers

    @property
    def answer_stream(self) -> AnswerStream:
        with self._lock:
            if self._answer_stream is None:
                stream = build_answer_stream(self.settings)
                self._owned.append(stream.close)
                self._answer_stream = stream
            return self._answer_stream

    @property
    def chat_model(self) -> ChatModel | None:
        with self._lock:
            if not self._chat_model_built:
                self._chat_model = build_chat_model(self.settings)
                if self._chat_model is not None:
                    self._owned.append(self._chat_model.close)
                self._chat_model_built = True
            return self._chat_model

    @property
    def needs_broker(self) -> bool:
        """A consumer runs on it, or the embedded store announces its writes on it."""
        return self._broker is not None or self._announces()

    @property
    def indexer(self) -> Indexer:
        s = self.settings
        options = ChunkingOptions(s.chunk_max_words, s.chunk_overlap_words, s.max_document_bytes)
        return Indexer(self.index, self.embedder, options, batch_size=s.embed_batch_size)

    @property
    def retriever(self) -> Retriever:
        return Retriever(self.index, self.embedder)

    def close(self) -> None:
        with self._lock:
            for close in reversed(self._owned):
                close()
            self._owned.clear()

    def _declare_queues(self, broker: Broker) -> None:
        broker.declare(self.settings.index_queue)
        broker.declare(self.settings.ask_queue)

    def _announces(self) -> bool:
        return self.announce_writes and not self.settings.store_url.startswith("s3://")

    def _announcer(self) -> Callable[[bytes], None] | None:
        if not self._announces():
            return None
        queue = self.settings.index_queue

        def announce(body: bytes) -> None:
            self.broker.publish(queue, body)

        return announce


def build_stack(settings: Settings, *, announce_writes: bool = True) -> Stack:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Stack(settings, announce_writes=announce_writes)
