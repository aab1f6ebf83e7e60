"""One settings object, read once at the process edge from GUICHET_* environment variables.

Backends are chosen by URL: an empty URL means the embedded default, kept under data_dir.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("guichet", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GUICHET_", extra="ignore", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir)

    broker_url: str = ""  # amqp://user:pass@host:5672/vhost ; "" = embedded
    store_url: str = ""  # s3://bucket ; a folder path ; "" = <data_dir>/store
    s3_endpoint: str = ""  # http://minio:9000 ; "" = AWS default
    s3_region: str = "us-east-1"
    s3_access_key: str = ""  # "" = boto3's usual chain (AWS_* variables, instance role, ...)
    s3_secret_key: str = ""
    index_url: str = ""  # http://weaviate:8080 ; a folder path ; "" = <data_dir>/index
    weaviate_grpc_port: int = 50051
    # "" = the host of index_url; the weaviate Helm chart serves gRPC on a Service of its own.
    weaviate_grpc_host: str = ""
    weaviate_api_key: str = ""
    index_collection: str = "GuichetChunk"
    embed_url: str = ""  # OpenAI-compatible base URL ending in /v1 ; "" = bundled e5-small
    embed_model: str = "intfloat/multilingual-e5-small"
    embed_api_key: str = ""
    embed_dimension: int | None = None  # known in advance: no probe request to the service at start-up
    # E5 models need these prefixes; set both to "" for bge-m3, or for a server that adds them itself.
    embed_query_prefix: str = "query: "
    embed_passage_prefix: str = "passage: "
    embed_batch_size: int = 16
    # Reranking of the index's first passages (docs/decisions/0032-retrieval-at-scale.md): a rerank
    # endpoint, or "" = the embedded feature reranker (rerank_embedded), or none.
    rerank_url: str = ""  # TEI base URL (http://tei:8080) or Albert API's (https://…/v1)
    rerank_api: Literal["tei", "albert"] = "tei"  # the endpoint's request/response shape
    rerank_model: str = ""  # required by Albert API
    rerank_api_key: str = ""
    rerank_timeout: float = 2.0  # seconds; past it the index's own order is kept
    rerank_depth: int = 40  # passages reordered
    rerank_embedded: bool = True  # without rerank_url: the embedded feature reranker (False = none)
    # Answers: an OpenAI-compatible chat server (vLLM in production) ; "" = extractive answers only.
    llm_url: str = ""  # e.g. http://vllm:8000/v1
    llm_model: str = ""  # "" = the first model the server lists at /models
    llm_api_key: str = ""
    llm_timeout: float = 60.0  # seconds without a byte from the server before the attempt fails
    llm_max_duration: float = 300.0  # seconds a whole generation may take (keep-alives do not extend it)
    llm_prompt_chars: int = 24_000  # extracts are dropped (worst first) to keep the prompt under this
    llm_max_tokens: int = 700
    llm_temperature: float = 0.1
    llm_retries: int = 2  # further attempts after a failure, before falling back to an extractive answer
    llm_retry_backoff: float = 0.5  # seconds before the 1st retry, doubling
    answer_concurrency: int = 8  # generations in flight per answer worker (vLLM batches them)
    answer_extracts: int = 6  # passages given to the model
    answers_url: str = ""  # s3://bucket ; a folder path ; "" = <data_dir>/answers
    answer_stream_prefix: str = "guichet.answers"  # RabbitMQ stream names: <prefix>.0 … <prefix>.<shards-1>
    answer_stream_shards: int = 4  # RabbitMQ streams the live answer events are spread over
    answer_stream_retention: float = 3600.0  # seconds live events stay readable
    stream_heartbeat: float = 10.0  # seconds between SSE keep-alives (and answer-store checks)

    index_queue: str = "guichet.index"
    ask_queue: str = "guichet.ask"
    max_deliveries: int = 5
    dead_letter_exchange: str = "guichet.dlx"  # where the work queues dead-letter (RabbitMQ)
    retry_backoff: float = 1.0  # seconds before the 1st redelivery of a failed job, doubling up to the max
    max_retry_backoff: float = 30.0
    max_document_bytes: int = 20 * 1024 * 1024

    chunk_max_words: int = 180
    chunk_overlap_words: int = 30

    host: str = "127.0.0.1"
    port: int = 8000

    # Access and personal data (docs/decisions/0014-access-and-personal-data.md).
    auth: Literal["keys", "off"] = "keys"  # keys: every /v1 request needs a site's API key
    auth_refresh: float = 5.0  # seconds a replica trusts its cached keys: a revoked key stops within this
    rate_ask_per_minute: float = 30.0  # POST /v1/ask per site and per replica; 0 = no limit
    rate_ask_burst: int = 10
    rate_read_per_minute: float = 600.0  # every other /v1 request, per site and per replica; 0 = no limit
    rate_read_burst: int = 120
    cors_origins: str = ""  # comma-separated origins a browser may call the API from; "" = none
    answer_retention_days: float = 30.0  # `guichet purge` deletes older answer records; 0 = keep them
    feedback_retention_days: float = 365.0  # and older feedback; 0 = keep it
    # Workers' Prometheus endpoint (http://<metrics_host>:<metrics_port>/metrics); 0 = off. All
    # interfaces: Prometheus scrapes the pod or container from outside. The functions use /metrics.
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 9100
    # Pilotage (docs/decisions/0024): postgresql://user@host/db ; "" = SQLite at <data_dir>/analytics.sqlite3
    analytics_url: str = ""
    analytics_queue: str = "guichet.analytics"

    # Open SSE answer streams (api/stream.py), counted by each replica on its own (ADR 0030): beyond the
    # replica's cap a new one gets 503, beyond a site's cap on this replica 429, both with Retry-After (a
    # site can hold streams_per_site on every replica); events a slow client may leave waiting.
    streams_per_replica: int = 1000
    streams_per_site: int = 100
    stream_queue_events: int = 1024

    # POST /v1/chat/completions waits this long for the final answer, then answers 504 with its id.
    chat_wait: float = 330.0
    # Bounds on waiting for a dependency (issue 14): a dead or black-holed backend fails a request in
    # seconds instead of holding an API thread for minutes.
    s3_connect_timeout: float = 3.0  # seconds to open a connection to S3/MinIO
    s3_read_timeout: float = 10.0  # seconds without a byte from S3/MinIO (3 attempts at most)
    weaviate_query_timeout: float = 5.0  # seconds a Weaviate search may take
    weaviate_insert_timeout: float = 90.0  # seconds a Weaviate batch write may take
    broker_blocked_timeout: float = 1.5  # seconds a publish (ask, live event) may stay blocked by an alarm
    # Seconds an answer worker waits out an index outage (answer/index_wait.py) before its answers fail
    # with "index_indisponible"; counted per outage, not per job.
    index_outage_wait: float = 120.0
    # What the advisor reads (issue 18): a cited fiche last updated longer ago than this is flagged on
    # the page and named in the answer's notice; 0 = never.
    source_max_age_days: float = 730.0

    @property
    def store_path(self) -> Path:
        return (
            Path(self.store_url)
            if self.store_url and "://" not in self.store_url
            else self.data_dir / "store"
        )

    @property
    def index_path(self) -> Path:
        return (
            Path(self.index_url)
            if self.index_url and "://" not in self.index_url
            else self.data_dir / "index"
        )

    @property
    def answers_path(self) -> Path:
        return (
            Path(self.answers_url)
            if self.answers_url and "://" not in self.answers_url
            else self.data_dir / "answers"
        )

    @property
    def broker_path(self) -> Path:
        return self.data_dir / "queues"


def load_settings() -> Settings:
    return Settings()
