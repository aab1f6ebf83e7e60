"""The answer-stream relay of one `guichet function` process at scale: CPU per answer and open streams.

Usage: python benchmarks/sse_relay.py [--phases cpu,streams] [--demarches 800000] [--duration 30]
                                      [--tokens 90] [--interval 0.1] [--streams 1000] [--quick]
                                      [--check] [--json]

Real RabbitMQ (4 answer-stream shards, names of its own), a real `guichet function` process serving
GET /v1/answers/{id}/stream, answer records in a local folder. A second process plays the answer workers:
for each answer, a "running" status, --tokens token events one every --interval seconds, then "done",
through the AnswerStream port (90 events: the simulator's 360 tokens in chunks of 4; 0.1 s apart, 9 s an
answer, slower than the simulated H100's 2.4 s: more streams are open at once, the harder case).
This process creates each answer's record and opens its SSE stream at once (the advisor's page does the
same right after POST /v1/ask), at a steady rate.

- cpu: answers arrive at 1 × then 3 × the peak of the capacity model (--demarches per month) for
  --duration seconds each. Figure: the function's CPU-seconds (user + system, /proc) per completed answer.
  Target: the 3 × figure ≤ 1.2 × the 1 × figure (the relay's cost must not grow with the number of open
  streams of the same shard).
- streams: --streams SSE streams open at once on one function process, each live (its "running" event
  received). Figures: the function's threads and resident memory before, with every stream open, and after
  they end. Targets: threads ≤ 64 with every stream open (bounded, not one per stream) and ≤ 100 KiB of
  resident memory per open stream.

Everything shares the machine's cores with whatever else runs there: ratios within one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import multiprocessing as mp
import os
import queue
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
    table,
    unique,
)

from guichet.answer.live_events import EventWriter
from guichet.answer.record import AnswerRecord, AskJob, new_answer_id
from guichet.answer.store import AnswerRepository
from guichet.capacity.simulator import load_profile
from guichet.capacity.sizing import Inputs, size
from guichet.ports.answer_streams.rabbitmq import RabbitMQAnswerStream
from guichet.ports.stores.local import LocalObjectStore
from guichet.testing.helpers import delete_queues, free_port

SHARDS = 4
PUBLISH_THREADS = 8
CPU_RATIO_TARGET = 1.2
THREADS_TARGET = 64
KIB_PER_STREAM_TARGET = 100.0
_TICK = os.sysconf("SC_CLK_TCK")


# -- the answer workers, in a process of their own --------------------------------------------------


def play_workers(spec: dict[str, Any], jobs: Any) -> None:
    """Plays every job received on jobs (None ends the input) through PUBLISH_THREADS schedulers."""
    stream = RabbitMQAnswerStream(spec["amqp_url"], shards=SHARDS, prefix=spec["prefix"])
    inboxes: list[queue.Queue[Any]] = [queue.Queue() for _ in range(PUBLISH_THREADS)]
    threads = [
        threading.Thread(target=_schedule, args=(stream, inbox, spec["tokens"], spec["interval"]))
        for inbox in inboxes
    ]
    for thread in threads:
        thread.start()
    n = 0
    while (job := jobs.get()) is not None:
        inboxes[n % PUBLISH_THREADS].put(job)
        n += 1
    for inbox in inboxes:
        inbox.put(None)
    for thread in threads:
        thread.join()
    stream.close()


def _schedule(stream: RabbitMQAnswerStream, inbox: queue.Queue[Any], tokens: int, interval: float) -> None:
    """Publishes the events of its answers when due: (due, n, writer, record, tokens left) in a heap."""
    heap: list[tuple[float, int, EventWriter, AnswerRecord, int]] = []
    counter, ending = 0, False
    while heap or not ending:
        timeout = max(0.0, heap[0][0] - time.monotonic()) if heap else None
        try:
            job = inbox.get(timeout=timeout) if not ending else None
            if job is None:
                ending = True
            else:
                record = AnswerRecord.queued(AskJob(job[0], "question", created_at=job[1]))
                writer = EventWriter(stream, record.id, 1)
                writer.emit("status", {"status": "running", "attempt": 1})
                counter += 1
                heapq.heappush(heap, (time.monotonic() + interval, counter, writer, record, tokens))
            continue
        except queue.Empty:
            pass
        _due, n, writer, record, left = heapq.heappop(heap)
        if left > 0:
            writer.token(f"mot{left} ")
            heapq.heappush(heap, (time.monotonic() + interval, n, writer, record, left - 1))
        else:
            writer.final(replace(record, status="done", answer="…", attempt=1))
        if ending and not heap:
            return


# -- the function process, seen from /proc ---------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def status(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "Threads"):
            values[name] = int(value.split()[0])
    return {"threads": values["Threads"], "rss_kib": values["VmRSS"]}


# -- the readers -----------------------------------------------------------------------------------


async def read_until_done(client: httpx.AsyncClient, answer_id: str, live: set[str], done: set[str]) -> None:
    try:
        async with client.stream("GET", f"/v1/answers/{answer_id}/stream") as response:
            if response.status_code != 200:
                return
            kind = ""
            async for line in response.aiter_lines():
                if line.startswith("id: 1-0"):
                    live.add(answer_id)
                elif line.startswith("event:"):
                    kind = line.removeprefix("event:").strip()
                elif line.startswith("data:") and kind in ("done", "error"):
                    done.add(answer_id)
                    return
    except httpx.HTTPError:
        return


def new_job(answers: AnswerRepository) -> AskJob:
    job = AskJob(new_answer_id(), "question")
    answers.put(AnswerRecord.queued(job))
    return job


async def arrivals(
    url: str, key: str, answers: AnswerRepository, jobs: Any, rate: float, duration: float, timeout: float
) -> tuple[int, int]:
    """Answers at rate per second for duration s, each read over SSE until done: (opened, completed)."""
    live: set[str] = set()
    done: set[str] = set()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, timeout=timeout, headers=headers, limits=limits) as client:
        tasks = []
        start, n = time.monotonic(), int(rate * duration)
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            job = new_job(answers)
            tasks.append(asyncio.create_task(read_until_done(client, job.id, live, done)))
            jobs.put((job.id, job.created_at))
        await asyncio.wait(tasks, timeout=timeout)
    return n, len(done)


def run_cpu(url: str, key: str, answers: AnswerRepository, spec: dict[str, Any], pid: int,
            args: argparse.Namespace, peak: float) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for multiple in (1, 3):
        rate = multiple * peak
        note(f"cpu: {rate:.2f} answers/s for {args.duration:g} s")
        context = mp.get_context("spawn")
        jobs = context.Queue()
        worker = context.Process(target=play_workers, args=(spec, jobs))
        worker.start()
        before, t0 = cpu_seconds(pid), time.monotonic()
        try:
            opened, completed = asyncio.run(
                arrivals(url, key, answers, jobs, rate, args.duration, args.timeout)
            )
        finally:
            jobs.put(None)
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
        cpu, wall = cpu_seconds(pid) - before, time.monotonic() - t0
        rows.append({
            "load": f"{multiple} × peak", "rate": round(rate, 2), "answers": opened, "completed": completed,
            "function_cpu_s": round(cpu, 2), "cpu_s_per_answer": round(cpu / max(1, completed), 4),
            "function_cores": round(cpu / wall, 2),
        })  # fmt: skip
    return rows


async def hold_streams(
    url: str, key: str, answers: AnswerRepository, stream: RabbitMQAnswerStream, n: int, pid: int,
    timeout: float,
) -> dict[str, Any]:  # fmt: skip
    live: set[str] = set()
    done: set[str] = set()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {key}"}
    before = status(pid)
    jobs = [new_job(answers) for _ in range(n)]
    writers = [EventWriter(stream, job.id, 1) for job in jobs]
    async with httpx.AsyncClient(base_url=url, timeout=timeout, headers=headers, limits=limits) as client:
        tasks = [asyncio.create_task(read_until_done(client, job.id, live, done)) for job in jobs]
        await asyncio.to_thread(_publish_all, writers, "status")
        deadline = time.monotonic() + timeout
        while len(live) < n and time.monotonic() < deadline and not all(t.done() for t in tasks):
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        held = status(pid)
        opened = len(live)
        await asyncio.to_thread(_publish_all, writers, "done")
        await asyncio.wait(tasks, timeout=timeout)
    await asyncio.sleep(2.0)
    after = status(pid)
    per_stream = (held["rss_kib"] - before["rss_kib"]) / max(1, opened)
    return {
        "streams": n, "live": opened, "completed": len(done),
        "threads_before": before["threads"], "threads_open": held["threads"],
        "threads_after": after["threads"], "rss_mib_before": round(before["rss_kib"] / 1024, 1),
        "rss_mib_open": round(held["rss_kib"] / 1024, 1), "rss_mib_after": round(after["rss_kib"] / 1024, 1),
        "kib_per_stream": round(per_stream, 1),
    }  # fmt: skip


def _publish_all(writers: list[EventWriter], kind: str) -> None:
    for writer in writers:
        if kind == "status":
            writer.emit("status", {"status": "running", "attempt": 1})
        else:
            writer.emit("done", {"status": "done"})


def run(args: argparse.Namespace) -> dict[str, Any]:
    peak = size(Inputs(monthly_demarches=args.demarches), load_profile()).peak_asks_per_s
    names = {
        "ask": unique("bench-sse-ask"),
        "index": unique("bench-sse-index"),
        "streams": unique("bench-sse"),
    }
    result: dict[str, Any] = {"peak": round(peak, 3), "tokens": args.tokens, "interval": args.interval}
    with tempfile.TemporaryDirectory(prefix="guichet-sse-bench-") as tmp_name:
        tmp = Path(tmp_name)
        answers = AnswerRepository(LocalObjectStore(tmp / "answers"))
        key = advisor_key(LocalObjectStore(tmp / "answers"))
        env = {
            **base_env(), **UNLIMITED,
            "GUICHET_DATA_DIR": str(tmp / "data"), "GUICHET_ANSWERS_URL": str(tmp / "answers"),
            "GUICHET_ASK_QUEUE": names["ask"], "GUICHET_INDEX_QUEUE": names["index"],
            "GUICHET_BROKER_URL": args.amqp_url, "GUICHET_ANSWER_STREAM_PREFIX": names["streams"],
            "GUICHET_ANSWER_STREAM_SHARDS": str(SHARDS),
            # This benchmark measures the relay, not the caps: one bench site holds every stream.
            "GUICHET_STREAMS_PER_REPLICA": str(args.streams + 100),
            "GUICHET_STREAMS_PER_SITE": str(args.streams + 100),
        }  # fmt: skip
        spec = {"amqp_url": args.amqp_url, "prefix": names["streams"], "tokens": args.tokens,
                "interval": args.interval}  # fmt: skip
        port = free_port()
        note("starting guichet function (RabbitMQ answer stream)")
        function = guichet_function(env, port, tmp / "function.log", None)
        url, pid = f"http://127.0.0.1:{port}", function.popen.pid
        stream = RabbitMQAnswerStream(args.amqp_url, shards=SHARDS, prefix=names["streams"])
        try:
            if "cpu" in args.phases:
                result["cpu"] = run_cpu(url, key, answers, spec, pid, args, peak)
            if "streams" in args.phases:
                note(f"streams: {args.streams} open at once")
                result["streams"] = asyncio.run(
                    hold_streams(url, key, answers, stream, args.streams, pid, args.timeout)
                )
        finally:
            stream.close()
            function.stop()
            delete_queues(args.amqp_url, [names["ask"], names["index"]]
                          + [f"{names['streams']}.{n}" for n in range(SHARDS)])  # fmt: skip
    result["misses"] = misses(result)
    return result


def misses(result: dict[str, Any]) -> list[str]:
    out = []
    if "cpu" in result:
        one, three = (row["cpu_s_per_answer"] for row in result["cpu"])
        if three > CPU_RATIO_TARGET * one:
            out.append(f"CPU per answer at 3 × peak {three:.4f} s > {CPU_RATIO_TARGET} × {one:.4f} s")
        out += [f"{r['load']}: {r['answers'] - r['completed']} streams without done"
                for r in result["cpu"] if r["completed"] < r["answers"]]  # fmt: skip
    if "streams" in result:
        s = result["streams"]
        if s["threads_open"] > THREADS_TARGET:
            out.append(f"{s['threads_open']} threads with {s['live']} streams open > {THREADS_TARGET}")
        if s["kib_per_stream"] > KIB_PER_STREAM_TARGET:
            out.append(f"{s['kib_per_stream']} KiB per open stream > {KIB_PER_STREAM_TARGET}")
        if s["live"] < s["streams"] or s["completed"] < s["streams"]:
            out.append(f"{s['live']} live / {s['completed']} done of {s['streams']} streams")
    return out


def report(result: dict[str, Any]) -> str:
    parts = [
        f"SSE relay, one guichet function process, RabbitMQ ({SHARDS} shards); peak {result['peak']} "
        f"answers/s; answers of {result['tokens']} token events every {result['interval'] * 1000:.0f} ms"
    ]
    if "cpu" in result:
        rows = [[r["load"], r["rate"], r["answers"], r["completed"], r["function_cpu_s"],
                 f"{r['cpu_s_per_answer']:.4f}", r["function_cores"]] for r in result["cpu"]]  # fmt: skip
        parts.append(table(["load", "answers/s", "answers", "done", "function CPU-s", "CPU-s/answer",
                            "cores"], rows))  # fmt: skip
        one, three = (row["cpu_s_per_answer"] for row in result["cpu"])
        parts.append(f"ratio 3× / 1×: {three / max(one, 1e-9):.2f} (target ≤ {CPU_RATIO_TARGET})")
    if "streams" in result:
        s = result["streams"]
        parts.append(table(
            ["open streams", "live", "done", "threads before/open/after", "RSS MiB before/open/after",
             "KiB/stream"],
            [[s["streams"], s["live"], s["completed"],
              f"{s['threads_before']}/{s['threads_open']}/{s['threads_after']}",
              f"{s['rss_mib_before']}/{s['rss_mib_open']}/{s['rss_mib_after']}", s["kib_per_stream"]]],
        ))  # fmt: skip
        parts.append(f"targets: threads ≤ {THREADS_TARGET}, ≤ {KIB_PER_STREAM_TARGET:g} KiB per open stream")
    parts.append("misses: " + ("; ".join(result["misses"]) or "none"))
    return "\n\n".join(parts)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--amqp-url", default=DEFAULT_AMQP_URL)
    parser.add_argument("--phases", type=lambda s: s.split(","), default=["cpu", "streams"])
    parser.add_argument("--demarches", type=float, default=800_000)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of arrivals per load")
    parser.add_argument("--tokens", type=int, default=90)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 4 s per load, 50 streams")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.tokens, args.interval, args.streams = 4.0, 10, 0.05, 50
    if set(args.phases) - {"cpu", "streams"}:
        parser.error("--phases: cpu,streams")
    return args


def main() -> int:
    args = parse_args()
    result = run(args)
    emit(result, report(result), args.json)
    return 1 if args.check and result["misses"] else 0


if __name__ == "__main__":
    sys.exit(main())
