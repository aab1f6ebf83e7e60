"""POST /v1/ask latency and asks/s, the function pinned to one core, against a raw pika publish.

Usage: python benchmarks/ask_latency.py [--seconds 5] [--clients 1,4] [--stores local,s3] [--json]

`guichet function` (uvicorn, as deployed) runs in its own process pinned to CPU 0; this process (the load
generator: httpx clients with keep-alive, one thread and one connection each) and the moto server are
pinned to CPU 1; RabbitMQ is not pinned (it is the machine's service). Each ask writes the queued answer
record to the answers store, then publishes the job with a publisher confirm to a durable quorum queue.
Measured in the same run, for each number of concurrent clients:
- raw publish: pika basic_publish of a message of the job's size on a confirm-mode channel, persistent,
  to the same quorum queue (one connection per client): the floor the ask path is compared with;
- store put: the answers store's put of a queued record alone (local folder: atomic write + fsync;
  S3 on a moto server, which is much slower than MinIO: its figures are moto's, not S3's);
- GET /healthz on the same function: the HTTP floor (uvicorn, FastAPI, its middleware, the access log);
- ask: POST /v1/ask end to end (HTTP, site key check, validation, record put, confirmed publish, 202).
Nobody consumes the queue: it is purged before each phase and deleted at the end (unique names).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pika
from _ask_common import (
    AWS_ENV,
    DEFAULT_AMQP_URL,
    UNLIMITED,
    Process,
    advisor_key,
    base_env,
    emit,
    guichet_function,
    moto_server,
    note,
    pin,
    purge,
    stats,
    table,
    unique,
)

from guichet.answer.record import AnswerRecord, AskJob, new_answer_id
from guichet.ports.brokers.rabbitmq import RabbitMQBroker
from guichet.ports.store import ObjectStore
from guichet.ports.stores.local import LocalObjectStore
from guichet.ports.stores.s3 import S3ObjectStore
from guichet.testing.helpers import delete_queues, free_port

QUESTION = "Comment renouveler une carte d'identité périmée ?"
PAYLOAD = {"question": QUESTION, "audience": "particuliers"}
FUNCTION_CPUS, LOAD_CPUS = {0}, {1}

Op = Callable[[], None]
Client = tuple[Op, Callable[[], None]]  # (one timed operation, close)


def timed_phase(
    make_op: Callable[[], Client], clients: int, warmup: float, seconds: float
) -> dict[str, float]:
    """clients threads run op() back to back; latencies of the ops started in the measured window."""
    barrier = threading.Barrier(clients + 1)
    results: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    window: list[float] = []

    def run(slot: int) -> None:
        try:
            op, close = make_op()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()  # the other threads and the caller stop waiting
            return
        try:
            barrier.wait()
            start, end = window
            while (t0 := time.perf_counter()) < end:
                op()
                if t0 >= start:
                    results[slot].append(time.perf_counter() - t0)
        except BaseException as exc:
            errors.append(exc)
        finally:
            close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    window.extend([now + warmup, now + warmup + seconds])
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return stats([x for r in results for x in r], seconds)


def raw_publisher(amqp_url: str, queue: str, body: bytes) -> Client:
    """What RabbitMQBroker.publish sends (_rabbitmq_channel.SharedChannel), on a connection of its own."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()

    def op() -> None:
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=uuid.uuid4().hex,
            timestamp=int(time.time()),
            headers={},
        )
        channel.basic_publish("", queue, body, properties, mandatory=True)

    return op, connection.close


def store_putter(store: ObjectStore) -> Client:
    def op() -> None:
        record = AnswerRecord.queued(AskJob(new_answer_id(), QUESTION))
        store.put(f"answers/{record.id}.json", record.to_json(), "application/json")

    return op, lambda: None


def asker(url: str, key: str) -> Client:
    client = httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"})

    def op() -> None:
        response = client.post("/v1/ask", json=PAYLOAD)
        if response.status_code != 202:
            raise RuntimeError(f"POST /v1/ask → {response.status_code} {response.text[:300]}")

    return op, client.close


def getter(url: str, path: str) -> Client:
    client = httpx.Client(base_url=url, timeout=30)

    def op() -> None:
        client.get(path).raise_for_status()

    return op, client.close


class Bench:
    """The function processes (one per answers store), the stores' direct clients, the queue."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args, self.tmp = args, tmp
        self.queue, self.index_queue = unique("bench-ask"), unique("bench-index")
        self.processes: list[Process] = []
        self.functions: dict[str, str] = {}
        self.stores: dict[str, ObjectStore] = {}
        self.keys: dict[str, str] = {}  # an advisor key per function: access control is measured too

    def start(self) -> None:
        broker = RabbitMQBroker(self.args.amqp_url)  # same arguments as the function's (defaults)
        broker.declare(self.queue)
        broker.close()
        for name in self.args.stores:
            env = {**base_env(), **self._env(name)}
            self.keys[name] = advisor_key(self.stores[name])
            port = free_port()
            note(f"starting guichet function ({name} answers store), pinned to CPU {sorted(FUNCTION_CPUS)}")
            self.processes.append(
                guichet_function(env, port, self.tmp / f"function-{name}.log", self._cpus(FUNCTION_CPUS))
            )
            self.functions[name] = f"http://127.0.0.1:{port}"
            op, close = asker(self.functions[name], self.keys[name])
            for _ in range(20):  # the broker connection and the store client are built on first use
                op()
            close()

    def _env(self, store: str) -> dict[str, str]:
        env = {
            "GUICHET_DATA_DIR": str(self.tmp / f"data-{store}"),
            "GUICHET_BROKER_URL": self.args.amqp_url,
            "GUICHET_ASK_QUEUE": self.queue,
            "GUICHET_INDEX_QUEUE": self.index_queue,
            **UNLIMITED,
        }
        if store == "local":
            path = self.tmp / "answers-local"
            self.stores["local"] = LocalObjectStore(path)
            return {**env, "GUICHET_ANSWERS_URL": str(path)}
        moto, endpoint = moto_server(self.tmp / "moto.log", self._cpus(LOAD_CPUS))
        self.processes.append(moto)
        bucket = unique("bench-answers")
        self.stores["s3"] = S3ObjectStore(
            bucket, endpoint_url=endpoint, access_key="bench", secret_key="bench", create_bucket=True
        )
        return {
            **env,
            **AWS_ENV,
            "GUICHET_ANSWERS_URL": f"s3://{bucket}",
            "GUICHET_S3_ENDPOINT": endpoint,
            "GUICHET_S3_ACCESS_KEY": "bench",
            "GUICHET_S3_SECRET_KEY": "bench",
        }

    def _cpus(self, cpus: set[int]) -> set[int] | None:
        return None if self.args.no_pin else cpus

    def phases(self, body: bytes) -> list[tuple[str, Callable[[], Client]]]:
        out: list[tuple[str, Callable[[], Client]]] = [
            ("raw publish", partial(raw_publisher, self.args.amqp_url, self.queue, body))
        ]
        for name, store in self.stores.items():
            out.append((f"store put {label(name)}", partial(store_putter, store)))
        for name, url in self.functions.items():
            if name == self.args.stores[0]:
                out.append(("GET /healthz (HTTP floor)", partial(getter, url, "/healthz")))
            out.append((f"ask, answers {label(name)}", partial(asker, url, self.keys[name])))
        return out

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        delete_queues(self.args.amqp_url, [self.queue, self.index_queue])


def label(store: str) -> str:
    return "local folder" if store == "local" else "S3 (moto)"


def run(args: argparse.Namespace) -> dict[str, Any]:
    pin(None if args.no_pin else LOAD_CPUS)
    body = AskJob(new_answer_id(), QUESTION).to_json()
    with tempfile.TemporaryDirectory(prefix="guichet-ask-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            bench.start()
            rows: list[dict[str, Any]] = []
            for clients in args.clients:
                for name, make_op in bench.phases(body):
                    purge(args.amqp_url, bench.queue)
                    note(f"{name}, {clients} client(s): {args.warmup + args.seconds:.1f} s")
                    figures = timed_phase(make_op, clients, args.warmup, args.seconds)
                    rows.append({"phase": name, "clients": clients, **figures})
        finally:
            bench.stop()
    return {"message_bytes": len(body), "pinned": not args.no_pin, "rows": rows, "ratios": ratios(rows)}


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    raw = {r["clients"]: r for r in rows if r["phase"] == "raw publish"}
    out = []
    for row in rows:
        base = raw.get(row["clients"])
        if row["phase"].startswith("ask") and base and base["p50_ms"] > 0 and base["per_s"] > 0:
            out.append({
                "phase": row["phase"],
                "clients": row["clients"],
                "p50_ratio": round(row["p50_ms"] / base["p50_ms"], 2),
                "p99_ratio": round(row["p99_ms"] / base["p99_ms"], 2),
                "rate_ratio": round(row["per_s"] / base["per_s"], 2),
            })  # fmt: skip
    return out


def report(result: dict[str, Any]) -> str:
    where = "function on CPU 0, load generator and moto on CPU 1" if result["pinned"] else "not pinned"
    head = (
        f"POST /v1/ask vs raw confirmed publish ({result['message_bytes']}-byte job, quorum queue; {where})"
    )
    rows = [
        [r["phase"], r["clients"], r["n"], r["p50_ms"], r["p95_ms"], r["p99_ms"], r["per_s"]]
        for r in result["rows"]
    ]
    main = table(["phase", "clients", "n", "p50 ms", "p95 ms", "p99 ms", "ops/s"], rows)
    ratio_rows = [
        [r["phase"], r["clients"], r["p50_ratio"], r["p99_ratio"], r["rate_ratio"]] for r in result["ratios"]
    ]
    ratio = table(["ask / raw publish", "clients", "p50 ×", "p99 ×", "rate ×"], ratio_rows)
    return f"{head}\n{main}\n\n{ratio}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--amqp-url", default=DEFAULT_AMQP_URL)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each phase")
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4])
    parser.add_argument("--stores", type=lambda s: s.split(","), default=["local", "s3"], help="local,s3")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 s phases, 1 and 2 clients")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        # 1 s: an ask that re-reads the site keys from moto (every 5 s) must still fit in the window
        args.seconds, args.warmup, args.clients = 1.0, 0.1, [1, 2]
    if set(args.stores) - {"local", "s3"}:
        parser.error("--stores: local et/ou s3")
    if not args.no_pin and len(os.sched_getaffinity(0) & {0, 1}) < 2:
        parser.error("pinning needs CPUs 0 and 1 (or pass --no-pin)")
    return args


def main() -> int:
    args = parse_args()
    result = run(args)
    emit(result, report(result), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
