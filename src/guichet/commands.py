"""What each CLI command does, over a Stack built from the settings (cli.py only parses arguments)."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from tqdm import tqdm

from guichet.corpus.errors import DocumentError, IgnoredDocument
from guichet.index_worker import CONCURRENT_ATTEMPTS, IndexEventHandler
from guichet.ingestion import ConcurrentUpdate, IndexResult
from guichet.ports.store import InvalidKey, KeyConflict, check_key
from guichet.reconcile import ReconcileReport, reconcile
from guichet.records import SearchMode
from guichet.retrieval import Passage
from guichet.runner import Consumer, consume_in_thread, stop_on_signals
from guichet.settings import Settings
from guichet.sources import SourceError, SourceFile, iter_sources
from guichet.wiring import Stack, build_stack

log = logging.getLogger(__name__)

SAMPLE_PREFIX = "exemples"


class WorkerCrashed(Exception):
    """A consumer thread of `guichet serve` died: the process exits non-zero to be restarted."""


class EmptyIndex(Exception):
    """A search before anything was ingested: say what to do rather than print no result."""


EXAMPLE_QUESTION = "Comment renouveler une carte d'identité périmée ?"


def sample_corpus_dir() -> Path:
    return Path(str(resources.files("guichet") / "samples" / "fiches"))


@dataclass
class IngestReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    chunks: int = 0
    embedded: int = 0
    errors: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        parts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(self.outcomes.items()))
        total = sum(self.outcomes.values())
        return f"{total} documents ({parts}); {self.chunks} passages, {self.embedded} vectorisés"

    def to_json(self) -> dict[str, object]:
        return {
            "documents": sum(self.outcomes.values()),
            "outcomes": dict(self.outcomes),
            "chunks": self.chunks,
            "embedded": self.embedded,
            "errors": self.errors,
        }


def ingest_into(
    stack: Stack,
    paths: list[Path],
    *,
    prefix: str = "",
    progress: bool = True,
    stop: threading.Event | None = None,
) -> IngestReport:
    """Store each changed document and index it inline; one bad file never stops the run."""
    report = IngestReport()
    limit = stack.settings.max_document_bytes
    sources = list(iter_sources(paths, prefix))
    for source in tqdm(sources, desc="Indexation", unit="doc", disable=not progress or None):
        if stop is not None and stop.is_set():
            break
        try:
            result = _ingest_one(stack, source, limit)
        except IgnoredDocument:
            report.outcomes["ignored"] += 1
            continue
        except (DocumentError, SourceError, InvalidKey, KeyConflict, ConcurrentUpdate) as exc:
            report.errors[source.key] = str(exc)
            report.outcomes["rejected"] += 1
            continue
        report.outcomes[result.outcome] += 1
        report.chunks += result.chunks
        report.embedded += result.embedded
    return report


def _ingest_one(stack: Stack, source: SourceFile, limit: int) -> IndexResult:
    """Store first (the truth), then index inline: a crash in between leaves work for reconcile."""
    data = source.read(limit)
    key = check_key(source.key_for(data))
    etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
    current = stack.store.head(key)
    if current is None or current.etag != etag:
        stack.store.put(key, data)
    for _ in range(CONCURRENT_ATTEMPTS - 1):
        try:
            return stack.indexer.index_object(key, data, etag=etag)
        except ConcurrentUpdate:
            continue
    return stack.indexer.index_object(key, data, etag=etag)


def ingest_paths(settings: Settings, paths: list[Path], *, prefix: str = "") -> IngestReport:
    # Indexed inline: announcing the writes would only queue events that find every document current.
    stack = build_stack(settings, announce_writes=False)
    try:
        return ingest_into(stack, paths, prefix=prefix)
    finally:
        stack.close()


def search_passages(
    settings: Settings, query: str, *, audience: str | None, k: int, mode: SearchMode
) -> list[Passage]:
    stack = build_stack(settings)
    try:
        if stack.index.chunk_count() == 0:
            raise EmptyIndex("l'index est vide : lancez « guichet ingest CHEMIN… » ou « guichet demo »")
        return stack.retriever.passages(query, audience=audience, k=k, mode=mode)
    finally:
        stack.close()


def reconcile_stack(settings: Settings) -> ReconcileReport:
    stack = build_stack(settings)
    try:
        return reconcile(
            stack.store, stack.index, stack.indexer, max_document_bytes=settings.max_document_bytes
        )
    finally:
        stack.close()


def index_handler(stack: Stack) -> IndexEventHandler:
    return IndexEventHandler(stack.store, stack.indexer, max_document_bytes=stack.settings.max_document_bytes)


def run_index_worker(settings: Settings) -> None:
    stack = build_stack(settings)
    try:
        with stop_on_signals() as stop:
            log.info("index worker consuming %s", settings.index_queue)
            worker = consume_in_thread(stack.broker, settings.index_queue, index_handler(stack), stop)
            while worker.alive:
                worker.join(timeout=1.0)  # the main thread stays free to receive SIGTERM
            if worker.error is not None:
                raise WorkerCrashed(f"le worker d'indexation s'est arrêté : {worker.error!r}")
    finally:
        stack.close()


def serve_functions(settings: Settings, host: str, port: int) -> None:
    stack = build_stack(settings)
    try:
        with stop_on_signals() as stop:
            _run_http(stack, host, port, stop)
    finally:
        stack.close()


def serve_all(settings: Settings, host: str, port: int, *, demo: bool) -> None:
    """Functions and the index worker in one process: the embedded default for one machine."""
    stack = build_stack(settings)
    try:
        with stop_on_signals() as stop:
            if demo or stack.index.chunk_count() == 0:
                # Indexed inline, through a store that does not announce: no event backlog to replay.
                quiet = Stack(settings, embedder=stack.embedder, index=stack.index, announce_writes=False)
                report = ingest_into(quiet, [sample_corpus_dir()], prefix=SAMPLE_PREFIX, stop=stop)
                print(f"Corpus d'exemple : {report.summary()}", flush=True)
            worker = consume_in_thread(stack.broker, settings.index_queue, index_handler(stack), stop)
            if demo:
                _print_demo(stack, host, port)
            _run_http(stack, host, port, stop, workers=[worker])
            stop.set()
            worker.join(timeout=60)  # the job in hand finishes and is acknowledged, or is requeued
            if worker.error is not None:
                raise WorkerCrashed(f"le worker d'indexation s'est arrêté : {worker.error!r}")
    finally:
        stack.close()


def _print_demo(stack: Stack, host: str, port: int) -> None:
    print(f"\nguichet est prêt : http://{host}:{port}  (API : http://{host}:{port}/docs)", flush=True)
    print(f"\nExemple — « {EXAMPLE_QUESTION} »", flush=True)
    for rank, p in enumerate(stack.retriever.passages(EXAMPLE_QUESTION, k=3), 1):
        print(f"  [{rank}] {p.id} — {p.title} ({p.url})", flush=True)
        print(f"      {' '.join(p.text.split())[:220]}…", flush=True)
    if not stack.settings.llm_url:
        print(
            "\nAucun LLM configuré (GUICHET_LLM_URL) : les réponses rédigées arrivent avec le chemin "
            "« ask » ; pointez GUICHET_LLM_URL vers un serveur compatible OpenAI (vLLM, llama.cpp, Ollama, "
            "API Albert).",
            flush=True,
        )


def _run_http(
    stack: Stack, host: str, port: int, stop: threading.Event, *, workers: Sequence[Consumer] = ()
) -> None:
    """Serve until stop is set (by SIGTERM/SIGINT), then drain requests and return."""
    import uvicorn

    from guichet.api.app import create_app

    class Server(uvicorn.Server):
        # uvicorn re-raises the signal after its shutdown, killing the process before the workers
        # stop and the clients close; signals are ours (stop_on_signals), uvicorn just follows stop.
        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    app = create_app(stack, workers=workers)
    server = Server(uvicorn.Config(app, host=host, port=port, log_level="info"))

    def follow_stop() -> None:
        stop.wait()
        server.should_exit = True

    threading.Thread(target=follow_stop, name="http-stop", daemon=True).start()
    server.run()
