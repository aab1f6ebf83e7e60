"""The answer worker's overhead: from taking a job off the queue to its first LLM request, ≥ 50,000 chunks.

Usage: python benchmarks/worker_overhead.py [--chunks 50000] [--jobs 100] [--broker rabbitmq|embedded]
                                            [--json]

The index holds the real fiches of ../shared/fiches (the bundled samples when absent), parsed and chunked
by guichet, with their metadata, copied until it has --chunks chunks; the chunk vectors are random unit
vectors (embedding 50,000 passages with the bundled e5 on 2 cores takes hours, and the search cost does
not depend on their values). It is built once and kept under .data/bench/ (--cache-dir).
The handler is the production one (AnswerJobHandler + Answerer, one consumer, prefetch 1) on the chosen
broker and its answer stream (RabbitMQ: quorum queue and streams; embedded: SQLite queue and stream);
answer records go to a local folder; the LLM is guichet's FakeOpenAIServer, which records when each chat
request arrives. Per job: handler entry (dequeue) → arrival of the chat request, split into retrieval
(query embedding with the bundled e5-small, really computed for each question, + index search),
evidence (the fiches' metadata), the answer record's read and write, the status and sources events, the
output guard's set-up (the facts of the extracts it checks the stream against), and the rest (prompt,
the HTTP request, thread hand-offs). The machine's other load shows in the tails: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from _ask_common import DEFAULT_AMQP_URL, emit, note, stats, table, unique
from _common import REPO, SHARED_FICHES, load_cases

from guichet.answer import generation
from guichet.answer.coverage import CoverageRule
from guichet.answer.guard import AllowedFacts, StreamGuard
from guichet.answer.handlers import AnswerJobHandler
from guichet.answer.pipeline import Answerer
from guichet.answer.record import AnswerRecord, AskJob, new_answer_id
from guichet.answer.retrieval import Retriever
from guichet.answer.store import AnswerRepository
from guichet.answer.worker import answer_options
from guichet.corpus.chunking import chunk_document
from guichet.corpus.loader import parse_document
from guichet.indexing.indexer import content_hash, document_metadata
from guichet.ports.answer_stream import AnswerEvent, AnswerStream
from guichet.ports.broker import Broker
from guichet.ports.embedders.bundled import BundledE5Embedder
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.llms.openai_compat import OpenAICompatChatModel
from guichet.ports.records import Chunk, DocumentState, SearchHit, SearchMode, Vector, chunk_uuid
from guichet.ports.store import ObjectStore, StoredObject
from guichet.ports.stores.local import LocalObjectStore
from guichet.process.consumers import consume_in_thread
from guichet.process.serve import sample_corpus_dir
from guichet.settings import Settings
from guichet.testing.fake_llm_server import FakeOpenAIServer
from guichet.testing.helpers import delete_queues

DIMENSION = 384
QUESTIONS = Path(__file__).with_name("questions_shared.jsonl")
REPLY = "Faites la démarche en ligne puis prenez rendez-vous [1]. Les pièces sont listées dans la fiche [2]."


# -- the index ------------------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    shared = sorted((SHARED_FICHES / "xml").glob("*.xml"))
    return shared or sorted(sample_corpus_dir().glob("*.xml"))


def parsed_fiches() -> list[tuple[str, str, list[Chunk], str]]:
    """(id, content hash, chunks, metadata JSON) of every fiche of the corpus."""
    out = []
    for path in corpus_files():
        data = path.read_bytes()
        doc = parse_document(path.name, data, max_bytes=50_000_000)
        out.append(
            (doc.id or path.stem, content_hash(data), chunk_document(doc, path.name), document_metadata(doc))
        )
    return out


def build_index(path: Path, target: int) -> int:
    """Copies of the corpus (copy n under keys "copy-n/...") until target chunks; returns the count."""
    fiches = parsed_fiches()
    rng = np.random.default_rng(0)
    index = EmbeddedIndex(path, dimension=DIMENSION)
    total, copy = 0, 0
    try:
        while total < target:
            for fiche_id, digest, chunks, metadata in fiches:
                if total >= target:
                    break
                key = f"copy-{copy}/{fiche_id}.xml"
                doc_id = fiche_id if copy == 0 else f"{fiche_id}~{copy}"
                moved = [_moved(c, key, doc_id) for c in chunks]
                state = DocumentState(key, doc_id, digest, chunk_count=len(moved), metadata_json=metadata)
                vectors = rng.standard_normal((len(moved), DIMENSION)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                index.replace_document(state, moved, vectors.tolist())
                total += len(moved)
            copy += 1
        return index.chunk_count()
    finally:
        index.close()


def _moved(chunk: Chunk, key: str, doc_id: str) -> Chunk:
    return replace(chunk, id=chunk_uuid(key, chunk.ordinal), doc_key=key, doc_id=doc_id)


def cached_index(cache_dir: Path, target: int) -> tuple[EmbeddedIndex, str]:
    """The index of ≥ target chunks under cache_dir, built on first use (a marker says it is complete)."""
    path = cache_dir / f"worker-index-{target}"
    marker = path / "complete.json"
    if marker.exists():
        return EmbeddedIndex(path, dimension=DIMENSION), f"reused {path}"
    shutil.rmtree(path, ignore_errors=True)
    note(f"building an index of {target:,} chunks in {path} ...")
    started = time.perf_counter()
    count = build_index(path, target)
    marker.write_text(json.dumps({"chunks": count, "corpus": str(corpus_files()[0].parent)}))
    return EmbeddedIndex(path, dimension=DIMENSION), f"built in {time.perf_counter() - started:.0f} s"


# -- probes ---------------------------------------------------------------------------------------


class TimedEmbedder:
    def __init__(self, inner: BundledE5Embedder) -> None:
        self.inner = inner
        self.seconds: list[float] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> Vector:
        started = time.perf_counter()
        try:
            return self.inner.embed_query(text)
        finally:
            self.seconds.append(time.perf_counter() - started)


class TimedRetriever(Retriever):
    def __init__(self, index: EmbeddedIndex, embedder: TimedEmbedder) -> None:
        super().__init__(index, embedder)
        self.seconds: list[float] = []

    def search(
        self, query: str, *, audience: str | None = None, k: int = 5, mode: SearchMode = "hybrid"
    ) -> list[SearchHit]:
        started = time.perf_counter()
        try:
            return super().search(query, audience=audience, k=k, mode=mode)
        finally:
            self.seconds.append(time.perf_counter() - started)


class Intervals:
    """When each timed call ran (time.monotonic), by kind: a job's share is what falls in its window."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, float, float]] = []
        self._lock = threading.Lock()

    @contextmanager
    def timed(self, kind: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self.spans.append((kind, started, time.monotonic()))

    def within(self, kind: str, start: float, end: float) -> float:
        return sum(b - a for k, a, b in self.spans if k == kind and a >= start and b <= end)


class TimedStream:
    def __init__(self, inner: AnswerStream, log: Intervals) -> None:
        self.inner, self.log = inner, log

    def publish(self, event: AnswerEvent) -> None:
        with self.log.timed("events"):
            self.inner.publish(event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class TimedStore:
    def __init__(self, inner: ObjectStore, log: Intervals) -> None:
        self.inner, self.log = inner, log

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> StoredObject:
        with self.log.timed("records"):
            return self.inner.put(key, data, content_type)

    def get(self, key: str) -> bytes:
        with self.log.timed("records"):
            return self.inner.get(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@contextmanager
def timed_guard(log: Intervals) -> Iterator[None]:
    """Times the output guard's set-up (its allowed facts, parsed from the extracts before the request).

    generation.py builds it inline, with no hook: the name it uses is swapped for this run only.
    """

    class TimedGuard(StreamGuard):
        def __init__(self, allowed: Sequence[str] | AllowedFacts) -> None:
            with log.timed("guard"):
                super().__init__(allowed)

    original = generation.StreamGuard  # type: ignore[attr-defined]
    generation.StreamGuard = TimedGuard  # type: ignore[attr-defined]
    try:
        yield
    finally:
        generation.StreamGuard = original  # type: ignore[attr-defined]


class Probe:
    """Wraps the handler: when each job was taken (time.monotonic, the fake LLM server's clock)."""

    def __init__(self, handler: AnswerJobHandler, expected: int) -> None:
        self._handler = handler
        self.entered: list[float] = []
        self.done = 0
        self.finished = threading.Event()
        self._expected = expected

    def __call__(self, envelope: Any) -> None:
        self.entered.append(time.monotonic())
        try:
            self._handler(envelope)
        finally:
            self.done += 1
            if self.done >= self._expected:
                self.finished.set()


# -- the run --------------------------------------------------------------------------------------


@contextmanager
def backends(args: argparse.Namespace, tmp: Path) -> Iterator[tuple[Broker, AnswerStream, str]]:
    if args.broker == "embedded":
        from guichet.ports.answer_streams.local import LocalAnswerStream
        from guichet.ports.brokers.memory import MemoryBroker

        broker = MemoryBroker(tmp / "queues")
        stream = LocalAnswerStream(tmp / "answer-events.sqlite3")
        try:
            yield broker, stream, "guichet.ask"
        finally:
            stream.close()
            broker.close()
        return
    from guichet.ports.answer_streams.rabbitmq import RabbitMQAnswerStream
    from guichet.ports.brokers.rabbitmq import RabbitMQBroker

    queue, prefix = unique("bench-worker-ask"), unique("bench-worker-live")
    rabbit = RabbitMQBroker(args.amqp_url)
    live = RabbitMQAnswerStream(args.amqp_url, shards=2, prefix=prefix)
    try:
        yield rabbit, live, queue
    finally:
        live.close()
        rabbit.close()
        delete_queues(args.amqp_url, [queue, *live.streams])


def jobs(n: int) -> list[AskJob]:
    cases = load_cases(QUESTIONS)
    return [
        AskJob(new_answer_id(), str(c["question"]), str(c.get("audience") or "particuliers"))
        for c in (cases[i % len(cases)] for i in range(n))
    ]


def run(args: argparse.Namespace) -> dict[str, Any]:
    cache_dir = args.cache_dir
    with tempfile.TemporaryDirectory(prefix="guichet-worker-bench-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        index, how = cached_index(cache_dir or tmp, args.chunks)
        stack.callback(index.close)
        chunks = index.chunk_count()
        note(f"index: {chunks:,} chunks ({how})")
        broker, stream, queue = stack.enter_context(backends(args, tmp))
        llm = stack.enter_context(FakeOpenAIServer(REPLY, delta_chars=40))
        model = OpenAICompatChatModel(llm.url)
        stack.callback(model.close)
        embedder = TimedEmbedder(BundledE5Embedder())
        retriever = TimedRetriever(index, embedder)
        stop = threading.Event()
        log = Intervals()
        stack.enter_context(timed_guard(log))
        answers = AnswerRepository(TimedStore(LocalObjectStore(tmp / "answers"), log))
        # It times the generation path: every question counts as covered (the synthetic index would
        # make the abstention rule decline them before any model call).
        always = CoverageRule(min_term_coverage=0.0, min_cosine={}, min_term_coverage_without_agreement=0.0)
        options = replace(answer_options(Settings()), coverage=always)
        answerer = Answerer(retriever, index, model, options, stop)
        handler = AnswerJobHandler(answers, TimedStream(stream, log), answerer, max_deliveries=5)
        batch = jobs(args.warmup + args.jobs)
        probe = Probe(handler, len(batch))
        broker.declare(queue)
        for job in batch:  # all enqueued before the consumer starts: publishing does not disturb it
            answers.put(AnswerRecord.queued(job))
            broker.publish(queue, job.to_json(), message_id=job.id)
        note(f"{len(batch)} jobs ({args.warmup} warm-up) through AnswerJobHandler on {args.broker} ...")
        started = time.perf_counter()
        consumer = consume_in_thread(broker, queue, probe, stop)
        finished = probe.finished.wait(timeout=args.timeout)
        wall = time.perf_counter() - started
        stop.set()
        consumer.join(timeout=30)
        if not finished or consumer.error is not None:
            raise RuntimeError(f"{probe.done}/{len(batch)} jobs handled ({consumer.error!r})")
        records = [answers.get(job.id) for job in batch]
        return figures(args, chunks, probe, llm, (embedder, retriever, log), records, wall)


def figures(
    args: argparse.Namespace,
    chunks: int,
    probe: Probe,
    llm: FakeOpenAIServer,
    timers: tuple[TimedEmbedder, TimedRetriever, Intervals],
    records: list[AnswerRecord | None],
    wall: float,
) -> dict[str, Any]:
    embedder, retriever, log = timers
    requests = llm.requests
    n = len(probe.entered)
    if not (len(requests) == n == len(retriever.seconds) == len(embedder.seconds)):
        raise RuntimeError(f"{n} jobs, {len(requests)} chat requests: each job must make exactly one")
    modes = sorted({r.mode or "?" for r in records if r is not None})
    skip = args.warmup
    total = [r.at - t for r, t in zip(requests, probe.entered, strict=True)][skip:]
    embed = embedder.seconds[skip:]
    search = retriever.seconds[skip:]
    evidence = [
        max(0.0, (r.timings.retrieval_s if r else 0.0) - s)
        for r, s in zip(records[skip:], search, strict=True)
    ]
    windows = list(zip(probe.entered, [r.at for r in requests], strict=True))[skip:]
    writes = [log.within("records", a, b) for a, b in windows]
    events = [log.within("events", a, b) for a, b in windows]
    guard = [log.within("guard", a, b) for a, b in windows]
    accounted = zip(search, evidence, writes, events, guard, strict=True)
    rest = [t - sum(parts) for t, parts in zip(total, accounted, strict=True)]
    parts = {
        "dequeue → first LLM request": total,
        "  retrieval (embedding + search)": search,
        "    query embedding (bundled e5)": embed,
        "    index search": [s - e for s, e in zip(search, embed, strict=True)],
        "  evidence (fiche metadata)": evidence,
        "  answer record read + write (local folder)": writes,
        "  status + sources events (answer stream)": events,
        "  output guard set-up (facts of the extracts)": guard,
        "  rest (prompt, HTTP request, threads)": rest,
    }
    return {
        "chunks": chunks,
        "jobs": len(total),
        "broker": args.broker,
        "answer_modes": modes,
        "jobs_per_s_end_to_end": round(n / wall, 1),
        "stages": {name: latency(values) for name, values in parts.items()},
    }


def latency(seconds: list[float]) -> dict[str, float]:
    return {k: v for k, v in stats(seconds, 0).items() if k != "per_s"}


def report(result: dict[str, Any]) -> str:
    head = (
        f"answer worker, {result['chunks']:,} chunks, {result['jobs']} jobs on {result['broker']}, "
        f"one consumer (answers: {', '.join(result['answer_modes'])}; "
        f"{result['jobs_per_s_end_to_end']} jobs/s with a 0 ms fake LLM)"
    )
    rows = [
        [name, s["p50_ms"], s["p95_ms"], s["p99_ms"], s["max_ms"]] for name, s in result["stages"].items()
    ]
    return f"{head}\n{table(['per job', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'], rows)}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--jobs", type=int, default=100, help="measured jobs")
    parser.add_argument(
        "--warmup", type=int, default=3, help="unmeasured first jobs (model and matrix loads)"
    )
    parser.add_argument("--broker", choices=("rabbitmq", "embedded"), default="rabbitmq")
    parser.add_argument("--amqp-url", default=DEFAULT_AMQP_URL)
    parser.add_argument(
        "--cache-dir", type=Path, default=REPO / ".data" / "bench", help="where the index is kept"
    )
    parser.add_argument("--no-cache", action="store_true", help="build the index in a temporary folder")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for all jobs")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 500 chunks, 5 jobs, no cache")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.chunks, args.jobs, args.warmup, args.no_cache = 500, 5, 1, True
    if args.no_cache:
        args.cache_dir = None
    return args


def main() -> int:
    args = parse_args()
    result = run(args)
    emit(result, report(result), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
