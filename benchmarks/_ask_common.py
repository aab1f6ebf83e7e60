"""Helpers shared by the ask-path benchmarks (ask_latency, worker_overhead, token_relay): processes,
RabbitMQ clean-up, latency summaries and output. Not part of the product."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pika
from _common import percentile

from guichet.access.keys import KeyRepository
from guichet.ports.store import ObjectStore
from guichet.testing.helpers import LoggedProcess, free_port

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
# Dummy credentials for moto: boto3 must never look for real ones.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def pin(cpus: set[int] | None) -> None:
    """Pins this process (and the threads it starts afterwards) to cpus; None leaves it alone."""
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


Process = LoggedProcess


def guichet_function(env: dict[str, str], port: int, log: Path, cpus: set[int] | None) -> Process:
    """`guichet function` (uvicorn, as deployed) on 127.0.0.1:port, ready to serve."""
    process = Process([sys.executable, "-m", "guichet", "function", "--port", str(port)], env, log, cpus)
    process.wait_http(f"http://127.0.0.1:{port}/healthz")
    return process


def moto_server(log: Path, cpus: set[int] | None) -> tuple[Process, str]:
    port = free_port()
    env = {**os.environ, **AWS_ENV}
    server = Process(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env, log, cpus
    )
    url = f"http://127.0.0.1:{port}"
    server.wait_http(f"{url}/moto-api/")
    return server, url


def purge(url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().queue_purge(queue)
    finally:
        connection.close()


def stats(latencies_s: Sequence[float], wall_s: float) -> dict[str, float]:
    """Latency percentiles in milliseconds and the rate over wall_s seconds."""
    ms = [x * 1000 for x in latencies_s]
    if not ms:
        return {"n": 0, "p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0, "per_s": 0.0}
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
        "per_s": round(len(ms) / wall_s, 1) if wall_s > 0 else 0.0,
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return str(value)


def note(message: str) -> None:
    """Progress, on stderr: stdout holds only the table (or the JSON object)."""
    print(message, file=sys.stderr, flush=True)


# Benchmarks run with access control on (its check is part of what they measure) but without rate limits:
# one bench "site" asks far more than a real one.
UNLIMITED = {"GUICHET_RATE_ASK_PER_MINUTE": "0", "GUICHET_RATE_READ_PER_MINUTE": "0"}


def advisor_key(answers_store: ObjectStore) -> str:
    """A new advisor key, written where the function reads its keys (the answers store)."""
    return KeyRepository(answers_store).create("bench", "advisor")[1]


def base_env() -> dict[str, str]:
    """This environment without any GUICHET_* setting: each benchmark sets the ones it measures."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}


def emit(result: dict[str, Any], text: str, as_json: bool) -> None:
    print(json.dumps(result, indent=2, ensure_ascii=False) if as_json else text, flush=True)
