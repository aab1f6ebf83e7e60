"""Settings → concrete adapters. The only module that knows every implementation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar, cast
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
from guichet.ports.reranker import Reranker
from guichet.ports.store import ObjectStore
from guichet.settings import Settings

if TYPE_CHECKING:
    from guichet.pilotage.publish import AnalyticsPublisher
    from guichet.pilotage.store import AnalyticsStore
    from guichet.pilotage.themes import ThemeLookup

T = TypeVar("T")
# After a failed build, a client is not tried again for this long: every request meanwhile fails at once
# with the same error, instead of each one opening (and timing out on) a connection of its own.
CLIENT_RETRY_COOLDOWN_S = 5.0


def build_broker(settings: Settings) -> Broker:
    if settings.broker_url.startswith(("amqp://", "amqps://")):
        from guichet.ports.brokers.rabbitmq import RabbitMQBroker

        return RabbitMQBroker(
            settings.broker_url,
            max_deliveries=settings.max_deliveries,
            dead_letter_exchange=settings.dead_letter_exchange,
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
            grpc_host=settings.weaviate_grpc_host,
            api_key=settings.weaviate_api_key,
            collection=settings.index_collection,
            dimension=dimension,
            query_timeout=settings.weaviate_query_timeout,
            insert_timeout=settings.weaviate_insert_timeout,
        )
    from guichet.ports.indexes.embedded import EmbeddedIndex

    return EmbeddedIndex(settings.index_path, dimension=dimension)


def build_reranker(settings: Settings) -> Reranker | None:
    if settings.rerank_url:
        from guichet.ports.rerankers.http import HttpReranker

        return HttpReranker(
            settings.rerank_url,
            api=settings.rerank_api,
            model=settings.rerank_model,
            api_key=settings.rerank_api_key,
            timeout=settings.rerank_timeout,
        )
    if settings.rerank_embedded:
        from guichet.ports.rerankers.features import FeatureReranker

        return FeatureReranker()
    return None


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
            blocked_timeout=settings.broker_blocked_timeout,
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


def build_analytics_store(settings: Settings) -> AnalyticsStore:
    """PostgreSQL when GUICHET_ANALYTICS_URL names one, else SQLite in the data folder (ADR 0024)."""
    if settings.analytics_url.startswith(("postgresql://", "postgres://")):
        from guichet.pilotage.backends import PostgresAnalyticsStore

        return PostgresAnalyticsStore(settings.analytics_url)
    from guichet.pilotage.backends import SQLiteAnalyticsStore

    return SQLiteAnalyticsStore(settings.data_dir / "analytics.sqlite3")


class LazyClient(Generic[T]):
    """One client, built on first use under its own lock: a slow or failing build of one client never
    holds up the others. After a failed build the error is raised again, without a new attempt, until
    cooldown seconds have passed. on_built runs once, after a successful build (e.g. registers close)."""

    def __init__(
        self,
        build: Callable[[], T],
        *,
        given: T | None = None,
        cooldown: float = CLIENT_RETRY_COOLDOWN_S,
        on_built: Callable[[T], None] | None = None,
    ) -> None:
        self._build = build
        self._value = given
        self._built = given is not None
        self._cooldown = cooldown
        self._on_built = on_built
        self._lock = threading.Lock()
        self._failure: Exception | None = None
        self._retry_at = 0.0

    @property
    def built(self) -> bool:
        return self._built

    def get(self) -> T:
        if self._built:
            return cast(T, self._value)  # T may itself be Optional: built says it was set
        with self._lock:
            if self._built:
                return cast(T, self._value)
            if self._failure is not None and time.monotonic() < self._retry_at:
                raise self._failure.with_traceback(None)
            try:
                value = self._build()
            except Exception as exc:
                self._failure, self._retry_at = exc, time.monotonic() + self._cooldown
                raise
            if self._on_built is not None:
                self._on_built(value)
            self._value, self._built, self._failure = value, True, None
            return value


class Stack:
    """Every client a process needs, each created once, on first use: a search needs no broker.

    Clients may be given (tests, tools); those created here are closed by close(). Each is built under
    its own lock, with a cool-down after a failed build (see LazyClient).
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
        reranker: Reranker | None = None,
        announce_writes: bool = True,
    ) -> None:
        self.settings = settings
        self.announce_writes = announce_writes
        self._owned: list[Callable[[], None]] = []
        self._owned_lock = threading.Lock()
        if broker is not None:
            self._declare_queues(broker)
        self._broker = LazyClient(self._build_broker, given=broker, on_built=lambda b: self._own(b.close))
        self._store = LazyClient(lambda: build_store(self.settings, self._announcer()), given=store)
        self._embedder = LazyClient(lambda: build_embedder(self.settings), given=embedder)
        self._index = LazyClient(self._build_index, given=index, on_built=self._track_index)
        self._reranker: LazyClient[Reranker | None] = LazyClient(
            lambda: build_reranker(self.settings), given=reranker, on_built=self._own_closable
        )
        self._answers = LazyClient(lambda: AnswerRepository(answers or build_answer_store(self.settings)))
        self._answer_stream = LazyClient(
            lambda: build_answer_stream(self.settings),
            given=answer_stream,
            on_built=lambda s: self._own(s.close),
        )
        self._analytics: LazyClient[AnalyticsStore] = LazyClient(
            lambda: build_analytics_store(self.settings), on_built=lambda store: self._own(store.close)
        )
        self._themes: LazyClient[ThemeLookup] = LazyClient(self._build_themes)
        self._chat_model: LazyClient[ChatModel | None] = LazyClient(
            lambda: build_chat_model(self.settings), given=chat_model, on_built=self._own_chat_model
        )

    @property
    def broker(self) -> Broker:
        return self._broker.get()

    @property
    def store(self) -> ObjectStore:
        return self._store.get()

    @property
    def embedder(self) -> Embedder:
        return self._embedder.get()

    @property
    def index(self) -> VectorIndex:
        return self._index.get()

    @property
    def reranker(self) -> Reranker | None:
        return self._reranker.get()

    @property
    def answers(self) -> AnswerRepository:
        return self._answers.get()

    @property
    def answer_stream(self) -> AnswerStream:
        return self._answer_stream.get()

    @property
    def chat_model(self) -> ChatModel | None:
        return self._chat_model.get()

    @property
    def analytics(self) -> AnalyticsStore:
        return self._analytics.get()

    @property
    def analytics_publisher(self) -> AnalyticsPublisher:
        from guichet.pilotage.publish import AnalyticsPublisher

        return AnalyticsPublisher(self.broker, self.settings.analytics_queue, self._themes.get())

    @property
    def needs_broker(self) -> bool:
        """A consumer runs on it, or the embedded store announces its writes on it."""
        return self._broker.built or self._announces()

    @property
    def indexer(self) -> Indexer:
        s = self.settings
        options = ChunkingOptions(s.chunk_max_words, s.chunk_overlap_words, s.max_document_bytes)
        return Indexer(self.index, self.embedder, options, batch_size=s.embed_batch_size)

    @property
    def retriever(self) -> Retriever:
        return Retriever(self.index, self.embedder, self.reranker, rerank_depth=self.settings.rerank_depth)

    def close(self) -> None:
        with self._owned_lock:
            owned, self._owned = self._owned, []
        for close in reversed(owned):
            close()

    def _own(self, close: Callable[[], None]) -> None:
        with self._owned_lock:
            self._owned.append(close)

    def _build_broker(self) -> Broker:
        broker = build_broker(self.settings)
        try:
            self._declare_queues(broker)
        except BaseException:
            broker.close()  # not kept: closed now, never registered (one closer per client, not per try)
            raise
        return broker

    def _build_index(self) -> VectorIndex:
        return build_index(self.settings, self.embedder.dimension)

    def _build_themes(self) -> ThemeLookup:
        from guichet.pilotage.themes import ThemeLookup

        return ThemeLookup(self.index)

    def _track_index(self, index: VectorIndex) -> None:
        self._own(index.close)
        metrics.track_index_size(index.chunk_count)

    def _own_closable(self, client: Reranker | None) -> None:
        if client is not None:
            self._own(client.close)

    def _own_chat_model(self, model: ChatModel | None) -> None:
        if model is not None:
            self._own(model.close)

    def _declare_queues(self, broker: Broker) -> None:
        broker.declare(self.settings.index_queue)
        broker.declare(self.settings.ask_queue)
        broker.declare(self.settings.analytics_queue)

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
