"""Token relay latency, worker → answer stream → `guichet function` → SSE client, on each stream backend.

Usage: python benchmarks/token_relay.py [--backends rabbitmq,local] [--answers 4] [--tokens 200]
                                        [--interval 0.02] [--phases paced,burst] [--json]

For each backend a real `guichet function` process serves GET /v1/answers/{id}/stream. This process
writes --answers queued records into the answers store (a local folder the function reads too) and
opens one SSE client per answer (httpx, asyncio); a second process plays the answer worker: one thread
per answer publishes through the AnswerStream port with guichet's EventWriter (so each event's ts is set
just before its confirmed publish, as in the worker): a "running" status, then --tokens tokens, then
"done". Tokens start once every client has received the status event (its subscription is live), so the
figures measure the steady relay, not the catch-up of a late subscriber. Latency = the client's
receive time − the event's ts (same machine, same clock), for the tokens and the final event.
Phases: paced (one token every --interval seconds per answer, a generating model) and burst (as fast as
the publisher can: the relay's throughput). Backends: RabbitMQ streams (production; 4 shards, read
once by the function's relay, ADR 0019) and the local SQLite stream (embedded; another process's
events are seen at its next poll, every 50 ms). Everything shares the machine's cores, unpinned.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from _ask_common import (
    DEFAULT_AMQP_URL,
    UNLIMITED,
    advisor_key,
    base_env,
    emit,
    guichet_function,
    note,
    stats,
    table,
    unique,
)

from guichet.answer.live_events import EventWriter
from guichet.answer.record import AnswerRecord, AskJob, new_answer_id
from guichet.answer.store import AnswerRepository
from guichet.ports.answer_stream import AnswerEvent, AnswerStream
from guichet.ports.stores.local import LocalObjectStore
from guichet.testing.helpers import delete_queues, free_port

SHARDS = 4
Key = tuple[str, int]  # (answer id, seq)


# -- the worker's side, in a process of its own ---------------------------------------------------


class RecordingStream:
    """The port, recording each event's ts once its publish returned (confirmed)."""

    def __init__(self, inner: AnswerStream) -> None:
        self.inner = inner
        self.ts: dict[Key, float] = {}

    def publish(self, event: AnswerEvent) -> None:
        self.inner.publish(event)
        self.ts[(event.answer_id, event.seq)] = event.ts

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def open_stream(spec: dict[str, str]) -> AnswerStream:
    if spec["backend"] == "rabbitmq":
        from guichet.ports.answer_streams.rabbitmq import RabbitMQAnswerStream

        return RabbitMQAnswerStream(spec["amqp_url"], shards=SHARDS, prefix=spec["prefix"])
    from guichet.ports.answer_streams.local import LocalAnswerStream

    return LocalAnswerStream(Path(spec["path"]))


def play_worker(
    spec: dict[str, str], jobs: list[AskJob], tokens: int, interval: float, go: Any, out: Any
) -> None:
    """Publishes each answer's events from a thread of its own; sends back {key: ts} on out."""
    stream = RecordingStream(open_stream(spec))
    writers = [EventWriter(stream, job.id, 1) for job in jobs]
    for writer in writers:
        writer.emit("status", {"status": "running", "attempt": 1})
    if not go.wait(120):
        out.put({})
        return

    def generate(writer: EventWriter, job: AskJob) -> None:
        started = time.perf_counter()
        for i in range(tokens):
            writer.token(f"mot{i} ")
            wait = started + (i + 1) * interval - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        record = AnswerRecord.queued(job)
        writer.final(replace(record, status="done", answer="…", attempt=1))

    threads = [threading.Thread(target=generate, args=(w, j)) for w, j in zip(writers, jobs, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stream.close()
    out.put(stream.ts)


# -- the readers' side ----------------------------------------------------------------------------


async def read_stream(client: httpx.AsyncClient, answer_id: str, received: dict[Key, float]) -> None:
    """Every frame's arrival time by (answer, seq), taken at its `id:` line; returns after "done"."""
    async with client.stream("GET", f"/v1/answers/{answer_id}/stream") as response:
        response.raise_for_status()
        kind = ""
        async for line in response.aiter_lines():
            now = time.time()
            if line.startswith("id:"):
                _attempt, _, seq = line.removeprefix("id:").strip().partition("-")
                if seq.isdigit():
                    received[(answer_id, int(seq))] = now
            elif line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
            elif line.startswith("data:") and kind in ("done", "error"):
                return


async def read_all(url: str, key: str, jobs: list[AskJob], go: Any, timeout: float) -> dict[Key, float]:
    received: dict[Key, float] = {}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, timeout=timeout, headers=headers) as client:
        tasks = [asyncio.create_task(read_stream(client, job.id, received)) for job in jobs]
        deadline = time.monotonic() + timeout
        while not all((job.id, 0) in received for job in jobs):  # every subscription is live
            if time.monotonic() > deadline or any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.005)
        go.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout)
    return received


def run_phase(
    url: str, key: str, spec: dict[str, str], answers_dir: Path, args: argparse.Namespace, interval: float
) -> dict[str, Any]:
    repository = AnswerRepository(LocalObjectStore(answers_dir))
    jobs = [AskJob(new_answer_id(), f"question {i}") for i in range(args.answers)]
    for job in jobs:
        repository.put(AnswerRecord.queued(job))
    context = mp.get_context("spawn")
    go, out = context.Event(), context.Queue()
    worker = context.Process(target=play_worker, args=(spec, jobs, args.tokens, interval, go, out))
    worker.start()
    try:
        received = asyncio.run(read_all(url, key, jobs, go, args.timeout))
        published: dict[Key, float] = out.get(timeout=args.timeout)
    finally:
        worker.join(timeout=30)
        if worker.is_alive():
            worker.kill()
    measured = [key for key in published if key[1] > 0]  # seq 0 only opened the subscription
    latencies = [received[k] - published[k] for k in measured if k in received]
    first = min(published[k] for k in measured)
    last = max(received[k] for k in measured if k in received)
    figures = stats(latencies, last - first)
    publishing = max(published[k] for k in measured) - first
    offered = round(len(measured) / publishing, 1) if publishing > 0 else 0.0
    return {**figures, "lost": len(measured) - len(latencies), "published_per_s": offered}


def backend_env(
    backend: str, args: argparse.Namespace, tmp: Path, names: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The function's environment and the worker's stream spec for this backend."""
    data = tmp / f"data-{backend}"
    env = {
        **base_env(),
        "GUICHET_DATA_DIR": str(data),
        "GUICHET_ANSWERS_URL": str(tmp / "answers"),
        "GUICHET_ASK_QUEUE": names["ask"],
        "GUICHET_INDEX_QUEUE": names["index"],
        **UNLIMITED,
    }
    if backend == "local":
        return env, {"backend": "local", "path": str(data / "answer-events.sqlite3")}
    env |= {
        "GUICHET_BROKER_URL": args.amqp_url,
        "GUICHET_ANSWER_STREAM_PREFIX": names["streams"],
        "GUICHET_ANSWER_STREAM_SHARDS": str(SHARDS),
    }
    return env, {"backend": "rabbitmq", "amqp_url": args.amqp_url, "prefix": names["streams"]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    names = {
        "ask": unique("bench-relay-ask"),
        "index": unique("bench-relay-index"),
        "streams": unique("bench-relay"),
    }
    intervals = {"paced": args.interval, "burst": 0.0}
    with tempfile.TemporaryDirectory(prefix="guichet-relay-bench-") as tmp_name:
        tmp = Path(tmp_name)
        key = advisor_key(LocalObjectStore(tmp / "answers"))  # one: a replica re-reads keys once a second
        try:
            for backend in args.backends:
                env, spec = backend_env(backend, args, tmp, names)
                port = free_port()
                note(f"starting guichet function ({backend} answer stream)")
                function = guichet_function(env, port, tmp / f"function-{backend}.log", None)
                try:
                    for phase in args.phases:
                        note(f"{backend}, {phase}: {args.answers} answers × {args.tokens} tokens")
                        figures = run_phase(
                            f"http://127.0.0.1:{port}", key, spec, tmp / "answers", args, intervals[phase]
                        )
                        rows.append({"backend": backend, "phase": phase, **figures})
                finally:
                    function.stop()
        finally:
            if "rabbitmq" in args.backends:
                streams = [f"{names['streams']}.{n}" for n in range(SHARDS)]
                delete_queues(args.amqp_url, [names["ask"], names["index"], *streams])
    offered = args.answers / args.interval if args.interval > 0 else 0.0
    return {
        "answers": args.answers,
        "tokens": args.tokens,
        "interval_s": args.interval,
        "paced_offered_per_s": offered,
        "rows": rows,
    }


def report(result: dict[str, Any]) -> str:
    head = (
        f"token relay, worker process → stream → guichet function → SSE client: {result['answers']} answers "
        f"× {result['tokens']} tokens; paced = one token / {result['interval_s'] * 1000:.0f} ms per answer "
        f"({result['paced_offered_per_s']:.0f} events/s offered), burst = as fast as published"
    )
    rows = [
        [
            f"{r['backend']}, {r['phase']}",
            r["n"],
            r["lost"],
            r["p50_ms"],
            r["p95_ms"],
            r["p99_ms"],
            r["max_ms"],
            r["published_per_s"],
            r["per_s"],
        ]
        for r in result["rows"]
    ]
    headers = [
        "stream, phase",
        "events",
        "lost",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "published/s",
        "relayed/s",
    ]
    return f"{head}\n{table(headers, rows)}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--amqp-url", default=DEFAULT_AMQP_URL)
    parser.add_argument("--backends", type=lambda s: s.split(","), default=["rabbitmq", "local"])
    parser.add_argument("--phases", type=lambda s: s.split(","), default=["paced", "burst"])
    parser.add_argument("--answers", type=int, default=4, help="concurrent answers (SSE clients)")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per answer")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between tokens, paced phase")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 answers × 20 tokens")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.answers, args.tokens, args.interval = 2, 20, 0.01
    if set(args.backends) - {"rabbitmq", "local"} or set(args.phases) - {"paced", "burst"}:
        parser.error("--backends: rabbitmq,local ; --phases: paced,burst")
    return args


def main() -> int:
    args = parse_args()
    result = run(args)
    emit(result, report(result), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
