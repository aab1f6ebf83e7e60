"""The ask-path benchmarks run end to end in a tiny configuration (--quick), so that they cannot rot.

Only their shape is checked (every phase measured, nothing lost); their figures belong to the benchmarks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_quick(script: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", "--json", *args],
        capture_output=True, text=True, timeout=300, cwd=BENCHMARKS.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_ask_latency_measures_every_phase_against_the_raw_publish(amqp_url: str) -> None:
    pinning = [] if {0, 1} <= os.sched_getaffinity(0) else ["--no-pin"]
    result = run_quick("ask_latency.py", "--amqp-url", amqp_url, *pinning)
    phases = {(row["phase"], row["clients"]) for row in result["rows"] if row["n"] > 0}
    for clients in (1, 2):
        for phase in ("raw publish", "ask, answers local folder", "ask, answers S3 (moto)"):
            assert (phase, clients) in phases
    assert len(result["ratios"]) == 4 and all(r["p50_ratio"] > 0 for r in result["ratios"])


def test_worker_overhead_times_each_job_to_its_llm_request(amqp_url: str) -> None:
    result = run_quick("worker_overhead.py", "--amqp-url", amqp_url)
    assert result["jobs"] == 5 and result["answer_modes"] == ["generated"]
    total = result["stages"]["dequeue → first LLM request"]
    assert total["n"] == 5 and total["p50_ms"] > 0


def test_token_relay_delivers_every_event_on_both_streams(amqp_url: str) -> None:
    result = run_quick("token_relay.py", "--amqp-url", amqp_url)
    rows = {(row["backend"], row["phase"]): row for row in result["rows"]}
    assert set(rows) == {(b, p) for b in ("rabbitmq", "local") for p in ("paced", "burst")}
    for row in rows.values():
        assert row["lost"] == 0 and row["n"] == 2 * (20 + 1)  # the tokens and "done", per answer


def test_sse_relay_completes_every_stream_and_measures_the_function(amqp_url: str) -> None:
    result = run_quick("sse_relay.py", "--amqp-url", amqp_url)
    assert [row["completed"] for row in result["cpu"]] == [row["answers"] for row in result["cpu"]]
    assert all(row["function_cpu_s"] > 0 for row in result["cpu"])
    streams = result["streams"]
    assert streams["live"] == streams["completed"] == streams["streams"] == 50
    assert streams["threads_open"] > 0 and streams["rss_mib_open"] > 0
